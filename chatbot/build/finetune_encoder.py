"""The encoder cut where fine-tuning starts: a frozen lower part, cached, and a trained upper part.

Only the top layers learn, so the embeddings and the layers below give the same output for a
text at every epoch: `LowerCache` computes it once per text and keeps it in float16. `upper`
runs the trained layers over a cached batch and pools it the way e5 does.
"""

from __future__ import annotations

from typing import Any

from chatbot.index.embed import padded

__all__ = ["LowerCache", "upper"]


class LowerCache:
    """The frozen part's output for each text: computed once, reused at every epoch."""

    def __init__(self, model: Any, tokenizer: Any, frozen: int) -> None:
        self.model, self.tokenizer, self.frozen = model, tokenizer, frozen
        self._cache: dict[str, Any] = {}

    def fill(self, texts: list[str], batch: int = 32) -> None:
        """Compute the frozen part's output for the texts not cached yet."""
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
        """The cached outputs of the texts, padded into one batch, and its attention mask."""
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
        return padded(self.tokenizer.encode(texts), self.tokenizer.pad_id)


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
