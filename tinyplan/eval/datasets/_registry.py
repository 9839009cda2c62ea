"""Dataset specs: ``bfcl:<category>``, ``teval[:data|:dependent]``, ``mac``, ``tinyagent:PATH``, ``jsonl:PATH``."""

from __future__ import annotations

import os

from tinyplan.eval.datasets._bfcl import load_bfcl
from tinyplan.eval.datasets._case import EvalCase, EvalDataError
from tinyplan.eval.datasets._jsonl import load_jsonl
from tinyplan.eval.datasets._mac import load_mac
from tinyplan.eval.datasets._teval import load_teval
from tinyplan.eval.datasets._tinyagent import load_tinyagent

__all__ = ["load_dataset"]


def load_dataset(spec: str, *, limit: int | None = None, root: str | os.PathLike[str] | None = None) -> list[EvalCase]:
    """Load evaluation cases from a dataset spec.

    Args:
        spec: ``bfcl:<category>`` (see `BFCL_CATEGORIES`), ``teval`` (its recorded ``prev`` edges), ``teval:data``
            (data dependencies only), ``teval:dependent`` (``teval:data`` cases with at least one dependency),
            ``mac``, ``tinyagent:PATH`` or ``jsonl:PATH``.
        limit: Keep at most this many cases (the first ones in file order).
        root: Data folder for ``bfcl``/``teval`` (default: `default_root`).

    Returns:
        The cases, in file order.

    Raises:
        EvalDataError: An unknown spec, missing data or a malformed record.
    """
    kind, _, arg = spec.partition(":")
    if kind == "bfcl":
        if not arg:
            raise EvalDataError("bfcl needs a category, e.g. bfcl:parallel_multiple")
        return load_bfcl(arg, limit=limit, root=root)
    if kind == "teval":
        if arg not in ("", "recorded", "data", "dependent"):
            raise EvalDataError(f"unknown T-Eval variant {spec!r}: use teval, teval:data or teval:dependent")
        return load_teval(
            limit=limit,
            root=root,
            edges="data" if arg in ("data", "dependent") else "recorded",
            dependent_only=arg == "dependent",
        )
    if kind == "mac":
        return load_mac(limit=limit)
    if kind == "jsonl":
        if not arg:
            raise EvalDataError("jsonl needs a path, e.g. jsonl:cases.jsonl")
        return load_jsonl(arg, limit=limit)
    if kind == "tinyagent":
        if not arg:
            raise EvalDataError("tinyagent needs a path, e.g. tinyagent:testing_data.json")
        return load_tinyagent(arg, limit=limit)
    raise EvalDataError(
        f"unknown dataset spec {spec!r}: use bfcl:<category>, teval[:data|:dependent], mac, tinyagent:PATH or "
        "jsonl:PATH"
    )
