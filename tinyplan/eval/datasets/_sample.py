"""Choosing cases and their examples: an evenly spread sample, and leave-one-out few-shot example plans."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from tinyplan.eval.datasets._case import EvalCase, EvalDataError

__all__ = ["spread", "with_examples", "words"]

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """The casefolded words of a text (runs of letters and digits), in order.

    Args:
        text: Any text.

    Returns:
        The words.
    """
    return _WORD.findall(text.casefold())


def spread(cases: Sequence[EvalCase], n: int) -> list[EvalCase]:
    """``n`` cases evenly spaced over ``cases`` (the first one included), in order.

    A deterministic sample that, unlike the first ``n``, covers the whole dataset (T-Eval's file order clusters long
    plans of one toolkit).

    Args:
        cases: The cases to sample.
        n: The sample size (all cases when ``n`` is at least their number).

    Returns:
        The sample.

    Raises:
        EvalDataError: ``n`` is not positive.
    """
    if n < 1:
        raise EvalDataError(f"a sample needs at least one case, got {n}")
    if n >= len(cases):
        return list(cases)
    return [cases[(i * len(cases)) // n] for i in range(n)]


def with_examples(cases: Sequence[EvalCase], k: int, pool: Sequence[EvalCase] | None = None) -> list[EvalCase]:
    """Give each case the ``k`` most similar other cases as in-context example plans (leave-one-out few-shot).

    TinyAgent shows its planner the example plans closest to the request (retrieved from its training data); a
    dataset without a training split can do the same leave-one-out. An example is eligible when it calls at least
    one tool, every tool it calls is offered to the case (the typed grammar allows no other), and it is not in the
    case's `EvalCase.group` (another wording of the same request would give the answer away). Eligible examples are
    ranked by the overlap of request words (Jaccard), at most one per group; the most similar comes last, nearest the
    question. A case with no eligible example keeps the planner's generic examples. The examples replace the case's
    own (``mac``'s leave-one-out list).

    Args:
        cases: The cases to evaluate.
        k: Examples per case (at least 1).
        pool: The cases examples come from (default: ``cases``; pass the whole dataset when ``cases`` is a sample).

    Returns:
        New cases, in order, with ``examples`` set.

    Raises:
        EvalDataError: ``k`` is not positive.
    """
    if k < 1:
        raise EvalDataError(f"examples per case must be at least 1, got {k}")
    source = list(cases if pool is None else pool)

    def group_of(c: EvalCase) -> str:
        return c.group or c.id

    words_of = {id(c): set(words(c.request)) for c in [*source, *cases]}
    tools_of = {id(c): {g.tool for g in c.gold} for c in source}
    out: list[EvalCase] = []
    for case in cases:
        offered, mine = set(case.tool_names), words_of[id(case)]
        ranked: list[tuple[float, int, EvalCase]] = []
        for i, other in enumerate(source):
            if not other.gold or group_of(other) == group_of(case) or not tools_of[id(other)] <= offered:
                continue
            theirs = words_of[id(other)]
            ranked.append((len(mine & theirs) / max(1, len(mine | theirs)), -i, other))
        ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
        chosen: list[EvalCase] = []
        groups: set[str] = set()
        for _, _, other in ranked:
            if len(chosen) == k:
                break
            if group_of(other) not in groups:
                chosen.append(other)
                groups.add(group_of(other))
        out.append(dataclasses.replace(case, examples=tuple(c.example_text() for c in reversed(chosen))))
    return out
