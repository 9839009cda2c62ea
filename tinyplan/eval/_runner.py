"""The evaluation runner: plan every case with a system, score it, write JSON lines and a Markdown summary.

A *system* turns an `EvalCase` into a `Prediction` (the parsed plan, its text, timings, token usage). Two ship:
`TinyplanSystem` (the `tinyplan.Planner` with any backend, grammar level and ToolRAG retriever; the plan runs
through the real streaming parser and task fetching unit against stand-in tools that echo their arguments) and
`tinyplan.eval.LlamaFunctionCallingBaseline` (llama-cpp-python's own function calling). `evaluate` runs a system
over cases with bounded concurrency and a rich progress bar, scores each plan with `score_plan`, and returns an
`EvalReport`.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import anyio
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tinyplan._backend import Backend
from tinyplan._errors import BackendError, BackendUnavailableError, RequestError, TinyplanError
from tinyplan._grammar import GrammarLevel
from tinyplan._planner import Planner
from tinyplan._retriever import ToolRetriever
from tinyplan._types import Task
from tinyplan.eval._metrics import CaseScore, Summary, score_plan, summarize
from tinyplan.eval.datasets import EvalCase, EvalDataError

__all__ = [
    "CaseRecord",
    "EvalReport",
    "EvalSystem",
    "Prediction",
    "TinyplanSystem",
    "evaluate",
    "markdown_table",
    "write_results",
]


@dataclass
class Prediction:
    """What a system produced for one case.

    Attributes:
        tasks: The parsed plan including its ``join`` task; None when no complete plan came out.
        text: The raw plan text (or, for a function-calling baseline, the calls written as a plan).
        error: Why there is no plan (parse/validation error or backend failure), else None.
        error_kind: ``"parse"`` (the model's output is not a valid plan for the tools), ``"backend"`` (the model
            could not be asked) or ``"request"`` (the case's prompt does not fit the model's context), else None.
        timings: Seconds by phase (system-specific keys; ``total`` always present).
        usage: Token counts (``prompt_tokens``, ``completion_tokens``).
        tools_shown: Tool names the model was shown (after ToolRAG selection).
        relevance: The free first action of the planner's relevance check (``"1. some_tool"``), when it ran.
        invented: The numbers the first action made up when the relevance check turned the plan into ``1. join()``
            for them (`tinyplan.invented_numbers`), else empty.
        repairs: The plan checks' repairs, ``"kind: message"`` each.
    """

    tasks: list[Task] | None
    text: str = ""
    error: str | None = None
    error_kind: str | None = None
    timings: dict[str, float | None] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    tools_shown: list[str] = field(default_factory=list)
    relevance: str | None = None
    invented: list[float] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)


@runtime_checkable
class EvalSystem(Protocol):
    """Anything that plans a case: ``name`` for the results table and ``async predict(case) -> Prediction``."""

    name: str

    async def predict(self, case: EvalCase) -> Prediction:
        """Plan ``case`` (must not raise for model failures: report them in the `Prediction`)."""
        ...


class TinyplanSystem:
    """The tinyplan planner as an evaluation system.

    Each case gets a fresh `Planner` over the case's stand-in toolset with ``join="observations"`` (no joiner call:
    only the plan is scored) and ``max_replans=0`` (the first plan is judged, as in TinyAgent's evaluation).

    Args:
        backend: The language model.
        grammar: None, ``"syntax"`` or ``"typed"`` (GBNF constrained decoding; the backend must support it).
        retriever: A ToolRAG retriever (`tinyplan.rag`), or None to show every tool of the case.
        max_tokens: Tokens a plan may take.
        chat: Chat messages (True) or one plain completion prompt (False); None keeps the `Planner`'s default.
        relevance_check: The planner's relevance check (``Planner(relevance_check=True)``): a request whose free
            first action names no listed tool gets a plan without tool calls.
        self_check: The planner's plan checks and line repair (``Planner(self_check=True)``); the repairs are
            recorded with each case (``+check`` in the name).
        name: The system's name in results (default ``tinyplan`` plus the grammar level, ``+rag`` and
            ``+relevance``).
        planner_options: More `Planner` keyword arguments.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        grammar: GrammarLevel | None = None,
        retriever: ToolRetriever | None = None,
        max_tokens: int = 512,
        chat: bool | None = None,
        relevance_check: bool = False,
        self_check: bool = False,
        name: str | None = None,
        planner_options: dict[str, Any] | None = None,
    ) -> None:
        self.backend = backend
        self.grammar: GrammarLevel | None = grammar
        self.retriever = retriever
        self.max_tokens = max_tokens
        self.planner_options = dict(planner_options or {})
        if chat is not None:
            self.planner_options["chat"] = chat
        if relevance_check:
            self.planner_options["relevance_check"] = True
        if self_check:
            self.planner_options["self_check"] = True
        self.name = name or (
            "tinyplan"
            + (f"[{grammar}]" if grammar else "")
            + ("+rag" if retriever else "")
            + ("+relevance" if relevance_check else "")
            + ("+check" if self_check else "")
        )

    def planner(self, case: EvalCase) -> Planner:
        """The planner used for ``case``."""
        return Planner(
            self.backend,
            tools=case.toolset(),
            grammar=self.grammar,
            join="observations",
            max_replans=0,
            retriever=self.retriever,
            max_tokens=self.max_tokens,
            **self.planner_options,
        )

    async def predict(self, case: EvalCase) -> Prediction:
        """Plan and execute the case; a parse failure or backend error becomes the prediction's error.

        Raises:
            BackendUnavailableError: The backend cannot be reached or loaded (the whole run stops).
        """
        planner = self.planner(case)
        started = time.perf_counter()
        try:
            result = await planner.run(case.request)
        except BackendUnavailableError:
            raise  # no model to ask: a configuration problem, not a per-case failure
        except BackendError as exc:
            return Prediction(
                tasks=None,
                error=f"{type(exc).__name__}: {exc}",
                error_kind="backend",
                timings={"total": time.perf_counter() - started},
            )
        except RequestError as exc:  # the case's prompt does not fit the model's context: a failed case, not a crash
            return Prediction(
                tasks=None,
                error=f"RequestError: {exc}",
                error_kind="request",
                timings={"total": time.perf_counter() - started},
            )
        plan = result.plans[-1] if result.plans else None
        t = result.timings
        timings: dict[str, float | None] = {
            "total": t.total,
            "retrieval": t.retrieval,
            "prompt_build": t.prompt_build,
            "time_to_first_token": t.time_to_first_token,
            "time_to_first_tool_start": t.time_to_first_tool_start,
            "plan_generation": t.plan_generation,
            "execution": t.execution,
        }
        usage = {"prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens}
        if plan is None:
            return Prediction(tasks=None, error=result.error or "no plan", error_kind="parse", timings=timings)
        error = plan.parse_error
        tasks = list(plan.tasks)
        if error is None and (not tasks or not tasks[-1].is_join):
            error = "the plan ended without join()"
        return Prediction(
            tasks=None if error else tasks,
            text=plan.text,
            error=error,
            error_kind="parse" if error else None,
            timings=timings,
            usage=usage,
            tools_shown=list(result.tools),
            relevance=plan.relevance.text if plan.relevance is not None else None,
            invented=list(plan.relevance.invented) if plan.relevance is not None else [],
            repairs=[f"{p.kind}: {p.message}" + (f" [fixed in place: {p.fix}]" if p.fix else "") for p in plan.repairs],
        )


@dataclass
class CaseRecord:
    """One evaluated case: what went in, what came out, the scores."""

    case: EvalCase
    system: str
    prediction: Prediction
    score: CaseScore

    def to_dict(self) -> dict[str, Any]:
        """The JSON line written for this case."""
        p = self.prediction
        return {
            "id": self.case.id,
            "dataset": self.case.dataset,
            "system": self.system,
            "request": self.case.request,
            "predicted_plan": p.text,
            "gold_plan": self.case.gold_plan_text(),
            "error": p.error,
            "error_kind": p.error_kind,
            "scores": self.score.to_dict(),
            "timings": p.timings,
            "usage": p.usage,
            "tools_offered": self.case.tool_names,
            "tools_shown": p.tools_shown,
            "relevance": p.relevance,
            "invented": p.invented,
            "repairs": p.repairs,
        }


@dataclass
class EvalReport:
    """The records of one system over one dataset, with their `Summary`."""

    system: str
    dataset: str
    records: list[CaseRecord]

    @property
    def summary(self) -> Summary:
        """Aggregated scores."""
        return summarize([r.score for r in self.records])

    def latency(self) -> float | None:
        """Median seconds per case (the ``total`` timing), or None without records."""
        totals = [r.prediction.timings.get("total") for r in self.records]
        values = [v for v in totals if v is not None]
        return statistics.median(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        """Summary as JSON-ready data."""
        return {"system": self.system, "dataset": self.dataset, **self.summary.to_dict(), "median_s": self.latency()}


async def evaluate(
    cases: Sequence[EvalCase],
    system: EvalSystem,
    *,
    concurrency: int = 1,
    progress: bool = True,
    on_record: Callable[[CaseRecord], None] | None = None,
) -> EvalReport:
    """Run ``system`` on every case and score each plan.

    Args:
        cases: The cases (from `load_dataset`).
        system: `TinyplanSystem`, the llama.cpp baseline, or any `EvalSystem`.
        concurrency: Cases in flight at once (>= 1). A single local model serves one request at a time; more only
            helps with servers that batch.
        progress: Show a rich progress bar on the terminal.
        on_record: Called with each record as soon as it is scored (e.g. to append it to a file).

    Returns:
        The report, records in case order.

    Raises:
        EvalDataError: ``concurrency`` < 1 or a case's tools cannot be built.
        TinyplanError: The system failed in a way that is not a per-case model failure (e.g. bad configuration).
    """
    if concurrency < 1:
        raise EvalDataError(f"concurrency must be >= 1, got {concurrency}")
    dataset = cases[0].dataset if cases else ""
    records: dict[int, CaseRecord] = {}
    limiter = anyio.CapacityLimiter(concurrency)
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("DAG ok {task.fields[ok]}"),
        TimeElapsedColumn(),
        disable=not progress,
        transient=False,
    )
    ok = 0

    async def one(i: int, case: EvalCase, task_id: Any) -> None:
        nonlocal ok
        async with limiter:
            prediction = await system.predict(case)
        score = score_plan(prediction.tasks, case, error=prediction.error)
        record = CaseRecord(case=case, system=system.name, prediction=prediction, score=score)
        records[i] = record
        ok += score.dag_success
        bar.update(task_id, advance=1, ok=ok)
        if on_record is not None:
            on_record(record)

    with bar:
        task_id = bar.add_task(f"{system.name} on {dataset}", total=len(cases), ok=0)
        try:
            async with anyio.create_task_group() as tg:
                for i, case in enumerate(cases):
                    tg.start_soon(one, i, case, task_id)
        except BaseExceptionGroup as group:
            raise _first_leaf(group) from None  # e.g. BackendUnavailableError, not an ExceptionGroup around it
    return EvalReport(system=system.name, dataset=dataset, records=[records[i] for i in range(len(cases))])


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def markdown_table(reports: Sequence[EvalReport]) -> str:
    """The summary table (Markdown): one row per report; rates in percent, median seconds per case."""
    head = (
        "| system | dataset | cases | DAG success % | strict % | same calls % | tool P % | tool R % | edge P % "
        "| edge R % | parse failures % | invalid % | median s/case |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = []
    for r in reports:
        s = r.summary
        latency = r.latency()
        rows.append(
            f"| {r.system} | {r.dataset} | {s.cases} | {_pct(s.dag_success)} | {_pct(s.strict_success)} "
            f"| {_pct(s.same_calls)} "
            f"| {_pct(s.tool_precision)} | {_pct(s.tool_recall)} | {_pct(s.edge_precision)} | {_pct(s.edge_recall)} "
            f"| {_pct(s.failure_rate)} | {_pct(s.invalid_rate)} | {'n/a' if latency is None else f'{latency:.2f}'} |"
        )
    return "\n".join([head, *rows]) + "\n"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text).strip("_") or "run"


def write_results(reports: Sequence[EvalReport], out_dir: str | Path) -> list[Path]:
    """Write ``<system>__<dataset>.jsonl`` per report (one JSON line per case), ``summary.json`` and ``summary.md``.

    Returns:
        The paths written.

    Raises:
        TinyplanError: The folder cannot be created or written.
    """
    folder = Path(out_dir)
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for r in reports:
            path = folder / f"{_slug(r.system)}__{_slug(r.dataset)}.jsonl"
            with path.open("w", encoding="utf-8") as fh:
                for rec in r.records:
                    fh.write(json.dumps(rec.to_dict(), ensure_ascii=False, default=str) + "\n")
            written.append(path)
        summary_json = folder / "summary.json"
        summary_json.write_text(json.dumps([r.to_dict() for r in reports], indent=2) + "\n", encoding="utf-8")
        summary_md = folder / "summary.md"
        summary_md.write_text(markdown_table(reports), encoding="utf-8")
    except OSError as exc:
        raise TinyplanError(f"cannot write results to {folder}: {exc}") from exc
    return [*written, summary_json, summary_md]
