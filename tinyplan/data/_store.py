"""The JSONL store of synthesized examples: append-only, resumable, crash-tolerant.

Kept examples go to the output file, one JSON object per line (the generic eval JSONL: ``request``, ``tools``,
``plan``, plus ``id``, ``mode``, ``skeleton``, ``split``, ``checks`` and the seed and index that drew it).
Rejections go to a sidecar file (``<name>.rejected.jsonl``) with their reason. Every line is flushed as it is
written; a line cut short by a crash is dropped when the store is opened again. A run resumes after the highest
index either file holds for its seed, so an interrupted run continued gives the same examples as one that never
stopped.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyplan._errors import TinyplanError

__all__ = ["ExampleStore", "StoreState", "read_examples", "rejected_path"]


def rejected_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar file of rejections for an output file: ``bank.jsonl`` → ``bank.rejected.jsonl``."""
    p = Path(path)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".rejected.jsonl")


def _repair(path: Path) -> None:
    """Drop a last line cut short by a crash (no trailing newline)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        fh.truncate(keep)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a file, one per line.

    A last line without its newline that does not parse is one being written (or cut short by a crash) and is left
    out.
    """
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if not line.endswith("\n"):
                    return
                raise TinyplanError(f"{path}:{number}: not a JSON line ({exc})") from exc
            if isinstance(record, dict):
                yield record


def read_examples(path: str | os.PathLike[str], *, splits: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The examples of a JSONL file, optionally only those of some splits (``("train",)``)."""
    records = list(_lines(Path(path)))
    if splits is not None:
        records = [r for r in records if r.get("split") in splits]
    return records


@dataclass
class StoreState:
    """What an output file and its sidecar hold."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def next_index(self, seed: int) -> int:
        """One past the highest example index tried with ``seed`` (0 for a fresh start)."""
        indices = [int(r["index"]) for r in (*self.kept, *self.rejected) if r.get("seed") == seed and "index" in r]
        return max(indices) + 1 if indices else 0

    def reasons(self) -> Counter[str]:
        """Rejections by reason."""
        return Counter(str(r.get("reason")) for r in self.rejected)


class ExampleStore:
    """An output file of kept examples and its sidecar of rejections.

    Args:
        path: The JSONL file of kept examples (created with its folder when missing).
        rejected: The sidecar file (default: `rejected_path`).
    """

    def __init__(self, path: str | os.PathLike[str], rejected: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        self.rejected_path = Path(rejected) if rejected is not None else rejected_path(self.path)

    def load(self) -> StoreState:
        """Read both files (repairing a cut-off last line first)."""
        _repair(self.path)
        _repair(self.rejected_path)
        return StoreState(list(_lines(self.path)), list(_lines(self.rejected_path)))

    def append(self, record: dict[str, Any]) -> None:
        """Append one kept example and flush it to disk."""
        self._write(self.path, record)

    def reject(self, record: dict[str, Any]) -> None:
        """Append one rejection to the sidecar."""
        self._write(self.rejected_path, record)

    def rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace the kept examples with ``records`` (written to a temporary file, then renamed into place)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)

    @staticmethod
    def _write(path: Path, record: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
