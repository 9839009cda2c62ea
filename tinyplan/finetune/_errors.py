"""The errors of fine-tuning (drawn in `tinyplan._errors`' tree)."""

from __future__ import annotations

from tinyplan._errors import TinyplanError

__all__ = ["AdapterExportError", "BaseModelError", "FinetuneError", "TrainingDataError"]


class FinetuneError(TinyplanError):
    """Fine-tuning cannot start or finish."""


class TrainingDataError(FinetuneError, ValueError):
    """A training data file does not parse: the message names the file and the line.

    Attributes:
        path: The data file.
        line: The 1-based line number (0 when the file as a whole is wrong, e.g. it holds no training example).
    """

    def __init__(self, path: str, line: int, message: str) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class BaseModelError(FinetuneError):
    """The base model cannot be trained: not found, not readable, or not a causal language model."""


class AdapterExportError(FinetuneError):
    """The trained LoRA adapter cannot be converted to a GGUF adapter (llama.cpp's converter missing or failing)."""
