"""Build-time: fine-tune the top layers of multilingual-e5-small on PIAF's training questions.

The task is the one the answer needs (finetune_task.py): among the sentences of a paragraph —
and of other paragraphs of the same article, natural near misses, and the answer's sentence
with its answer span taken out —, the question's vector must be closest to the sentence that
holds its answer. The loss is a cross-entropy over the
candidates' cosines / `TEMPERATURE`, the answer's sentences being the positives.

Only the top `TRAIN_LAYERS` layers learn; the embeddings and the layers below are frozen, so
their output is computed once per text and cached (finetune_encoder.py): on 2 CPU cores an
epoch over the 3,156 training questions then takes minutes, not an hour. The trained layers
are saved in float16 with a manifest (training data sha256, code commit, settings, validation
scores); `chatbot/build/assemble.py` puts them over the assembled base model. Run with
`make finetune`; never at run time.

Validation: the questions of PIAF's validation articles (piaf.py), never trained on, scored
the same way, before and after.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chatbot.build.finetune_encoder import LowerCache, upper
from chatbot.build.finetune_task import NEAR_MISSES, Item, accuracy, items
from chatbot.build.model_files import write_json
from chatbot.config import PROJECT_ROOT, Settings
from chatbot.evaluation import piaf
from chatbot.evaluation.provenance import git_commit
from chatbot.index.embed import PASSAGE_PREFIX, QUERY_PREFIX
from chatbot.index.model_folder import sha256_file

__all__ = [
    "ACCUMULATE",
    "EPOCHS",
    "LEARNING_RATE",
    "SEED",
    "TEMPERATURE",
    "THREADS",
    "TRAIN_LAYERS",
    "main",
    "save_layers",
    "train",
]

TRAIN_LAYERS = 4
TEMPERATURE = 0.05
LEARNING_RATE = 5e-5
ACCUMULATE = 8  # questions per optimiser step
EPOCHS = 1
SEED = 0
THREADS = 1


def train(settings: Settings, out_dir: Path, limit: int | None, epochs: int) -> dict[str, Any]:
    """Fine-tune the top layers, save them into `out_dir`, return their manifest."""
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
        cache.fill(
            [QUERY_PREFIX + i.query for i in data]
            + [PASSAGE_PREFIX + c for i in data for c in i.candidates]
        )
    cache_s = time.perf_counter() - t0
    before = accuracy(model, frozen, cache, valid_items)
    print(f"cache {cache_s:.0f} s; validation before: {before:.3f}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    history = _fit(model, frozen, cache, train_items, valid_items, epochs, rng)
    return save_layers(
        model,
        frozen,
        out_dir,
        embedder.path,
        {
            "what": f"multilingual-e5-small, top {TRAIN_LAYERS} layers fine-tuned on PIAF: the sentence that answers",
            "base_weights_sha256": embedder.weights_sha256,
            "layers": list(range(frozen, len(model.encoder.layer))),
            "training": {
                "data": f"PIAF v1.1 train half, training articles (piaf.py), {len(train_items)} questions",
                "data_sha256": sha256_file(piaf.PIAF_FILE),
                "epochs": epochs,
                "learning_rate": LEARNING_RATE,
                "temperature": TEMPERATURE,
                "accumulate": ACCUMULATE,
                "near_misses": NEAR_MISSES,
                "answer_removed": "each answer sentence without its span, one more negative (finetune_task.without_answer)",
                "seed": SEED,
                "seconds": round(time.perf_counter() - t0 + cache_s),
            },
            "validation": {
                "questions": len(valid_items),
                "what": "share of PIAF validation questions whose closest candidate sentence holds the answer",
                "before": round(before, 4),
                "history": history,
            },
            "code_commit": git_commit(),
            "torch": torch.__version__,
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


def _fit(
    model: Any,
    frozen: int,
    cache: LowerCache,
    train_items: list[Item],
    valid_items: list[Item],
    epochs: int,
    rng: random.Random,
) -> list[dict[str, Any]]:
    """Train the layers above `frozen`, scored on validation after each epoch: the history."""
    import torch

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
        loss = _epoch(model, frozen, cache, train_items, optimiser, rng)
        model.eval()
        score = accuracy(model, frozen, cache, valid_items)
        model.train()
        history.append(
            {"epoch": epoch + 1, "train_loss": round(loss, 4), "validation": round(score, 4)}
        )
        print(
            json.dumps(history[-1]),
            f"{time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    model.eval()
    return history


def _epoch(
    model: Any, frozen: int, cache: LowerCache, data: list[Item], optimiser: Any, rng: random.Random
) -> float:
    """One pass over the questions in a random order, a step every `ACCUMULATE`: the mean loss."""
    import torch

    order = list(range(len(data)))
    rng.shuffle(order)
    loss_sum = 0.0
    for step, k in enumerate(order, 1):
        item = data[k]
        hidden, mask = cache.batch(item.texts())
        v = upper(model, frozen, hidden, mask)
        logits = (v[1:] @ v[0]) / TEMPERATURE
        positives = torch.tensor(item.positives)
        loss = torch.logsumexp(logits, 0) - torch.logsumexp(logits[positives], 0)
        (loss / ACCUMULATE).backward()
        loss_sum += float(loss.detach())
        if step % ACCUMULATE == 0 or step == len(order):
            optimiser.step()
            optimiser.zero_grad()
    return loss_sum / len(order)


def save_layers(
    model: Any, frozen: int, out_dir: Path, base_folder: Path, manifest: dict[str, Any]
) -> dict[str, Any]:
    """Write the layers above `frozen` in float16 and their manifest, completed with the
    layers file's sha256 and that of the model they make over `base_folder`'s weights."""
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
    manifest["sha256"] = sha256_file(path)
    # The model the engine will serve: base weights with these layers over them (assemble.py
    # rebuilds it at setup and checks it against this hash).
    with tempfile.TemporaryDirectory() as tmp:
        manifest["assembled_weights_sha256"] = merge_layers(
            base_folder / "model.safetensors", path, Path(tmp) / "model.safetensors"
        )
    write_json(out_dir / "manifest.json", manifest)
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Fine-tune e5-small's top layers on PIAF (build time)."
    )
    ap.add_argument("--out", type=Path, default=PROJECT_ROOT / "models" / "e5-small-piaf")
    ap.add_argument("--limit", type=int, help="training questions (default: all)")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    args = ap.parse_args(argv)
    manifest = train(Settings.from_env(), args.out, args.limit, args.epochs)
    print(json.dumps(manifest["validation"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
