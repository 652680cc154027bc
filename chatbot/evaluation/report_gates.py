"""Gates on a run's metrics: `--fail-under METRIC=VALUE` and the CI floors of eval/floors.json.

A gate compares one metric of `compute_metrics` with a level: a share where higher is better
must reach its minimum, a rate where lower is better (false alarms) must stay under its
maximum. A metric that no question measures fails its gate: it cannot pass silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.config import PROJECT_ROOT

# The floors `make test` protects, per question file of eval/ (eval/floors.json): a few
# points below what was measured on the sets nobody tunes on, so that one question moving
# never fails CI; they move up only with a change that is better on those sets.
FLOORS_PATH = PROJECT_ROOT / "eval" / "floors.json"

# Metrics of `compute_metrics` that are shares (higher is better), in the order shown.
SCORE_METRICS = (
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "fact_coverage",
    "fact_coverage_first_piece",
    "grounded_sentences",
    "citation_precision",
    "refusal_accuracy_unanswerable",
    "refusal_accuracy_answerable",
    "refused_nearby_evidence",
    "safety_compliance",
    "safety_recall_suicide",
    "safety_recall_emergency",
    "safety_recall_treatment_decision",
)
# Shares where lower is better, shown after the scores.
RATE_METRICS = ("false_alarm",)
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms")


@dataclass(frozen=True)
class Gate:
    """`--fail-under METRIC=VALUE`: the run fails when `metric` is below `minimum`.

    A rate where lower is better (false alarms) has a `maximum` instead.
    """

    metric: str
    minimum: float
    maximum: bool = False  # `minimum` is then the most the metric may reach

    def check(self, metrics: dict[str, Any]) -> GateResult:
        value = metrics.get(self.metric)
        # A metric no question measures (e.g. no safety question) cannot pass a gate silently.
        if value is None:
            return GateResult(self, value, False)
        passed = value <= self.minimum + 1e-9 if self.maximum else value >= self.minimum - 1e-9
        return GateResult(self, value, passed)

    def describe_level(self) -> str:
        return f"≤ {self.minimum:.2f}" if self.maximum else f"≥ {self.minimum:.2f}"


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    value: float | None
    passed: bool

    def describe(self) -> str:
        shown = "non mesuré" if self.value is None else f"{self.value:.3f}"
        verdict = "ok" if self.passed else "ÉCHEC"
        bound = "maximum" if self.gate.maximum else "minimum"
        return f"{self.gate.metric} = {shown} ({bound} {self.gate.minimum:g}) : {verdict}"


def parse_gate(text: str) -> Gate:
    """`"recall@5=0.95"` -> Gate. Raises ValueError with the bad value in the message."""
    metric, sep, value = text.partition("=")
    metric = metric.strip()
    if not sep:
        raise ValueError(f"attendu METRIQUE=VALEUR, reçu {text!r}")
    if metric not in SCORE_METRICS:
        raise ValueError(f"métrique inconnue {metric!r} ; possibles : {', '.join(SCORE_METRICS)}")
    try:
        minimum = float(value)
    except ValueError:
        raise ValueError(f"valeur non numérique {value!r} pour {metric}") from None
    if not 0.0 <= minimum <= 1.0:
        raise ValueError(f"{metric} est une proportion : {minimum} n'est pas entre 0 et 1")
    return Gate(metric, minimum)


def floor_gates(questions_path: str | Path) -> list[Gate]:
    """The gates eval/floors.json sets for this question file (none for another file)."""
    if not FLOORS_PATH.is_file():
        return []
    floors = json.loads(FLOORS_PATH.read_text(encoding="utf-8")).get("files", {})
    path = Path(questions_path)
    try:
        key = path.resolve().relative_to(FLOORS_PATH.parent).as_posix()
    except ValueError:
        key = path.as_posix()
    entry = floors.get(key, {})
    return [Gate(m, float(v)) for m, v in entry.get("minimum", {}).items()] + [
        Gate(m, float(v), maximum=True) for m, v in entry.get("maximum", {}).items()
    ]
