"""Where the evaluation data lives, and reading its JSON and JSONL files with the file and line named in errors."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinyplan.eval.datasets._case import EvalDataError

__all__ = ["check_limit", "default_root", "read_json", "read_json_lines"]


def default_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The evaluation data folder: ``root``, else ``$TINYPLAN_EVALDATA``, else ``<repo>/../shared/evaldata``.

    Args:
        root: An explicit folder.

    Returns:
        The folder (not checked for existence).
    """
    if root is not None:
        return Path(root)
    env = os.environ.get("TINYPLAN_EVALDATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "evaldata"


def read_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSONL file with their line numbers; blank lines are skipped.

    Args:
        path: The file (opened on the first iteration).

    Yields:
        ``(line number, object)`` pairs.

    Raises:
        EvalDataError: The file cannot be read, or a line is not a JSON object.
    """
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalDataError(f"{path}:{line_no}: not JSON: {exc.msg}") from exc
            if not isinstance(record, dict):
                raise EvalDataError(f"{path}:{line_no}: expected a JSON object per line")
            yield line_no, record


def read_json(path: Path) -> Any:
    """The JSON value of a file.

    Args:
        path: The file.

    Returns:
        The parsed value.

    Raises:
        EvalDataError: The file cannot be read or is not JSON.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvalDataError(f"{path}: not JSON: {exc.msg} (line {exc.lineno})") from exc


def check_limit(limit: int | None) -> None:
    """Reject a negative case limit.

    Args:
        limit: The ``limit`` argument of a loader.

    Raises:
        EvalDataError: ``limit`` is negative.
    """
    if limit is not None and limit < 0:
        raise EvalDataError(f"limit must be >= 0, got {limit}")
