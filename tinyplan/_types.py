"""The data of a plan run: tasks and references, task results, join decisions, plans and the run's result.

Leaf module: plain dataclasses and enums that every stage (parser → task fetching unit → joiner → planner) passes on.
It holds no behaviour beyond rendering and JSON conversion, and imports nothing behavioural.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from tinyplan._backend import CompletionRequest, Usage
from tinyplan._syntax import JOIN

if TYPE_CHECKING:
    from tinyplan._checks import Problem
    from tinyplan._relevance import RelevanceVerdict
    from tinyplan._telemetry import ModelCall

__all__ = [
    "ERROR_STATES",
    "Interpolated",
    "JoinDecision",
    "Plan",
    "PlanResult",
    "Ref",
    "Status",
    "Task",
    "TaskResult",
    "TaskState",
    "Timings",
    "jsonable",
    "observation_text",
]

Status = Literal["answered", "replan_limit", "join_failed"]


@dataclass(frozen=True)
class Ref:
    """A reference to task ``task``'s output, optionally into it by ``path`` (keys, attributes and indices)."""

    task: int
    path: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        return "$" + str(self.task) + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in self.path)


@dataclass(frozen=True)
class Interpolated:
    """A string with references inside: ``parts`` alternate literal text and `Ref` s; resolved to text."""

    parts: tuple[str | Ref, ...]


@dataclass(frozen=True)
class Task:
    """One parsed action of a plan.

    Attributes:
        idx: The task number ``N`` as written.
        name: The tool name (``"join"`` for the final join).
        args: Positional arguments; may contain `Ref` and `Interpolated` values, nested in lists and dicts.
        kwargs: Keyword arguments, likewise.
        dependencies: Task numbers this task needs, ascending (for join: every earlier task).
        thought: The ``Thought:`` text written before the action, if any.
        line_no: 1-based line where the action starts in the plan text.
        text: The action as written, e.g. ``send_sms(["$1"], "hi")``.
    """

    idx: int
    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    dependencies: tuple[int, ...] = ()
    thought: str | None = None
    line_no: int = 0
    text: str = ""

    @property
    def is_join(self) -> bool:
        """Whether this is the plan's final ``join()``."""
        return self.name == JOIN

    def __str__(self) -> str:
        return f"{self.idx}. {self.text or self.name + '()'}"


class TaskState(enum.StrEnum):
    """Where a task is. Every task ends in a terminal state (all but PENDING and RUNNING)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the tool raised, or the arguments were invalid
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"  # a dependency did not succeed
    REFUSED = "refused"  # the approval callback said no
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Whether the task has ended."""
        return self not in (TaskState.PENDING, TaskState.RUNNING)


ERROR_STATES = frozenset({TaskState.FAILED, TaskState.TIMED_OUT, TaskState.SKIPPED, TaskState.REFUSED})


@dataclass(eq=False, slots=True)
class TaskResult:
    """A task's run: its state, observation, error and timings.

    Attributes:
        task: The parsed task.
        state: Its `TaskState`.
        observation: The tool's return value (any Python object), None unless SUCCEEDED.
        error: Why it did not succeed, written for the model to read; None on success.
        arguments: The validated arguments the tool was called with (references resolved), once known.
        resolved_text: For a task whose arguments refer to earlier tasks: the call with those references replaced by
            their values (``reserve(room_id=103)`` for ``reserve(room_id="$1[0]")``), each value cut at
            `RESOLVED_VALUE_CHARS` characters; None otherwise. The planner and joiner prompts show it instead of
            ``task.text``, as LLMCompiler's joiner sees the calls as they ran.
        reused: True when a side-effecting call was not run again because an earlier plan already did it.
        queued_at: `time.perf_counter()` seconds when the task reached the executor.
        started_at: When the tool was called (None if it never ran).
        finished_at: When the task reached its terminal state.
    """

    task: Task
    state: TaskState = TaskState.PENDING
    observation: Any = None
    error: str | None = None
    arguments: dict[str, Any] | None = None
    resolved_text: str | None = None
    reused: bool = False
    queued_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def ok(self) -> bool:
        """True when the task succeeded."""
        return self.state is TaskState.SUCCEEDED

    @property
    def duration(self) -> float | None:
        """Seconds the tool ran (None if it never started or has not finished)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def render(self) -> str:
        """The task and its observation as the planner and joiner prompts show them (`tinyplan._prompt`)."""
        from tinyplan._prompt import render_result  # the one place observations are written for the model

        return render_result(self)

    def __str__(self) -> str:
        return self.render()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the run (observation as JSON-compatible data where possible, else its text)."""
        return {
            "idx": self.task.idx,
            "tool": self.task.name,
            "call": self.task.text,
            "dependencies": list(self.task.dependencies),
            "thought": self.task.thought,
            "state": self.state.value,
            "observation": jsonable(self.observation),
            "error": self.error,
            "arguments": jsonable(self.arguments),
            "resolved_call": self.resolved_text,
            "reused": self.reused,
            "duration_s": self.duration,
        }


def jsonable(value: Any) -> Any:
    """``value`` as JSON-compatible data: pydantic models and dataclasses as dicts, else its JSON or its text."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return jsonable(asdict(value))
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)


def observation_text(value: Any) -> str:
    """Text of an observation for prompts and for ``$N`` inside a longer string.

    Strings stay as they are; None is ``""``; numbers and booleans use ``str``; other values are JSON.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return str(value)
    return json.dumps(jsonable(value), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class JoinDecision:
    """What the joiner decided.

    Attributes:
        action: ``"finish"`` (answer the user) or ``"replan"`` (plan again).
        thought: The joiner's reasoning (may be empty).
        answer: The final answer, for ``finish``.
        reason: Why to replan, for ``replan``; it is shown to the planner.
        raw: The joiner's full reply (empty when no model was asked).
    """

    action: Literal["finish", "replan"]
    thought: str = ""
    answer: str | None = None
    reason: str | None = None
    raw: str = ""


@dataclass
class Timings:
    """Seconds spent per phase. Durations add up over rounds; the ``first_*`` fields count from the run's start.

    Attributes:
        retrieval: Tool/example selection (ToolRAG) before the first prompt.
        prompt_build: Rendering prompts and grammars.
        time_to_first_token: Run start → first plan token of the first round.
        time_to_first_tool_start: Run start → the first tool call starting.
        plan_generation: Request sent → plan stream ended (all rounds).
        execution: Plan stream started → last task finished, minus the part overlapping generation.
        join: Joiner calls (0 in ``join="observations"`` mode).
        total: The whole run.
    """

    retrieval: float = 0.0
    prompt_build: float = 0.0
    time_to_first_token: float | None = None
    time_to_first_tool_start: float | None = None
    plan_generation: float = 0.0
    execution: float = 0.0
    join: float = 0.0
    total: float = 0.0


@dataclass
class Plan:
    """One planning round.

    Attributes:
        round: 0 for the first plan, 1 for the first replan, …
        prompt: The request sent to the backend.
        text: The plan text as the model streamed it.
        tasks: The parsed tasks, in order.
        results: Each task's result, in plan order.
        parse_error: Why the text stopped parsing (the tasks before it still ran), or None.
        decision: The join decision taken after this plan (None if the run ended with an error first).
        usage: Tokens of the plan request (and the joiner request, when one was made).
        prompt_tokens: Size of the planner prompt in tokens, when a tokenizer is available.
        relevance: The relevance check before this plan (``Planner(relevance_check=True)``, first round only), or
            None. When its ``unlisted`` is set, the plan is ``1. join()``: no listed tool fits the request.
        repairs: The plan checks' problems that made the planner write a line again, in order (see
            ``Planner(self_check=...)``).
        requests: Every model request of this round (relevance check, plan stream and its continuations, joiner),
            timed: what the Chrome trace and the terminal timeline draw.
        unknown_tools: Tools the plan called that its prompt did not list (an `UnknownToolError` stopped it). With
            ToolRAG this makes the next round plan with the whole toolset.
    """

    round: int
    prompt: CompletionRequest
    text: str = ""
    tasks: list[Task] = field(default_factory=list)
    results: list[TaskResult] = field(default_factory=list)
    parse_error: str | None = None
    decision: JoinDecision | None = None
    usage: Usage = field(default_factory=Usage)
    prompt_tokens: int | None = None
    relevance: RelevanceVerdict | None = None
    repairs: list[Problem] = field(default_factory=list)
    requests: list[ModelCall] = field(default_factory=list)
    unknown_tools: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[TaskResult]:
        """Tasks that ended in an error state (failed, timed out, skipped, refused)."""
        return [r for r in self.results if r.state in ERROR_STATES]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "round": self.round,
            "text": self.text,
            "tasks": [r.to_dict() for r in self.results],
            "parse_error": self.parse_error,
            "decision": None
            if self.decision is None
            else {
                "action": self.decision.action,
                "thought": self.decision.thought,
                "answer": self.decision.answer,
                "reason": self.decision.reason,
            },
            "usage": {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens},
            "prompt_tokens": self.prompt_tokens,
            "relevance": None
            if self.relevance is None
            else {
                "text": self.relevance.text,
                "name": self.relevance.name,
                "unlisted": self.relevance.unlisted,
                "unrelated": self.relevance.unrelated,
                "invented": list(self.relevance.invented),
            },
            "repairs": [
                {"kind": p.kind, "task": p.task, "message": p.message, "hint": p.hint, "fix": p.fix}
                for p in self.repairs
            ],
        }


@dataclass
class PlanResult:
    """Everything a run produced.

    Attributes:
        query: The user's request.
        answer: The final answer (joiner's Finish text, or the rendered observations in ``join="observations"``
            mode); None when the run ended without one (see ``status``).
        status: ``"answered"``; ``"replan_limit"`` (the plan still needed replanning when ``max_replans`` ran out);
            ``"join_failed"`` (the joiner's reply fit neither Finish nor Replan).
        plans: Every plan, in order.
        timings: Per-phase timings.
        usage: Tokens over all requests.
        tools: Names of the tools the planner was shown (after ToolRAG selection).
        error: A description of what went wrong when ``status`` is not ``"answered"``.
        started_at: `time.perf_counter()` seconds when the run started (the clock of `TaskResult` and
            ``Plan.requests``), None for a result not made by a run.
    """

    query: str
    answer: str | None = None
    status: Status = "answered"
    plans: list[Plan] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    usage: Usage = field(default_factory=Usage)
    tools: list[str] = field(default_factory=list)
    error: str | None = None
    started_at: float | None = None

    @property
    def observations(self) -> list[TaskResult]:
        """Every task result of every plan, in order (joins excluded)."""
        return [r for p in self.plans for r in p.results if not r.task.is_join]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (observations converted to JSON data, or text when they are not JSON-able)."""
        return {
            "query": self.query,
            "answer": self.answer,
            "status": self.status,
            "error": self.error,
            "tools": self.tools,
            "plans": [p.to_dict() for p in self.plans],
            "timings": vars(self.timings),
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cached_tokens": self.usage.cached_tokens,
            },
        }

    def to_json(self, **kwargs: Any) -> str:
        """`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def to_chrome_trace(self) -> dict[str, Any]:
        """The run as Chrome trace-event JSON data (Perfetto, chrome://tracing); see `tinyplan._trace`."""
        from tinyplan._trace import chrome_trace

        return chrome_trace(self)

    def to_mermaid(self) -> str:
        """The plans' dependency graphs as a Mermaid flowchart, tasks coloured by state; see `tinyplan._trace`."""
        from tinyplan._trace import mermaid

        return mermaid(self.plans)
