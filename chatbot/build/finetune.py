"""Build-time: fine-tune the top layers of multilingual-e5-small on PIAF's training questions.

The task is the one the answer needs: among the sentences of a paragraph — and of other
paragraphs of the same article, natural near misses —, the question's vector must be closest
to the sentence that holds its answer. The loss is a cross-entropy over the candidates'
cosines / `TEMPERATURE`, the answer's sentences being the positives.

Only the top `TRAIN_LAYERS` layers learn; the embeddings and the layers below are frozen, so
their output is computed once per text and cached: on 2 CPU cores an epoch over the 3,156
training questions then takes minutes, not an hour. The trained layers are saved in float16
with a manifest (training data sha256, code commit, settings, validation scores); `model.py`
puts them over the assembled base model. Run with `make finetune`; never at run time.

Validation: the questions of PIAF's validation articles (piaf.py), never trained on, scored
the same way, before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.config import PROJECT_ROOT, Settings
from chatbot.evaluation import piaf
from chatbot.index.chunk import split_sentences
from chatbot.text.normalize import fold_for_match

TRAIN_LAYERS = 4
TEMPERATURE = 0.05
LEARNING_RATE = 5e-5
ACCUMULATE = 8  # questions per optimiser step
EPOCHS = 1
NEAR_MISSES = 6  # sentences of the article's other paragraphs added as candidates
SEED = 0
THREADS = 1
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "


@dataclass(frozen=True)
class Item:
    query: str
    candidates: tuple[str, ...]
    positives: tuple[int, ...]  # indices of the candidates that hold the answer


def items(split: str, rng: random.Random) -> list[Item]:
    """Each question with its paragraph's sentences and a few of its article's other ones."""
    articles = piaf.load_articles()
    sentences_of: dict[str, list[str]] = {}

    def sentences(paragraph: str) -> list[str]:
        if paragraph not in sentences_of:
            sentences_of[paragraph] = [s.text for s in split_sentences(paragraph) if len(s.text) > 20]
        return sentences_of[paragraph]

    out = []
    for q in piaf.questions(split):
        own = sentences(q.paragraph)
        others = [s for p in articles[q.article]["paragraphs"] if p["context"] != q.paragraph for s in sentences(p["context"])]
        near = rng.sample(others, min(NEAR_MISSES, len(others)))
        candidates = tuple(dict.fromkeys(own + near))
        positives = tuple(i for i, s in enumerate(candidates) if any(fold_for_match(a) in fold_for_match(s) for a in q.answers))
        if positives:
            out.append(Item(q.question, candidates, positives))
    return out


class LowerCache:
    """The frozen part's output for each text: computed once, reused at every epoch."""

    def __init__(self, model: Any, tokenizer: Any, frozen: int) -> None:
        self.model, self.tokenizer, self.frozen = model, tokenizer, frozen
        self._cache: dict[str, Any] = {}

    def fill(self, texts: list[str], batch: int = 32) -> None:
        import torch

        todo = sorted({t for t in texts if t not in self._cache}, key=len)
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            ids, mask = self._tokens(chunk)
            with torch.inference_mode():
                hidden = self.model.embeddings(input_ids=ids)
                for layer in self.model.encoder.layer[: self.frozen]:
                    hidden = layer(hidden, attention_mask=_additive(mask))
            for k, text in enumerate(chunk):
                n = int(mask[k].sum())
                self._cache[text] = hidden[k, :n].to(torch.float16).clone()

    def batch(self, texts: list[str]) -> tuple[Any, Any]:
        import torch

        rows = [self._cache[t] for t in texts]
        longest = max(r.shape[0] for r in rows)
        hidden = torch.zeros(len(rows), longest, rows[0].shape[1])
        mask = torch.zeros(len(rows), longest, dtype=torch.long)
        for k, r in enumerate(rows):
            hidden[k, : r.shape[0]] = r.float()
            mask[k, : r.shape[0]] = 1
        return hidden, mask

    def _tokens(self, texts: list[str]) -> tuple[Any, Any]:
        import torch

        enc = self.tokenizer.encode_batch(texts)
        return torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])


def _additive(mask: Any) -> Any:
    import torch

    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def upper(model: Any, frozen: int, hidden: Any, mask: Any) -> Any:
    """The trained layers, mean pooling and L2 norm: the vectors e5 gives."""
    import torch

    for layer in model.encoder.layer[frozen:]:
        hidden = layer(hidden, attention_mask=_additive(mask))
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def accuracy(model: Any, frozen: int, cache: LowerCache, data: list[Item]) -> float:
    """Share of questions whose closest candidate holds the answer."""
    import torch

    hits = 0
    with torch.inference_mode():
        for item in data:
            hidden, mask = cache.batch([QUERY_PREFIX + item.query] + [PASSAGE_PREFIX + c for c in item.candidates])
            v = upper(model, frozen, hidden, mask)
            hits += int(int(torch.argmax(v[1:] @ v[0])) in item.positives)
    return hits / max(1, len(data))


def train(settings: Settings, out_dir: Path, limit: int | None, epochs: int) -> dict[str, Any]:
    import torch

    from chatbot.index.embed import load_embedder

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    embedder = load_embedder(settings.cache_dir)
    model, tokenizer = embedder._loaded()  # noqa: SLF001 - the same weights the engine serves
    # One thread: small batches gain little from a second one, and when the machine is busy
    # its threads wait on each other (measured: 1.6 s a question with 2, 0.5 s with 1).
    torch.set_num_threads(THREADS)
    frozen = len(model.encoder.layer) - TRAIN_LAYERS
    train_items = items("train", rng)[:limit]
    valid_items = items("validation", random.Random(SEED))
    cache = LowerCache(model, tokenizer, frozen)
    t0 = time.perf_counter()
    for data in (train_items, valid_items):
        cache.fill([QUERY_PREFIX + i.query for i in data] + [PASSAGE_PREFIX + c for i in data for c in i.candidates])
    cache_s = time.perf_counter() - t0
    before = accuracy(model, frozen, cache, valid_items)
    print(f"cache {cache_s:.0f} s; validation before: {before:.3f}", file=sys.stderr, flush=True)

    trained = model.encoder.layer[frozen:]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in trained.parameters():
        p.requires_grad_(True)
    model.train()
    optimiser = torch.optim.AdamW(trained.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    history = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = list(range(len(train_items)))
        rng.shuffle(order)
        loss_sum = 0.0
        for step, k in enumerate(order, 1):
            item = train_items[k]
            hidden, mask = cache.batch([QUERY_PREFIX + item.query] + [PASSAGE_PREFIX + c for c in item.candidates])
            v = upper(model, frozen, hidden, mask)
            logits = (v[1:] @ v[0]) / TEMPERATURE
            positives = torch.tensor(item.positives)
            loss = torch.logsumexp(logits, 0) - torch.logsumexp(logits[positives], 0)
            (loss / ACCUMULATE).backward()
            loss_sum += float(loss.detach())
            if step % ACCUMULATE == 0 or step == len(order):
                optimiser.step()
                optimiser.zero_grad()
        model.eval()
        score = accuracy(model, frozen, cache, valid_items)
        model.train()
        history.append({"epoch": epoch + 1, "train_loss": round(loss_sum / len(order), 4), "validation": round(score, 4)})
        print(json.dumps(history[-1]), f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    model.eval()
    return save_layers(model, frozen, out_dir, embedder.path, {
        "what": f"multilingual-e5-small, top {TRAIN_LAYERS} layers fine-tuned on PIAF: the sentence that answers",
        "base_weights_sha256": embedder.weights_sha256,
        "layers": list(range(frozen, len(model.encoder.layer))),
        "training": {
            "data": f"PIAF v1.1 train half, training articles (piaf.py), {len(train_items)} questions",
            "data_sha256": _sha256(piaf.PIAF_FILE),
            "epochs": epochs, "learning_rate": LEARNING_RATE, "temperature": TEMPERATURE,
            "accumulate": ACCUMULATE, "near_misses": NEAR_MISSES, "seed": SEED,
            "seconds": round(time.perf_counter() - t0 + cache_s),
        },
        "validation": {
            "questions": len(valid_items),
            "what": "share of PIAF validation questions whose closest candidate sentence holds the answer",
            "before": round(before, 4), "history": history,
        },
        "code_commit": _git_commit(),
        "torch": torch.__version__,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })


def save_layers(model: Any, frozen: int, out_dir: Path, base_folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    import torch
    from safetensors.torch import save_file

    from chatbot.build.assemble import merge_layers

    out_dir.mkdir(parents=True, exist_ok=True)
    state = {
        f"encoder.layer.{frozen + k}.{name}": t.detach().to(torch.float16).contiguous()
        for k, layer in enumerate(model.encoder.layer[frozen:])
        for name, t in layer.state_dict().items()
    }
    path = out_dir / "layers.safetensors"
    save_file(state, str(path), metadata={"format": "pt"})
    manifest["file"] = path.name
    manifest["sha256"] = _sha256(path)
    # The model the engine will serve: base weights with these layers over them (model.py
    # rebuilds it at setup and checks it against this hash).
    with tempfile.TemporaryDirectory() as tmp:
        manifest["assembled_weights_sha256"] = merge_layers(
            base_folder / "model.safetensors", path, Path(tmp) / "model.safetensors"
        )
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fine-tune e5-small's top layers on PIAF (build time).")
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "models" / "e5-small-piaf")
    ap.add_argument("--limit", type=int, help="training questions (default: all)")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args(argv)
    manifest = train(Settings.from_env(), args.out, args.limit, args.epochs)
    print(json.dumps(manifest["validation"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
