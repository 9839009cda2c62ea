"""Pictures of a run: a Chrome trace, a Mermaid flowchart of the plan's DAG, and a timeline for the terminal.

All three are functions of a finished `PlanResult` (``PlanResult.to_chrome_trace()``, ``PlanResult.to_mermaid()``)
and use only what a run records: each task's ``queued_at`` (the moment its line was parsed and handed to the
executor), ``started_at`` and ``finished_at``, and each model request's `ModelCall` (``Plan.requests``: sent, first
chunk, end), all `time.perf_counter` seconds, drawn relative to ``PlanResult.started_at``.

* `chrome_trace`: Chrome trace-event JSON (opens in https://ui.perfetto.dev and chrome://tracing). One track for the
  model's token stream (a slice per request, split into prompt processing and generation, an instant per parsed
  task); one track per task, so tasks that ran in parallel never share a track (Perfetto needs the B/E slices of a
  track to nest); a flow arrow per dependency, from the end of the producer to the start of the consumer.
* `mermaid`: a ``flowchart LR``: a node per task labelled with its call, an edge ``$N`` per reference, dotted
  edges into ``join()``, nodes coloured by state; one subgraph per round when there was a replan.
* `Timeline`: a rich renderable for the terminal: a bar per task on a shared time axis under the model's row, as
  wide as the console.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from tinyplan._fetcher import build_graph
from tinyplan._types import Task, TaskResult, TaskState

if TYPE_CHECKING:
    from tinyplan._telemetry import ModelCall
    from tinyplan._types import Plan, PlanResult

__all__ = ["Timeline", "chrome_trace", "mermaid", "timeline_text"]

_PID = 1
_MODEL_TID = 1
_FIRST_TASK_TID = 10
_EPS_US = 1.0  # flow ends sit this far inside their slices (µs), so they bind to the right slice


# ---------------------------------------------------------------------------------------------------- helpers
def _origin(result: PlanResult) -> float:
    """The time all pictures count from: the run's start, else the earliest recorded moment."""
    if result.started_at is not None:
        return result.started_at
    moments = [r.queued_at for p in result.plans for r in p.results if r.queued_at]
    moments += [c.started_at for p in result.plans for c in p.requests]
    return min(moments, default=0.0)


def _label(plan_count: int, round_no: int, idx: int) -> str:
    """A task's number as the CLI shows it: ``3``, or ``2.3`` for task 3 of the first replan."""
    return f"{round_no + 1}.{idx}" if plan_count > 1 else str(idx)


def _tasks(result: PlanResult) -> list[tuple[int, TaskResult]]:
    """Every task that reached the executor, join() excluded, with its round."""
    return [(p.round, r) for p in result.plans for r in p.results if not r.task.is_join]


def _end(r: TaskResult) -> float | None:
    return r.finished_at if r.finished_at is not None else r.started_at


# ---------------------------------------------------------------------------------------------- Chrome trace
def chrome_trace(result: PlanResult) -> dict[str, Any]:
    """The run as Chrome trace-event data; write it with ``json.dump`` and open it in Perfetto or chrome://tracing.

    Timestamps (``ts``) are microseconds from the run's start. Tracks (``tid``) are named by metadata events: 1 is
    ``model`` (each request a slice ``planner``/``relevance``/``joiner`` with the nested slices ``prompt``, sent →
    first chunk, and ``generate``, first chunk → end; an instant ``parsed N`` when a task's line closed); then one
    track per task, in plan order, holding ``waiting`` (parsed → started: dependencies, concurrency limit,
    approval) and the call itself (started → finished), or only ``waiting`` up to its end for a task that never
    ran (skipped, refused). A flow (``ph`` ``s`` → ``f``, category ``dependency``) runs from the end of each
    producer to the start of each task that uses it.

    Args:
        result: A finished run (`Planner.run`, or the `FinalAnswer` event's result).

    Returns:
        ``{"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}``; every B has its E on the same
        track, and the events of each track are in time order.
    """
    trace = _ChromeTrace(result)
    trace.add_requests()
    trace.add_tasks()
    trace.add_flows()
    return trace.data()


class _ChromeTrace:
    """The events of one run's Chrome trace, built track by track (see `chrome_trace`)."""

    def __init__(self, result: PlanResult) -> None:
        self.result = result
        self.origin = _origin(result)
        self.events: list[dict[str, Any]] = [
            {"ph": "M", "pid": _PID, "tid": 0, "name": "process_name", "args": {"name": f"tinyplan: {result.query}"}},
            {"ph": "M", "pid": _PID, "tid": _MODEL_TID, "name": "thread_name", "args": {"name": "model"}},
            {"ph": "M", "pid": _PID, "tid": _MODEL_TID, "name": "thread_sort_index", "args": {"sort_index": 0}},
        ]
        self.per_track: dict[int, list[dict[str, Any]]] = {_MODEL_TID: []}
        self.tids: dict[tuple[int, int], int] = {}
        self.spans: dict[tuple[int, int], tuple[float, float]] = {}  # (round, idx) -> (start of its call or end, end)

    def us(self, t: float) -> float:
        """Microseconds from the run's start."""
        return round((t - self.origin) * 1e6, 3)

    def slice_(
        self, tid: int, name: str, start: float, end: float, cat: str, args: dict[str, Any] | None = None
    ) -> None:
        """A B/E pair on track ``tid``; an end before the start is moved to the start."""
        b: dict[str, Any] = {"ph": "B", "pid": _PID, "tid": tid, "name": name, "cat": cat, "ts": self.us(start)}
        if args:
            b["args"] = args
        self.per_track[tid].append(b)
        end_us = self.us(max(end, start))
        self.per_track[tid].append({"ph": "E", "pid": _PID, "tid": tid, "name": name, "cat": cat, "ts": end_us})

    def add_requests(self) -> None:
        """The model track: requests in order (they never overlap: one model, one stream at a time)."""
        us = self.us
        model_track = self.per_track[_MODEL_TID]
        for plan in self.result.plans:
            for call in plan.requests:
                end = call.finished_at if call.finished_at is not None else call.started_at
                model_track.append(
                    {"ph": "B", "pid": _PID, "tid": _MODEL_TID, "name": call.kind, "cat": "model",
                     "ts": us(call.started_at), "args": _request_args(call)}
                )  # fmt: skip
                first = call.first_chunk_at
                if first is not None and call.started_at <= first <= end:
                    self.slice_(_MODEL_TID, "prompt", call.started_at, first, "model")
                    self.slice_(_MODEL_TID, "generate", first, end, "model")
                model_track.append(
                    {"ph": "E", "pid": _PID, "tid": _MODEL_TID, "name": call.kind, "cat": "model", "ts": us(end)}
                )

    def add_tasks(self) -> None:
        """One track per task: ``waiting`` and the call; a ``parsed N`` instant on the model track."""
        us, result = self.us, self.result
        for n, (round_no, r) in enumerate(_tasks(result)):
            tid = _FIRST_TASK_TID + n
            self.tids[(round_no, r.task.idx)] = tid
            self.per_track[tid] = []
            name = f"{_label(len(result.plans), round_no, r.task.idx)} {r.task.name}"
            self.events.append({"ph": "M", "pid": _PID, "tid": tid, "name": "thread_name", "args": {"name": name}})
            self.events.append(
                {"ph": "M", "pid": _PID, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": n + 1}}
            )
            queued = r.queued_at or self.origin
            end = _end(r) or queued  # no end: not in a finished run; show the parse moment only
            start = r.started_at if r.started_at is not None else end
            self.per_track[_MODEL_TID].append(
                {"ph": "i", "s": "t", "pid": _PID, "tid": _MODEL_TID, "name": f"parsed {r.task.idx}", "cat": "parse",
                 "ts": us(queued)}
            )  # fmt: skip
            if start > queued:
                self.slice_(tid, "waiting", queued, start, "task")
            args = {"call": r.resolved_text or r.task.text, "state": r.state.value, "reused": r.reused}
            if r.error:
                args["error"] = r.error
            self.slice_(tid, r.task.text if r.started_at is not None else r.state.value, start, end, "task", args)
            self.spans[(round_no, r.task.idx)] = (start, end)

    def add_flows(self) -> None:
        """Dependency flows: producer's end → consumer's start."""
        us, spans, tids = self.us, self.spans, self.tids
        flow_id = 0
        edges = [(p.round, a, b) for p in self.result.plans for a, b in _edges(r.task for r in p.results)]
        for round_no, dep, idx in edges:
            producer, consumer = (round_no, dep), (round_no, idx)
            if producer not in spans or consumer not in spans:  # join() has no track
                continue
            (p_start, p_end), (c_start, c_end) = spans[producer], spans[consumer]
            flow_id += 1
            s_ts = max(p_start, p_end - min(_EPS_US * 1e-6, (p_end - p_start) / 2))
            f_ts = max(s_ts, min(c_end, c_start + min(_EPS_US * 1e-6, (c_end - c_start) / 2)))
            common = {"pid": _PID, "name": f"${dep}", "cat": "dependency", "id": flow_id}
            self.per_track[tids[producer]].append({"ph": "s", "tid": tids[producer], "ts": us(s_ts), **common})
            self.per_track[tids[consumer]].append(
                {"ph": "f", "bp": "e", "tid": tids[consumer], "ts": us(f_ts), **common}
            )

    def data(self) -> dict[str, Any]:
        """The trace-event data: the metadata, then each track's events in time order."""
        events = list(self.events)
        for track in self.per_track.values():
            events.extend(_ordered(track))
        result = self.result
        return {
            "traceEvents": events,
            "displayTimeUnit": "ms",
            "otherData": {"query": result.query, "status": result.status, "rounds": len(result.plans)},
        }


def _request_args(call: ModelCall) -> dict[str, Any]:
    """The ``args`` of a model request's slice: round, finish reason, token counts, error."""
    args: dict[str, Any] = {"round": call.round, "finish_reason": call.finish_reason}
    if call.usage is not None:
        args |= {"input_tokens": call.usage.prompt_tokens, "output_tokens": call.usage.completion_tokens}
        if call.usage.cached_tokens is not None:
            args["cached_tokens"] = call.usage.cached_tokens
    if call.error:
        args["error"] = call.error
    return args


def _ordered(track: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A track's events in time order.

    The sort is stable and each track's events are made in time order within each kind, so at equal times a slice
    that ends still ends before the next one begins.
    """
    return sorted(track, key=lambda e: float(e["ts"]))


# -------------------------------------------------------------------------------------------------- Mermaid
_STATE_CLASSES: dict[str, str] = {
    "pending": "fill:#f3f4f6,stroke:#9ca3af,color:#374151",
    "running": "fill:#fef9c3,stroke:#ca8a04,color:#713f12",
    "succeeded": "fill:#dcfce7,stroke:#16a34a,color:#14532d",
    "failed": "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
    "timed_out": "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
    "cancelled": "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
    "skipped": "fill:#fae8ff,stroke:#c026d3,color:#701a75",
    "refused": "fill:#fae8ff,stroke:#c026d3,color:#701a75",
    "planned": "fill:#e0f2fe,stroke:#0284c7,color:#0c4a6e",
}
_LABEL_CHARS = 60


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: entity codes for ``#``, ``"``, ``<``, ``>``; one line; cut."""
    flat = " ".join(text.split())
    if len(flat) > _LABEL_CHARS:
        flat = flat[: _LABEL_CHARS - 1] + "…"
    return flat.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(plans: Sequence[Plan]) -> str:
    """The plans' dependency graphs as a Mermaid flowchart.

    Node ``r{round}t{idx}`` per task, labelled ``idx. call``; an edge ``-->|$d|`` from each task to every task
    that depends on it (`tinyplan.build_graph`'s edges: declared dependencies and ``$N`` references), dotted
    (``-.->``) into ``join()``. Each node has the class of its task's state (``succeeded``, ``failed``,
    ``skipped``, …; ``planned`` for a plan that has not run, e.g. ``tinyplan run --dry-run``), coloured by a
    ``classDef``. With more than one round, each round is a subgraph (``plan``, ``replan 1``, …).

    Args:
        plans: ``PlanResult.plans``, or a single dry-run `Plan` in a list.

    Returns:
        The flowchart's text, starting ``flowchart LR``.
    """
    lines = ["flowchart LR"]
    used: set[str] = set()
    edges: list[str] = []
    several = len(plans) > 1
    for plan in plans:
        indent = "    " if several else "  "
        if several:
            title = "plan" if plan.round == 0 else f"replan {plan.round}"
            lines.append(f'  subgraph round{plan.round}["{title}"]')
        states = {r.task.idx: r.state.value for r in plan.results}
        tasks = list(plan.tasks) or [r.task for r in plan.results]
        for t in tasks:
            state = states.get(t.idx, "planned" if not plan.results else TaskState.PENDING.value)
            used.add(state)
            node = f"r{plan.round}t{t.idx}"
            shape = ('(["', '"])') if t.is_join else ('["', '"]')
            lines.append(f"{indent}{node}{shape[0]}{_mermaid_text(f'{t.idx}. {t.text}')}{shape[1]}:::{state}")
        if several:
            lines.append("  end")
        for src, dst in _edges(tasks):
            target = next(t for t in tasks if t.idx == dst)
            a, b = f"r{plan.round}t{src}", f"r{plan.round}t{dst}"
            edges.append(f"  {a} -.-> {b}" if target.is_join else f"  {a} -->|${src}| {b}")
    lines.extend(edges)
    lines.extend(f"  classDef {name} {_STATE_CLASSES[name]}" for name in _STATE_CLASSES if name in used)
    return "\n".join(lines) + "\n"


def _edges(tasks: Iterable[Task]) -> list[tuple[int, int]]:
    """The dependency edges ``(producer, consumer)`` of a plan's tasks, as `build_graph` finds them.

    A plan cut short by a parse error may hold a task that refers to a task that never came; its edges are those
    whose ends are both in the plan.
    """
    listed = list(tasks)
    try:
        return sorted(build_graph(listed).edges)
    except Exception:
        known = {t.idx for t in listed}
        return sorted({(d, t.idx) for t in listed for d in t.dependencies if d in known})


# ------------------------------------------------------------------------------------------------- timeline
_STATE_STYLE = {
    TaskState.SUCCEEDED: "green",
    TaskState.FAILED: "red",
    TaskState.TIMED_OUT: "red",
    TaskState.CANCELLED: "red",
    TaskState.SKIPPED: "magenta",
    TaskState.REFUSED: "magenta",
    TaskState.RUNNING: "yellow",
    TaskState.PENDING: "dim",
}
_RUN_CHAR = "█"
_WAIT_CHAR = "·"
_PROMPT_CHAR = "▒"
_NEVER_RAN_CHAR = "✗"
_MIN_BAR = 10
_MAX_LABEL = 32


@dataclass(frozen=True, slots=True)
class _Row:
    label: str
    pieces: tuple[tuple[float, float, str, str], ...]  # (start s, end s, char, style), seconds from the origin
    marks: tuple[tuple[float, str, str], ...] = ()  # (time s, char, style): one cell, even for no duration


def _rows(result: PlanResult) -> tuple[list[_Row], float]:
    origin = _origin(result)
    rows: list[_Row] = []
    model: list[tuple[float, float, str, str]] = []
    end_times = [0.0]
    for plan in result.plans:
        for call in plan.requests:
            end = (call.finished_at if call.finished_at is not None else call.started_at) - origin
            start = call.started_at - origin
            first = (call.first_chunk_at - origin) if call.first_chunk_at is not None else end
            style = "cyan" if call.kind == "joiner" else "blue"
            model.append((start, first, _PROMPT_CHAR, style))
            model.append((first, end, _RUN_CHAR, style))
            end_times.append(end)
    if model:
        rows.append(_Row("model", tuple(model)))
    for round_no, r in _tasks(result):
        queued = (r.queued_at or origin) - origin
        end_abs = _end(r)
        end = (end_abs - origin) if end_abs is not None else queued
        style = _STATE_STYLE.get(r.state, "")
        pieces: list[tuple[float, float, str, str]] = []
        marks: list[tuple[float, str, str]] = []
        if r.started_at is not None:
            start = r.started_at - origin
            pieces.append((queued, start, _WAIT_CHAR, "dim"))
            pieces.append((start, end, _RUN_CHAR, style))
            marks.append((start, _RUN_CHAR, style))
        else:  # never ran: a mark where it ended (skipped, refused)
            pieces.append((queued, end, _WAIT_CHAR, "dim"))
            marks.append((end, _NEVER_RAN_CHAR, style))
        label = f"{_label(len(result.plans), round_no, r.task.idx)} {r.task.name}"
        rows.append(_Row(label, tuple(pieces), tuple(marks)))
        end_times.append(end)
    total = max(max(end_times), result.timings.total if result.started_at is not None else 0.0)
    return rows, total


def _tick_step(total: float, cells: int) -> float:
    """A round tick spacing (1, 2 or 5 times a power of ten, in seconds) giving ticks at least ~10 cells apart."""
    if total <= 0:
        return 1.0
    rough = total * 10 / max(cells, 1)
    power = 10 ** math.floor(math.log10(rough))
    for m in (1, 2, 5, 10):
        if m * power >= rough:
            return float(m * power)
    return float(10 * power)


def _seconds(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:.{decimals}f}"


class Timeline:
    """The run on a shared time axis, for the terminal (a rich renderable as wide as the console).

    A row ``model`` shows each request: ``▒`` while the prompt is processed (sent → first chunk), ``█`` while text
    streams (blue for the planner, cyan for the joiner). Then a row per task: ``·`` from the moment its line was
    parsed until the tool was called (dependencies, limits), ``█`` while the tool ran (green: succeeded, red:
    failed, magenta: skipped or refused), ``✗`` where a task that never ran ended. Every started task gets at least
    one ``█`` cell. An axis in seconds closes it.

    Args:
        result: A finished run.
    """

    def __init__(self, result: PlanResult) -> None:
        self.result = result

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.lines(options.max_width)

    def lines(self, width: int) -> list[Text]:
        """The picture as lines of at most ``width`` cells (at least 30)."""
        width = max(width, 30)
        rows, total = _rows(self.result)
        if not rows:
            return [Text("(nothing ran)", style="dim")]
        label_w = min(max(len(r.label) for r in rows), _MAX_LABEL, max(width // 3, 8))
        cells = max(width - label_w - 2, _MIN_BAR)
        scale = cells / total if total > 0 else 0.0

        def cell(t: float) -> int:
            return min(cells - 1, max(0, int(t * scale)))

        out: list[Text] = []
        for row in rows:
            chars = [" "] * cells
            styles = [""] * cells
            for start, end, char, style in row.pieces:
                if end <= start:
                    continue
                a, b = cell(start), cell(end - 1e-12)
                for i in range(a, b + 1):
                    if char == _WAIT_CHAR and chars[i] not in (" ", _WAIT_CHAR):
                        continue
                    chars[i], styles[i] = char, style
            for at, char, style in row.marks:
                i = cell(at)
                if chars[i] != _RUN_CHAR or char == _RUN_CHAR:
                    chars[i], styles[i] = char, style
            line = Text(_fit(row.label, label_w).ljust(label_w) + "  ")
            for char, style in zip(chars, styles, strict=True):
                line.append(char, style=style or None)
            line.rstrip()
            out.append(line)
        out.extend(_axis(label_w, cells, total))
        return out


def _fit(label: str, width: int) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _axis(label_w: int, cells: int, total: float) -> list[Text]:
    step = _tick_step(total, cells)
    ruler = ["─"] * cells
    numbers = [" "] * (cells + 8)
    ticks = int(total / step + 1e-9) if total > 0 else 0
    last_end = -2
    placed: list[tuple[int, int]] = []  # (start, end) of each number written
    for k in range(ticks + 1):
        t = k * step
        at = min(cells - 1, int(t * cells / total)) if total > 0 else 0
        ruler[at] = "┴" if k else "└"
        label = _seconds(t, step)
        if at >= last_end + 1 and at + len(label) <= cells:
            numbers[at : at + len(label)] = list(label)
            last_end = at + len(label)
            placed.append((at, last_end))
    unit = " s"
    right = "".join(numbers[:cells]).rstrip()
    while len(right) + len(unit) > cells and len(placed) > 1:  # the unit always shows: drop the last numbers
        start, end = placed.pop()
        numbers[start:end] = [" "] * (end - start)
        right = "".join(numbers[:cells]).rstrip()
    if len(right) + len(unit) <= cells:
        right += unit
    pad = " " * (label_w + 2)
    return [Text(pad + "".join(ruler), style="dim"), Text(pad + right, style="dim")]


def timeline_text(result: PlanResult, width: int = 100) -> str:
    """`Timeline` as plain text of at most ``width`` columns (no colours), e.g. for docs and logs."""
    return "\n".join(str(line).rstrip() for line in Timeline(result).lines(width)) + "\n"
