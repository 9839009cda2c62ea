"""Helpers of the data pipeline tests: scripted request writers."""

from __future__ import annotations

import re

from tinyplan import CompletionRequest
from tinyplan._parser import parse_plan
from tinyplan._types import Interpolated, Ref


def plan_of(request: CompletionRequest) -> str:
    """The plan a request writer's prompt shows (its tail)."""
    assert request.prompt is not None
    return request.prompt.rsplit("Plan:\n", 1)[1].split("\nStyle:")[0]


def stating_writer(request: CompletionRequest) -> str:
    """A scripted request writer that states every literal of the plan and names what each unused look-up is for:
    it writes requests the checks keep, as a good model would."""
    plan = plan_of(request)
    tasks = parse_plan(plan)
    used = {d for t in tasks for d in t.dependencies if not t.is_join}
    parts: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, (Ref, Interpolated)):
            return
        if isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, bool) or value in ("", None, 0, 60):
            return
        else:
            parts.append(str(value))

    for task in tasks:
        if task.is_join:
            continue
        for v in (*task.args, *task.kwargs.values()):
            walk(v)
        if task.idx not in used:
            parts.append(task.name.replace("_", " "))
    parts += ["high", "walk"] if re.search(r", 1, |\"w\"\)", plan) else []
    return "Please " + "; ".join(parts) + ".\n"
