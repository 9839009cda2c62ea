"""Typed events a plan run emits, in causal order (see `Planner.stream`).

Order within one planning round: `Token` events while the plan streams, interleaved with `TaskParsed` (each task
the moment its line closes and passes the plan checks), `PlanRepaired` (a line that failed them, written again),
`TaskStarted` and `TaskFinished` (tools run while the model still writes); then
`JoinDecided`; then either `Replanning` and the next round, or `FinalAnswer` last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tinyplan._checks import Problem
    from tinyplan._types import JoinDecision, PlanResult, Task, TaskResult

__all__ = [
    "Event",
    "FinalAnswer",
    "JoinDecided",
    "PlanParseFailed",
    "PlanRepaired",
    "Replanning",
    "TaskFinished",
    "TaskParsed",
    "TaskStarted",
    "Token",
]


@dataclass(frozen=True, slots=True)
class Token:
    """Text streamed by the planner or joiner model. ``phase`` tells which."""

    text: str
    phase: Literal["plan", "join"] = "plan"
    round: int = 0


@dataclass(frozen=True, slots=True)
class TaskParsed:
    """A task's line closed in the plan stream; it is handed to the task fetching unit now."""

    task: Task
    round: int = 0


@dataclass(frozen=True, slots=True)
class TaskStarted:
    """A tool call began (``result.state`` is RUNNING)."""

    result: TaskResult
    round: int = 0


@dataclass(frozen=True, slots=True)
class TaskFinished:
    """A task reached its terminal state (any, including SKIPPED and REFUSED)."""

    result: TaskResult
    round: int = 0


@dataclass(frozen=True, slots=True)
class PlanParseFailed:
    """The plan stream did not parse; the tasks already parsed still finish, then the joiner/replan decides."""

    error: str
    round: int = 0


@dataclass(frozen=True, slots=True)
class PlanRepaired:
    """A streamed line failed a plan check and was repaired; the faulty line never reached the task fetching unit.

    When ``problem.fix`` is set the correction was certain (the field the parameter names, of a task the plan
    already has): the line was replaced by it and the model's stream went on. Otherwise the plan was cut back to the
    start of ``line`` and the model continues after the ``Thought:`` line ``problem.hint`` (see
    `tinyplan.PlanChecker`).
    """

    problem: Problem
    line: str
    round: int = 0


@dataclass(frozen=True, slots=True)
class JoinDecided:
    """The joiner decided: finish with an answer, or replan with a reason."""

    decision: JoinDecision
    round: int = 0


@dataclass(frozen=True, slots=True)
class Replanning:
    """A new planning round starts (``round`` is the new round's number, 1 for the first replan)."""

    reason: str
    round: int = 0


@dataclass(frozen=True, slots=True)
class FinalAnswer:
    """The run is over; always the last event."""

    result: PlanResult
    round: int = 0


#: Any event `Planner.stream` yields; dispatch on the class (``match event: case TaskFinished(): ...``).
Event = (
    Token
    | TaskParsed
    | TaskStarted
    | TaskFinished
    | PlanParseFailed
    | PlanRepaired
    | JoinDecided
    | Replanning
    | FinalAnswer
)
