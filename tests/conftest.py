"""Shared fixtures. Tests marked `integration` use the real embedding model (slow)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from chatbot.index.embed import E5Embedder

# Nothing in the tests may reach the Hugging Face hub; set before transformers is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: uses the real embedding model (assembled once into the cache)"
    )


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """The real cache (CHATBOT_CACHE, else ~/.cache/sep-chatbot), shared with `make setup`."""
    from chatbot.config import Settings

    return Settings.from_env().cache_dir


@pytest.fixture(scope="session")
def e5_embedder(model_cache_dir: Path) -> E5Embedder:
    """The real embedder, assembled if needed and loaded once per test session."""
    from chatbot.build.assemble import assemble_model
    from chatbot.index.embed import E5Embedder

    return E5Embedder(assemble_model(model_cache_dir))
