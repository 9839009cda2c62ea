"""What every framework adapter shares.

That is tinyplan as one tool (request in, answer and plan out), and imported tools' plan-safe names and side-effect
flags.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from typing import Any

import anyio
from typing_extensions import TypedDict  # pydantic (pydantic-ai) reads only these on Python < 3.12

from tinyplan._planner import Planner

__all__ = [
    "DEFAULT_NAME",
    "REQUEST_DESCRIPTION",
    "PlannerOutput",
    "has_side_effects",
    "import_framework",
    "install_hint",
    "planner_description",
    "run_planner",
    "run_planner_sync",
]

#: The name tinyplan has as a tool inside another framework.
DEFAULT_NAME = "tinyplan"
REQUEST_DESCRIPTION = "The whole request in plain words, e.g. 'Text Sid that the meeting moved to 3pm'."


class PlannerOutput(TypedDict):
    """What tinyplan returns as a tool.

    The ``answer`` (None when the run ended without one), the run's ``status`` (``answered``, ``replan_limit``,
    ``join_failed``), the last ``plan``'s text and the ``error`` when not answered.
    """

    answer: str | None
    status: str
    plan: str
    error: str | None


def planner_description(planner: Planner) -> str:
    """The tool description of a planner: what it does and which tools it can use."""
    names = ", ".join(planner.tools.names) or "no tools"
    return (
        "Plan and run a request with tinyplan: a local model writes the tool calls it needs (independent ones run "
        f"in parallel), runs them and answers. Tools it can use: {names}."
    )


async def run_planner(planner: Planner, request: str) -> PlannerOutput:
    """Run ``planner`` on ``request``: the answer, the status, the last plan's text and the error."""
    result = await planner.run(request)
    return PlannerOutput(
        answer=result.answer,
        status=result.status,
        plan=result.plans[-1].text if result.plans else "",
        error=result.error,
    )


def run_planner_sync(planner: Planner, request: str) -> PlannerOutput:
    """`run_planner` from synchronous code (its own event loop, so not from inside a running one)."""
    return anyio.run(run_planner, planner, request)


def has_side_effects(side_effects: bool | Collection[str], *names: str) -> bool:
    """``side_effects`` for one tool: a bool for all tools, or a collection of the names that change the world."""
    if isinstance(side_effects, bool):
        return side_effects
    return any(n in side_effects for n in names)


def install_hint(package: str, pip_name: str) -> str:
    return f"{package} is not installed: pip install '{pip_name}'"


def import_framework(module: str, name: str, package: str, pip_name: str) -> Any:
    """``from module import name``, for an adapter that builds a framework's own object.

    Args:
        module: The framework module, e.g. ``langchain_core.tools``.
        name: What to take from it, e.g. ``StructuredTool``.
        package: The framework's name in the message, e.g. ``langchain-core``.
        pip_name: What to ``pip install`` for it.

    Raises:
        ImportError: The framework is not installed (the message says what to install).
    """
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:  # ``from module import name`` reports a missing name as ImportError
        raise ImportError(install_hint(package, pip_name)) from exc
