"""``tinyplan synth``: synthesize checked examples, export them for fine-tuning, summarize a file."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import click

from tinyplan._backend import Backend
from tinyplan._errors import TinyplanError
from tinyplan._tools import Toolset

__all__ = ["synth_group"]


def _toolset(spec: str) -> Toolset:
    if spec == "mac":
        from tinyplan.toolsets.mac import mac_toolset, sample_home_path

        return mac_toolset(sample_home_path(), driver="portable")  # for the schemas: plans run in the sandbox
    from tinyplan.cli import _load_toolset

    return _load_toolset(spec)


def _backend(model: str | None, server: str | None, openai: str | None, openai_model: str | None) -> Backend:
    """`tinyplan.backends.make_backend` for ``tinyplan synth`` (no disk prompt cache: each request differs)."""
    from tinyplan.backends import make_backend

    if server and openai:
        raise click.UsageError("give --server or --openai, not both")
    if server or openai:
        return make_backend(server=server, openai=openai, openai_model=openai_model if openai else None)
    return make_backend(model, n_ctx=4096, prompt_cache=False)


def _fail(exc: Exception, debug: bool) -> None:
    if debug:
        raise exc
    click.echo(f"tinyplan: error: {exc}", err=True)
    sys.exit(1)


@click.group("synth", invoke_without_command=True)
@click.option("--toolset", "toolset_spec", default="mac", show_default=True, help="'mac' or MODULE:ATTR.")
@click.option("-n", "--count", type=click.IntRange(min=0), default=100, show_default=True,
              help="Kept examples the output file should hold (a run tops it up).")  # fmt: skip
@click.option("--mode", type=click.Choice(["plan-first", "request-first"]), default="plan-first", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSONL file to append to (default: synth-<toolset>.jsonl).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--model", default=None, help="GGUF file, 'default' or 'tiny' (in-process llama.cpp).")
@click.option("--server", metavar="URL", help="A running llama-server.")
@click.option("--openai", metavar="URL", help="An OpenAI-compatible API (request-first: the generator).")
@click.option("--openai-model", metavar="NAME", help="The model name for --openai.")
@click.option("--planner-model", default=None, help="request-first: the GGUF that plans (default: the generator).")
@click.option("--max-calls", type=click.IntRange(1, 12), default=6, show_default=True)
@click.option("--max-attempts", type=click.IntRange(min=1), default=None, help="Stop after this many tries.")
@click.option("--sandbox/--no-sandbox", default=True, show_default=True,
              help="Run each plan in the toolset's sandbox (the Mac toolset's copy of the sample home).")  # fmt: skip
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--debug", is_flag=True)
@click.pass_context
def synth_group(
    ctx: click.Context,
    toolset_spec: str,
    count: int,
    mode: str,
    out: Path | None,
    seed: int,
    model: str | None,
    server: str | None,
    openai: str | None,
    openai_model: str | None,
    planner_model: str | None,
    max_calls: int,
    max_attempts: int | None,
    sandbox: bool,
    progress: bool,
    debug: bool,
) -> None:
    """Synthesize checked (request, plan) examples for a toolset, appending to a JSONL file.

    Plan-first with a small local model, or request-first with a strong generator; subcommands export and summarize
    them.

    Example: tinyplan synth -n 200 --out mac-bank.jsonl
    """
    if ctx.invoked_subcommand is not None:
        return
    from tinyplan.data._profile import is_mac_toolset, mac_profile, profile_for
    from tinyplan.data._synth import synthesize

    try:
        tools = _toolset(toolset_spec)
        name = "mac" if toolset_spec == "mac" else toolset_spec.replace(":", "-").replace(".", "-")
        profile = mac_profile(sandbox=sandbox) if is_mac_toolset(tools) else profile_for(tools, name=name)
        target = out or Path(f"synth-{name}.jsonl")
        backend = _backend(model, server, openai, openai_model)
        planner_backend = None
        if planner_model:
            from tinyplan.backends import LlamaCppBackend

            planner_backend = LlamaCppBackend(planner_model, n_ctx=8192, prompt_cache=False)

        async def go() -> Any:
            try:
                return await synthesize(
                    tools,
                    backend,
                    count,
                    mode=mode,  # type: ignore[arg-type]
                    out=target,
                    profile=profile,
                    seed=seed,
                    planner_backend=planner_backend,
                    max_calls=max_calls,
                    max_attempts=max_attempts,
                    progress=progress,
                )
            finally:
                await backend.aclose()

        report = anyio.run(go)
    except (TinyplanError, OSError) as exc:
        _fail(exc, debug)
        return
    click.echo(report.summary())
    click.echo(f"output: {target}")


@synth_group.command("export")
@click.option("--input", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The examples (default: the Mac toolset's bank).")  # fmt: skip
@click.option("--toolset", "toolset_spec", default="mac", show_default=True, help="'mac' or MODULE:ATTR.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["chat", "completion"]),
    default="chat",
    show_default=True,
    help="chat: {'messages': [...]}; completion: {'prompt', 'completion'} (TRL, LLaMA-Factory, Unsloth).",
)
@click.option("--split", "splits", multiple=True, default=("train",), show_default=True,
              help="Splits to export (repeatable; 'all' for every split).")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="The prompts' date.")
@click.option("--static-examples/--no-static-examples", default=True, show_default=True,
              help="Keep the toolset's hand-written examples in the prompt, as the planner does.")  # fmt: skip
@click.option("--bank", "bank_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Also show each prompt this bank's closest examples (its train split).")  # fmt: skip
@click.option("--k", type=click.IntRange(min=1), default=3, show_default=True, help="Bank examples per prompt.")
@click.option("--debug", is_flag=True)
def export_command(
    source: Path | None,
    toolset_spec: str,
    fmt: str,
    splits: tuple[str, ...],
    out: Path,
    today: dt.datetime | None,
    static_examples: bool,
    bank_path: Path | None,
    k: int,
    debug: bool,
) -> None:
    """Write examples as supervised fine-tuning data: the planner's exact prompt and the plan as the completion."""
    from tinyplan.data._bank import MAC_BANK_PATH, ExampleBank
    from tinyplan.data._export import export_sft

    try:
        tools = _toolset(toolset_spec)
        bank = ExampleBank.load(bank_path, splits=("train",), k=k, method="bm25") if bank_path else None
        n = export_sft(
            source or MAC_BANK_PATH,
            out,
            tools,
            format=fmt,  # type: ignore[arg-type]
            splits=None if "all" in splits else splits,
            today=today.date() if today else None,
            examples=None if static_examples else [],
            bank=bank,
        )
    except (TinyplanError, OSError, KeyError) as exc:
        _fail(exc, debug)
        return
    click.echo(f"wrote {n} {fmt} records to {out}")


@synth_group.command("stats")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
def stats_command(path: Path | None) -> None:
    """Summarize an examples file: counts by split, shape and mode, distinct skeletons, rejections by reason."""
    from tinyplan.data._bank import MAC_BANK_PATH
    from tinyplan.data._store import ExampleStore

    state = ExampleStore(path or MAC_BANK_PATH).load()
    kept = state.kept
    click.echo(f"kept: {len(kept)}  skeletons: {len({r.get('skeleton') for r in kept})}")
    for field in ("split", "shape", "mode"):
        counts = Counter(str(r.get(field)) for r in kept)
        click.echo(f"{field}: " + json.dumps(dict(counts.most_common())))
    reasons = state.reasons()
    total = len(kept) + len(state.rejected)
    click.echo(f"tried: {total}  rejected: {len(state.rejected)} " + json.dumps(dict(reasons.most_common())))


@synth_group.command("recheck")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--toolset", "toolset_spec", default="mac", show_default=True, help="'mac' or MODULE:ATTR.")
@click.option("--debug", is_flag=True)
def recheck_command(path: Path, toolset_spec: str, debug: bool) -> None:
    """Run the current checks again over PATH's examples; those that fail move to the rejections file."""
    from tinyplan.data._synth import recheck

    try:
        kept, reasons = anyio.run(recheck, _toolset(toolset_spec), path)
    except (TinyplanError, OSError) as exc:
        _fail(exc, debug)
        return
    click.echo(f"kept {kept}; moved out: " + json.dumps(reasons))
