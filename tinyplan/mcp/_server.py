"""tinyplan as an MCP server: a `Planner` behind two MCP tools, ``run_request`` and ``plan``.

``tinyplan mcp serve`` runs it over stdio (what desktop MCP hosts start) or streamable HTTP; `mcp_server` builds the
``MCPServer`` for your own code (e.g. ``mcp_server(planner).run()``).
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from typing_extensions import TypedDict  # pydantic reads only these on Python < 3.12 (the outputSchema)

from tinyplan._errors import TinyplanError
from tinyplan._events import FinalAnswer, TaskFinished
from tinyplan._planner import Planner
from tinyplan._prompt import one_line
from tinyplan._types import Plan, PlanResult, TaskResult, TaskState, observation_text

__all__ = ["PlanOutput", "PlannedTask", "RunOutput", "mcp_server", "plan_output"]

_PROGRESS_CHARS = 200
# a task in one of these states means the request was not carried out (a refusal is the user's answer, not one)
_FAILED_STATES = frozenset({TaskState.FAILED, TaskState.TIMED_OUT, TaskState.SKIPPED, TaskState.CANCELLED})


class PlannedTask(TypedDict):
    """One action of a plan: ``idx``, the ``tool`` it calls, the ``call`` as written, the tasks it depends on."""

    idx: int
    tool: str
    call: str
    dependencies: list[int]
    thought: str | None


class PlanOutput(TypedDict):
    """The result of the ``plan`` tool: the plan text and its DAG (tasks and ``[from, to]`` edges); nothing ran."""

    plan: str
    tasks: list[PlannedTask]
    edges: list[list[int]]
    parse_error: str | None


class RunOutput(TypedDict):
    """The result of ``run_request``: the answer, the last plan's text and every round (`Plan.to_dict`)."""

    answer: str | None
    status: str
    plan: str
    rounds: list[dict[str, Any]]


def mcp_server(planner: Planner, *, name: str = "tinyplan", instructions: str | None = None) -> MCPServer:
    """An ``MCPServer`` offering ``planner`` as two tools.

    * ``run_request(request)``: plans, runs and joins; one progress notification per finished task (when the client
      sent a progress token); the answer, the plan and every round's observations as structured content. Marked
      destructive: the plan may call tools with side effects. A request that was not carried out is a tool error
      (``isError``, its text says why): the backend failed, the run ended without an answer, or a task of the last
      plan failed, timed out or was skipped. The server keeps serving.
    * ``plan(request)``: only writes the plan: its text and its DAG, nothing run. Marked read-only.

    Runs are serialised (one at a time): a local model serves one generation at a time.

    Args:
        planner: The planner (its backend, tools, joiner and approval settings are used as they are).
        name: The server name hosts show.
        instructions: Server instructions for the host's model (default: one line naming the tools).
    """
    tool_names = ", ".join(planner.tools.names) or "no tools"
    server = MCPServer(
        name,
        instructions=instructions
        or f"tinyplan plans a request as parallel tool calls with a local model and runs them. Tools: {tool_names}.",
        log_level="WARNING",
    )
    lock = anyio.Lock()

    async def run_request(request: str, ctx: Context) -> RunOutput:
        finished = 0
        result: PlanResult | None = None
        async with lock:
            try:
                async with contextlib.aclosing(planner.stream(request)) as events:  # closed (tasks cancelled) on error
                    async for event in events:
                        if isinstance(event, TaskFinished) and not event.result.task.is_join:
                            finished += 1
                            await ctx.report_progress(finished, None, _progress_message(event))
                        elif isinstance(event, FinalAnswer):
                            result = event.result
            except TinyplanError as exc:
                raise ToolError(f"{type(exc).__name__}: {exc}") from exc
        if result is None:  # pragma: no cover - stream always ends with FinalAnswer
            raise ToolError("the run ended without a result")
        failed = [r for r in (result.plans[-1].results if result.plans else []) if r.state in _FAILED_STATES]
        if result.status != "answered" or result.answer is None or failed:
            raise ToolError(_failure_text(result, failed))
        return RunOutput(
            answer=result.answer,
            status=result.status,
            plan=result.plans[-1].text if result.plans else "",
            rounds=[p.to_dict() for p in result.plans],
        )

    async def plan(request: str) -> PlanOutput:
        async with lock:
            try:
                written = await planner.plan(request)
            except TinyplanError as exc:
                raise ToolError(f"{type(exc).__name__}: {exc}") from exc
        return plan_output(written)

    server.add_tool(
        run_request,
        name="run_request",
        title="Run a request with tinyplan",
        description=(
            "Plan the request as tool calls with a local model, run them (independent calls in parallel) and "
            f"answer. Tools it can use: {tool_names}. Returns the answer and the plan with every observation."
        ),
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False),
    )
    server.add_tool(
        plan,
        name="plan",
        title="Plan a request with tinyplan (nothing runs)",
        description=(
            "Write the plan for the request without running it: the numbered tool calls with their $N references, "
            f"and their dependency graph. Tools it can use: {tool_names}."
        ),
        annotations=ToolAnnotations(read_only_hint=True),
    )
    return server


def plan_output(plan: Plan) -> PlanOutput:
    """The ``plan`` tool's result for a written `Plan`: its text, tasks (join left out) and dependency edges."""
    tasks = [t for t in plan.tasks if not t.is_join]
    return PlanOutput(
        plan=plan.text,
        tasks=[
            PlannedTask(idx=t.idx, tool=t.name, call=t.text, dependencies=list(t.dependencies), thought=t.thought)
            for t in tasks
        ],
        edges=[[d, t.idx] for t in tasks for d in t.dependencies],
        parse_error=plan.parse_error,
    )


def _progress_message(event: TaskFinished) -> str:
    r = event.result
    outcome = observation_text(r.observation) if r.ok else f"{r.state.value}: {r.error}"
    text = f"{r.task.idx}. {r.task.text} -> {one_line(outcome)}"
    return text if len(text) <= _PROGRESS_CHARS else text[: _PROGRESS_CHARS - 1] + "…"


def _failure_text(result: PlanResult, failed: list[TaskResult]) -> str:
    if result.status != "answered" or result.answer is None:
        lines = [f"the request ended without an answer ({result.status}): {result.error or 'no reason given'}"]
    else:
        lines = [f"the request was not carried out: {len(failed)} task(s) of the last plan failed", result.answer]
    lines += [f"task {r.task.idx}. {r.task.text} {r.state.value}: {r.error}" for r in failed]
    if result.plans:
        lines.append("last plan:\n" + result.plans[-1].text)
    return "\n".join(lines)
