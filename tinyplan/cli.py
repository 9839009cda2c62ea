"""The ``tinyplan`` command line: run a request with a local model, manage the default model, evaluate.

``tinyplan run "Text Sid and Lutfi that the meeting moved to 3pm"`` plans with the default local model and TinyAgent's
Mac toolset (the portable driver over a sample home folder off macOS), shows the plan as it streams and each task as
it starts and finishes, then the answer. Errors print one line and exit non-zero (``--debug`` shows the traceback).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import click
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tinyplan._backend import Backend
from tinyplan._cli_options import backend_options, load_attribute
from tinyplan._errors import TinyplanError
from tinyplan._events import Event, FinalAnswer, JoinDecided, PlanParseFailed, Replanning, TaskParsed, Token
from tinyplan._planner import Planner, check_request_text
from tinyplan._tools import Toolset, as_toolset
from tinyplan._trace import Timeline, mermaid
from tinyplan._types import Plan, PlanResult, TaskResult, TaskState, observation_text

__all__ = ["main"]

_STATE_STYLE = {
    TaskState.PENDING: ("waiting", "dim"),
    TaskState.RUNNING: ("running", "yellow"),
    TaskState.SUCCEEDED: ("done", "green"),
    TaskState.FAILED: ("failed", "red"),
    TaskState.TIMED_OUT: ("timed out", "red"),
    TaskState.SKIPPED: ("skipped", "magenta"),
    TaskState.REFUSED: ("refused", "magenta"),
    TaskState.CANCELLED: ("cancelled", "red"),
}


class _Display:
    """The live terminal view of a run: the plan text as it streams, then a table of tasks and their states."""

    def __init__(self, verbose: int) -> None:
        self.verbose = verbose
        self.round = 0
        self.plan_text: dict[int, str] = {}
        self.tasks: dict[tuple[int, int], TaskResult | None] = {}
        self.calls: dict[tuple[int, int], str] = {}
        self.plan_done: set[int] = set()
        self.notes: list[Text] = []

    def on_event(self, event: Event) -> None:
        if isinstance(event, Token) and event.phase == "plan":
            if event.round not in self.plan_done:
                self.plan_text[event.round] = self.plan_text.get(event.round, "") + event.text
        elif isinstance(event, TaskParsed):
            if not event.task.is_join:
                key = (event.round, event.task.idx)
                self.calls[key] = event.task.text
                self.tasks.setdefault(key, None)
            else:  # the plan ends at join(): what the model wrote after it (a stop string's start) is not shown
                self.plan_done.add(event.round)
                text = self.plan_text.get(event.round, "")
                end = text.rfind(event.task.text)
                if end >= 0:
                    self.plan_text[event.round] = text[: end + len(event.task.text)]
        elif hasattr(event, "result") and isinstance(event.result, TaskResult):
            if not event.result.task.is_join:
                key = (event.round, event.result.task.idx)
                self.calls.setdefault(key, event.result.task.text)
                self.tasks[key] = event.result
        elif isinstance(event, PlanParseFailed):
            self.notes.append(Text(f"plan {event.round + 1}: {event.error}", style="red"))
        elif isinstance(event, Replanning):
            self.notes.append(Text(f"replanning: {event.reason}", style="yellow"))
        elif isinstance(event, JoinDecided) and self.verbose and event.decision.thought:
            self.notes.append(Text(f"joiner: {event.decision.thought}", style="cyan"))

    def render(self) -> Group:
        parts: list[Any] = []
        for rnd, text in sorted(self.plan_text.items()):
            title = "plan" if rnd == 0 else f"replan {rnd}"
            parts.append(Panel(Text(text.strip() or "…"), title=title, title_align="left", border_style="blue"))
        if self.tasks:
            table = Table(show_header=True, header_style="bold", expand=False, box=None, padding=(0, 1))
            table.add_column("#", justify="right")
            table.add_column("task")
            table.add_column("state")
            table.add_column("observation", overflow="fold", max_width=70)
            for (rnd, idx), res in self.tasks.items():
                label, style = _STATE_STYLE[res.state if res else TaskState.PENDING]
                if res is not None and res.reused:
                    label = "done (reused)"
                if res is None or not res.state.terminal:
                    obs = ""
                elif res.ok:
                    obs = observation_text(res.observation)
                else:
                    obs = res.error or ""
                if len(obs) > 200 and not self.verbose:
                    obs = obs[:199] + "…"
                prefix = f"{rnd + 1}." if len(self.plan_text) > 1 else ""
                table.add_row(f"{prefix}{idx}", self.calls[(rnd, idx)], Text(label, style=style), obs)
            parts.append(table)
        parts.extend(self.notes)
        return Group(*parts)


def _load_toolset(spec: str) -> Toolset:
    """``module:attribute`` → a `Toolset` (a toolset, a list of tools, or a function returning either)."""
    obj = load_attribute(spec, param_hint="--toolset", example="mytools:toolset")
    if callable(obj) and not isinstance(obj, Toolset) and not hasattr(obj, "__tinyplan_tool__"):
        obj = obj()
    if isinstance(obj, Toolset):
        return obj
    try:
        return as_toolset(obj if isinstance(obj, list | tuple) else [obj])
    except TinyplanError as exc:
        raise click.BadParameter(str(exc), param_hint="--toolset") from exc


def _make_backend(
    model: str | None,
    server: str | None,
    openai: str | None,
    openai_model: str | None,
    grammar_format: str | None = None,
    lora: str | os.PathLike[str] | None = None,
) -> Backend:
    """`tinyplan.backends.make_backend` with ``tinyplan run``'s settings; misuse of the options is a usage error.

    The ``run`` profile is shared with ``tinyplan model install``, which warms its prompt cache.
    """
    from tinyplan.backends import make_backend

    if server and openai:
        raise click.UsageError("give --server or --openai, not both")
    if grammar_format and not openai:
        raise click.UsageError("--grammar-format is an option of --openai")
    if lora is not None and (server or openai):
        raise click.UsageError("--lora applies to the in-process model; start the server with its adapter (--lora)")
    return make_backend(
        model,
        server=server,
        openai=openai,
        openai_model=openai_model if openai else None,
        grammar_format=grammar_format,
        lora=lora,
        profile="run",
    )


def _bank(spec: str, k: int, *, mac: bool) -> Any:
    """The example bank for ``--bank``.

    A file, the Mac toolset's packaged bank ('auto' with the Mac toolset), or None ('none', k=0, or 'auto' with other
    tools or without a packaged bank).
    """
    from tinyplan.data import MAC_BANK_PATH, ExampleBank

    if spec == "none" or k == 0:
        return None
    if spec == "auto":
        if not mac or not MAC_BANK_PATH.exists():
            return None
        return ExampleBank.load(MAC_BANK_PATH, k=k, method="bm25")
    return ExampleBank.load(spec, k=k, method="bm25")


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"tinyplan: error: {message}", err=True)
    sys.exit(code)


def _guard(debug: bool, work: Callable[[], None]) -> None:
    """Run ``work``; errors print one line (or the traceback with ``--debug``) and exit non-zero."""
    try:
        work()
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except TinyplanError as exc:
        if debug:
            raise
        _fail(str(exc))
    except Exception as exc:
        if debug:
            raise
        _fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)", 2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tinyplan")
def main() -> None:
    """tinyplan: a small local model plans tool calls, tinyplan runs them in parallel."""


@main.command()
@click.argument("query", required=False)
@backend_options
@click.option(
    "--grammar-format",
    type=click.Choice(["llama.cpp", "vllm", "vllm-guided", "sglang"]),
    help="Where --openai's server reads a GBNF grammar (default llama.cpp: the 'grammar' field).",
)
@click.option("--toolset", "toolset_spec", metavar="MODULE:ATTR", help="Your own tools instead of the Mac toolset.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), help="Home folder of the Mac toolset.")
@click.option(
    "--allow-dir",
    "allow_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder the Mac toolset may also read and attach files from (besides its home); repeatable.",
)
@click.option("--max-replans", default=1, show_default=True, type=click.IntRange(0, 10))
@click.option(
    "--join",
    "join_mode",
    type=click.Choice(["auto", "llm", "observations"]),
    default="auto",
    show_default=True,
    help="auto: when the last steps are actions that report what they did, their reports are the answer; otherwise "
    "the model answers (llm). observations: list every observation.",
)
@click.option("--grammar", type=click.Choice(["none", "syntax", "typed"]), default="typed", show_default=True,
              help="Constrain the plan with a GBNF grammar generated from the tools.")  # fmt: skip
@click.option(
    "--rag/--no-rag",
    default=False,
    show_default=True,
    help="ToolRAG: show the model only the tools and example plans closest to QUERY (needs tinyplan[rag]).",
)
@click.option(
    "--relevance-check/--no-relevance-check",
    default=False,
    show_default=True,
    help="Call no tool when the model, writing freely, would call a tool the toolset does not have.",
)
@click.option(
    "--self-check/--no-self-check",
    default=True,
    show_default=True,
    help="Check each plan line as it streams (semantic dataflow, invented values, requested actions left out) "
    "and have the model write a faulty line again.",
)
@click.option(
    "--audio",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A spoken request (WAV) to transcribe offline instead of QUERY (needs tinyplan[voice]).",
)
@click.option("--whisper-server", metavar="URL", help="Transcribe --audio with a whisper.cpp server at URL.")
@click.option(
    "--trace",
    "trace_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the run as Chrome trace JSON (open it in Perfetto or chrome://tracing).",
)
@click.option("--graph", is_flag=True, help="Print the plan's DAG as a Mermaid flowchart.")
@click.option(
    "--bank",
    "bank_spec",
    default="none",
    show_default=True,
    help="Example bank shown after the prompt's static part: a JSONL file of examples (tinyplan synth), 'auto' (the "
    "Mac toolset's packaged bank with the Mac toolset) or 'none'.",
)
@click.option("--bank-k", type=click.IntRange(0, 20), default=3, show_default=True, help="Bank examples per request.")
@click.option(
    "--lora",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A GGUF LoRA adapter for the model (tinyplan finetune's adapter.gguf); implies --no-examples.",
)
@click.option(
    "--examples/--no-examples",
    "show_examples",
    default=None,
    help="Show the toolset's in-context example plans in the prompt (default: yes, except with --lora: a fine-tuned "
    "model needs none, and a prompt without them is shorter).",
)
@click.option("--dry-run", is_flag=True, help="Only write the plan; run nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the PlanResult as JSON instead of the live view.")
@click.option("-v", "--verbose", count=True, help="Show more (joiner thoughts, full observations, timings).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def run(
    query: str | None,
    model: str | None,
    server: str | None,
    openai: str | None,
    openai_model: str | None,
    grammar_format: str | None,
    toolset_spec: str | None,
    home: Path | None,
    allow_dirs: tuple[Path, ...],
    max_replans: int,
    join_mode: str,
    grammar: str,
    rag: bool,
    relevance_check: bool,
    self_check: bool,
    audio: Path | None,
    whisper_server: str | None,
    trace_path: Path | None,
    graph: bool,
    bank_spec: str,
    bank_k: int,
    lora: Path | None,
    show_examples: bool | None,
    dry_run: bool,
    as_json: bool,
    verbose: int,
    debug: bool,
) -> None:
    """Plan QUERY with a local model and run the plan."""

    def work() -> None:
        if audio is None:
            check_request_text(query or "")  # before anything is loaded or created
        elif query:
            raise click.UsageError("give QUERY or --audio, not both")
        if toolset_spec:
            if allow_dirs:
                raise click.UsageError("--allow-dir is an option of the Mac toolset, not of --toolset")
            tools = _load_toolset(toolset_spec)
        else:
            from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

            if home is not None and not home.exists():
                copy_sample_home(home)
                click.echo(f"tinyplan: created {home} from the sample home", err=True)
            tools = mac_toolset(home, allow=list(allow_dirs))
        request = query or ""
        if audio is not None:
            from tinyplan._voice_cli import hear

            request = hear(audio, tools, mac_home=home, mac=not toolset_spec, server=whisper_server, quiet=as_json)
        retriever = None
        if rag:
            from tinyplan.rag import EmbeddingRetriever

            retriever = EmbeddingRetriever()  # a missing extra raises with the install hint
        backend = _make_backend(model, server, openai, openai_model, grammar_format, lora)
        from tinyplan.backends._default_run import default_run_planner

        planner = default_run_planner(
            backend,
            tools,
            join=join_mode,  # type: ignore[arg-type]
            max_replans=max_replans,
            grammar=None if grammar == "none" else grammar,  # type: ignore[arg-type]
            retriever=retriever,
            relevance_check=relevance_check,
            self_check=self_check,
        )
        if not (lora is None if show_examples is None else show_examples):
            from tinyplan._prompt_profiles import without_examples

            planner.renderer = without_examples(planner.renderer)  # the prompt a fine-tuned model learned from
        planner.renderer = planner.renderer.with_bank(_bank(bank_spec, bank_k, mac=toolset_spec is None))
        anyio.run(_run_async, planner, backend, request, dry_run, as_json, verbose, trace_path, graph)

    _guard(debug, work)


async def _run_async(
    planner: Planner,
    backend: Backend,
    query: str,
    dry_run: bool,
    as_json: bool,
    verbose: int,
    trace_path: Path | None = None,
    graph: bool = False,
) -> None:
    console = Console(highlight=False)
    display = _Display(verbose)
    # Live redraws in a terminal; elsewhere (a pipe, a file) it would only print its last frame, without the final
    # newline, so the answer panel would start on the table's last line: print the finished view instead.
    live = Live(display.render(), console=console, refresh_per_second=12) if console.is_terminal else None
    if as_json:
        live = None

    def on_event(event: Event) -> None:
        display.on_event(event)
        if live is not None:
            live.update(display.render())

    try:
        with live if live is not None else contextlib.nullcontext():
            if dry_run:
                plan = await planner.plan(query, on_event=on_event)
            else:
                result = await _collect(planner, query, on_event)
    finally:
        if live is None and not as_json and (display.plan_text or display.tasks or display.notes):
            console.print(display.render())
        await backend.aclose()
    if dry_run:
        if as_json:
            click.echo(json.dumps(_dry_run_dict(plan), ensure_ascii=False, indent=2))
        if graph:
            click.echo(mermaid([plan]), err=as_json)
        if plan.parse_error:
            raise TinyplanError(f"the plan does not parse: {plan.parse_error}")
        return
    if as_json:
        click.echo(result.to_json(indent=2))
    else:
        _print_answer(console, result, verbose)
    _write_pictures(result, trace_path, graph, as_json)
    if result.status != "answered":
        sys.exit(1)


async def _collect(planner: Planner, query: str, on_event: Callable[[Event], None]) -> PlanResult:
    result: PlanResult | None = None
    async with contextlib.aclosing(planner.stream(query)) as events:
        async for event in events:
            on_event(event)
            if isinstance(event, FinalAnswer):
                result = event.result
    if result is None:
        raise TinyplanError("the run ended without a result")
    return result


def _dry_run_dict(plan: Plan) -> dict[str, Any]:
    return {
        "text": plan.text,
        "tasks": [
            {"idx": t.idx, "tool": t.name, "call": t.text, "dependencies": list(t.dependencies), "thought": t.thought}
            for t in plan.tasks
        ],
        "parse_error": plan.parse_error,
    }


def _print_answer(console: Console, result: PlanResult, verbose: int) -> None:
    if result.answer is not None:
        console.print(Panel(Text(result.answer), title="answer", title_align="left", border_style="green"))
    else:
        console.print(Text(f"no answer ({result.status}): {result.error}", style="red"))
    if result.observations or any(p.requests for p in result.plans):
        console.print(Timeline(result))  # a bar per task on a shared time axis
    t = result.timings
    if verbose:
        console.print(
            Text(
                f"first token {_s(t.time_to_first_token)} · first tool {_s(t.time_to_first_tool_start)} · "
                f"plan {t.plan_generation:.2f} s · run {t.execution:.2f} s · join {t.join:.2f} s · "
                f"total {t.total:.2f} s · tokens {result.usage.prompt_tokens} in / "
                f"{result.usage.completion_tokens} out",
                style="dim",
            )
        )


def _write_pictures(result: PlanResult, trace_path: Path | None, graph: bool, as_json: bool) -> None:
    """``--trace FILE``: the Chrome trace JSON; ``--graph``: the Mermaid flowchart (on stderr with ``--json``)."""
    if graph:
        click.echo(result.to_mermaid(), err=as_json)
    if trace_path is not None:
        trace_path.write_text(json.dumps(result.to_chrome_trace(), ensure_ascii=False), encoding="utf-8")
        click.echo(f"tinyplan: wrote {trace_path} (open it in https://ui.perfetto.dev or chrome://tracing)", err=True)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


@main.group()
def model() -> None:
    """The default local model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF, shipped as PyPI part packages)."""


@model.command("path")
@click.option("--debug", is_flag=True)
def model_path(debug: bool) -> None:
    """Print the path of the model file tinyplan uses ($TINYPLAN_MODEL or the default), assembling it if needed."""
    from tinyplan.backends._gguf import resolve_model

    _guard(debug, lambda: click.echo(str(resolve_model())))


@model.command("install")
@click.option(
    "--prompt-cache/--no-prompt-cache",
    "warm",
    default=True,
    show_default=True,
    help="Also store the default `tinyplan run` prompt's prefix in the disk prompt cache (~1 min on 2 cores, ~100 MB "
    "in $TINYPLAN_PROMPT_CACHE or ~/.cache/tinyplan/prompt-cache), so the first run answers in seconds.",
)
@click.option("--debug", is_flag=True)
def model_install(warm: bool, debug: bool) -> None:
    """Assemble the default model from its part packages into the cache, verify it, and warm the prompt cache.

    The sha256 is checked; the prompt cache warmed is the default `tinyplan run`'s (the model it uses:
    $TINYPLAN_MODEL or the default).
    """
    from tinyplan.backends._gguf import default_model_path

    def work() -> None:
        path = default_model_path()
        click.echo(f"model ready: {path} ({path.stat().st_size / 1e9:.2f} GB)")
        if not warm:
            return
        from tinyplan._errors import BackendUnavailableError
        from tinyplan.backends._default_run import warm_default_run

        try:
            done = anyio.run(warm_default_run)
        except BackendUnavailableError as exc:  # e.g. llama-cpp-python is not installed: the model is still ready
            click.echo(f"prompt cache not built: {exc}", err=True)
            return
        if done.path is None:
            click.echo("prompt cache not stored (turned off, or its folder is not writable)", err=True)
            return
        size = done.path.stat().st_size / 1e6 if done.path.exists() else 0.0
        how = f"built in {done.seconds:.1f} s" if done.built else "already there"
        click.echo(
            f"prompt cache ready: the default run's {done.tokens:,}-token prefix, {how} ({size:.0f} MB, {done.path})"
        )

    _guard(debug, work)


def _register_eval() -> None:
    try:
        from tinyplan.eval._cli import eval_command
    except ImportError:  # the evaluation harness is optional at import time
        return
    main.add_command(eval_command, "eval")


def _register_mcp() -> None:
    from tinyplan._mcp_cli import mcp_group  # imports without the MCP SDK; `mcp serve` says what to install

    main.add_command(mcp_group, "mcp")


def _register_voice() -> None:
    from tinyplan._voice_cli import listen_command  # imports without the voice extra; `listen` says what to install

    main.add_command(listen_command, "listen")


def _register_synth() -> None:
    from tinyplan.data._cli import synth_group

    main.add_command(synth_group, "synth")


_register_eval()
_register_mcp()
_register_voice()
_register_synth()
main.add_command(importlib.import_module("tinyplan._finetune_cli").finetune_command, "finetune")
