"""The case format every adapter yields: `EvalCase`, its `GoldCall` tasks, `EvalDataError`, and gold plan text.

A gold plan never holds its final ``join()``: metrics add it (depending on every task), as the parser does for a
predicted plan. `gold_from_plan` reads LLMCompiler plan text (JSONL, Mac examples, synthesized files) into gold calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tinyplan._checks import Cue
from tinyplan._errors import PlanParseError, TinyplanError, ToolDefinitionError, ToolsetError
from tinyplan._parser import parse_plan, plan_literal
from tinyplan._tools import Tool, Toolset
from tinyplan._types import Task

__all__ = [
    "ARG_RULES",
    "EvalCase",
    "EvalDataError",
    "GoldCall",
    "call_line",
    "gold_from_plan",
    "join_line",
    "render_plan",
    "task_gold_call",
]

#: How strict-success compares argument values. ``"bfcl"``: BFCL's checker (strings compared case-insensitively
#: without spaces and ``,./-_*^``; an int fits a float; a dict in an acceptable list is a nested spec of acceptable
#: values per key). ``"exact"``: equal values (a tuple equals a list, 1 equals 1.0).
ARG_RULES = ("bfcl", "exact")


class EvalDataError(TinyplanError):
    """An evaluation dataset cannot be found or read, or a record in it is malformed (file and record named)."""


@dataclass(frozen=True)
class GoldCall:
    """One call of a ground-truth plan.

    Attributes:
        idx: The task number (1-based, as in a plan).
        tool: The sanitised tool name (a key of the case's toolset).
        args: Canonical argument values by parameter name (the first acceptable value of each); values may hold
            `Ref` / `Interpolated` for ``$N`` references (JSONL and TinyAgent plans).
        dependencies: Task numbers this call needs, ascending.
        acceptable: Acceptable values per argument: a list for each argument. Under BFCL rules a dict in the list
            is a nested spec (key -> list of acceptable values) and ``""`` means "may be omitted".
        optional: Arguments the prediction may leave out.
    """

    idx: int
    tool: str
    args: dict[str, Any] = field(default_factory=dict, hash=False)
    dependencies: tuple[int, ...] = ()
    acceptable: dict[str, list[Any]] = field(default_factory=dict, hash=False)
    optional: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EvalCase:
    r"""One evaluation case: a request, the tools offered, and the ground-truth plan.

    Attributes:
        id: The record id in its dataset.
        dataset: The spec it came from, e.g. ``"bfcl:parallel_multiple"``.
        request: The user request.
        tools: The tools offered, in OpenAI tool format (``{"type": "function", "function": {name, description,
            parameters}}``), names sanitised, parameter types normalised to JSON Schema.
        gold: The ground-truth plan without its final ``join()`` (empty: the right plan is just ``1. join()``).
        name_map: Sanitised tool name -> name in the source data.
        arg_rules: ``"bfcl"`` or ``"exact"``: how strict success compares argument values (see `ARG_RULES`).
        system: A system message of the source record, if any.
        examples: In-context example plans for the planner prompt (``"Question: ...\n1. ..."``), if the dataset
            has its own; otherwise the planner's generic examples are used.
        instructions: Extra planner rules that come with the dataset's tools.
        group: Cases of one group are variants of one request (T-Eval's ``query_N_0``, ``query_N_1``...): a case
            never gets an in-context example from its own group (`with_examples`). Empty: the case's ``id``.
        example: This case's plan written as an in-context example (``"Question: ...\n1. ..."``) when the gold
            plan alone would not show its dependencies (T-Eval's literal values); None: built from the gold plan.
        cues: The toolset's cues (`Toolset.cues`), for the relevance check.
        needs_cue: The toolset's tools that need a cue (`Toolset.needs_cue`).
    """

    id: str
    dataset: str
    request: str
    tools: list[dict[str, Any]] = field(hash=False)
    gold: list[GoldCall] = field(hash=False)
    name_map: dict[str, str] = field(default_factory=dict, hash=False)
    arg_rules: str = "exact"
    system: str | None = None
    examples: tuple[str, ...] = field(default=(), hash=False)
    instructions: tuple[str, ...] = field(default=(), hash=False)
    group: str = ""
    example: str | None = field(default=None, hash=False)
    cues: tuple[Cue, ...] = field(default=(), hash=False)
    needs_cue: tuple[Cue, ...] = field(default=(), hash=False)

    def toolset(self) -> Toolset:
        """A fresh `Toolset` of stand-in tools that echo their validated arguments (``Tool.from_schema``).

        Returns:
            The case's tools, with its instructions, examples and cues.

        Raises:
            EvalDataError: A schema cannot become a tool.
        """
        try:
            tools = [Tool.from_schema(schema) for schema in self.tools]
        except (ToolDefinitionError, ToolsetError) as exc:
            raise EvalDataError(f"{self.dataset} case {self.id}: bad tool schema: {exc}") from exc
        for t, schema in zip(tools, self.tools, strict=True):
            # a result schema the data carries (NesTools' ``outputSchema``) is kept for the plan checker only: the
            # prompt's signature stays ``-> Any``, so plans are comparable with and without it
            out = schema.get("function", schema).get("outputSchema") if isinstance(schema, dict) else None
            if isinstance(out, dict):
                t.output_schema = out
        try:
            return Toolset(
                tools,
                instructions=self.instructions,
                examples=self.examples,
                cues=self.cues,
                needs_cue=self.needs_cue,
            )
        except (ToolDefinitionError, ToolsetError) as exc:
            raise EvalDataError(f"{self.dataset} case {self.id}: bad tool schema: {exc}") from exc

    @property
    def tool_names(self) -> list[str]:
        """The sanitised names of the tools offered."""
        return [s["function"]["name"] for s in self.tools]

    def gold_plan_text(self) -> str:
        """The ground truth written as an LLMCompiler plan (see `render_plan`).

        Returns:
            The plan text, ending in ``join()<END_OF_PLAN>``.
        """
        return render_plan(self.gold)

    def example_text(self) -> str:
        """This case as an in-context example: ``Question: <request>`` and its gold plan ending in ``join()``.

        Returns:
            `example` when set, else the text built from the gold plan (``$N`` references quoted).
        """
        if self.example is not None:
            return self.example
        calls = [call_line(c.idx, c.tool, c.args, quote_refs=True) for c in self.gold]
        return "\n".join([f"Question: {self.request}", *calls, join_line(self.gold)])


def call_line(idx: int, tool: str, args: Mapping[str, Any], *, quote_refs: bool = False) -> str:
    """One numbered plan line, e.g. ``2. search(query="x", n=$1)``.

    Args:
        idx: The task number.
        tool: The tool name.
        args: Argument values by name, written with `plan_literal`.
        quote_refs: Write ``$N`` references quoted (``"$1"``), as in-context examples show them.

    Returns:
        The line, without a newline.
    """
    text = ", ".join(f"{k}={plan_literal(v, quote_refs=quote_refs)}" for k, v in args.items())
    return f"{idx}. {tool}({text})"


def join_line(gold: Sequence[GoldCall]) -> str:
    """The final ``N. join()<END_OF_PLAN>`` line after the gold calls.

    Args:
        gold: The gold calls (may be empty).

    Returns:
        The line, numbered one after the last call.
    """
    return f"{(gold[-1].idx if gold else 0) + 1}. join()<END_OF_PLAN>"


def render_plan(gold: Sequence[GoldCall]) -> str:
    """Write ground-truth calls as an LLMCompiler plan ending in ``join()`` (for display and result files).

    Dependencies that are not visible as ``$N`` references in the arguments (T-Eval's ``prev`` edges over literal
    values) are noted in a ``Thought:`` line so the text stays a valid plan.

    Args:
        gold: The gold calls.

    Returns:
        The plan text.
    """
    lines: list[str] = []
    for call in gold:
        hidden = [d for d in call.dependencies if f"${d}" not in plan_literal(call.args)]
        if hidden:
            lines.append("Thought: after " + ", ".join(f"${d}" for d in hidden))
        lines.append(call_line(call.idx, call.tool, call.args))
    lines.append(join_line(gold))
    return "\n".join(lines)


def task_gold_call(task: Task, schema_params: Sequence[str], where: str) -> GoldCall:
    """A parsed plan task as a gold call whose arguments compare exactly (one acceptable value each).

    Positional arguments are bound in the schema's parameter order.

    Args:
        task: A parsed plan task (not the ``join()``).
        schema_params: The tool's parameter names, in order.
        where: The record, for error messages.

    Returns:
        The gold call, with the task's number and dependencies.

    Raises:
        EvalDataError: More positional arguments than parameters, or an argument given twice.
    """
    if len(task.args) > len(schema_params):
        raise EvalDataError(f"{where}: task {task.idx} {task.name}() has more positional arguments than parameters")
    bound = dict(zip(schema_params, task.args, strict=False))
    for k, v in task.kwargs.items():
        if k in bound:
            raise EvalDataError(f"{where}: task {task.idx} {task.name}() gives {k!r} twice")
        bound[k] = v
    return GoldCall(
        idx=task.idx,
        tool=task.name,
        args=bound,
        dependencies=task.dependencies,
        acceptable={k: [v] for k, v in bound.items()},
    )


def gold_from_plan(plan: str, tools: Sequence[Mapping[str, Any]], where: str) -> list[GoldCall]:
    """Gold calls from LLMCompiler plan text; its ``$N`` references give the dependencies, arguments compare exactly.

    Args:
        plan: The plan text, ending in ``join()``.
        tools: The tools offered (OpenAI tool format, as in `EvalCase.tools`).
        where: The record, for error messages.

    Returns:
        The calls before the ``join()``.

    Raises:
        EvalDataError: The plan does not parse against the tools or does not end with ``join()``.
    """
    params = {t["function"]["name"]: list(t["function"]["parameters"].get("properties") or {}) for t in tools}
    try:
        tasks = parse_plan(plan, tools=set(params))
    except PlanParseError as exc:
        raise EvalDataError(f"{where}: the gold plan does not parse: {exc}") from exc
    if not tasks or not tasks[-1].is_join:
        raise EvalDataError(f"{where}: the gold plan must end with join()")
    return [task_gold_call(t, params[t.name], where) for t in tasks[:-1]]
