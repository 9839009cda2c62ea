"""``tinyplan eval``: run the evaluation harness from the command line (a click command the main CLI registers)."""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import Any

import anyio
import click
from rich.console import Console

from tinyplan._backend import Backend
from tinyplan._errors import TinyplanError
from tinyplan.eval._runner import EvalReport, TinyplanSystem, evaluate, markdown_table, write_results
from tinyplan.eval.datasets import EvalCase, load_dataset, spread, with_examples

__all__ = ["eval_command", "make_backend"]


def make_backend(
    model: str | None,
    backend_url: str | None,
    *,
    n_threads: int = 2,
    n_ctx: int = 4096,
    lora: str | os.PathLike[str] | None = None,
) -> Backend:
    """The backend for an evaluation run: `tinyplan.backends.make_backend` with ``url=backend_url``.

    Args:
        model: A GGUF path, ``"default"``, ``"tiny"`` or None (`tinyplan.resolve_model`), loaded in this process
            with llama-cpp-python when ``backend_url`` is None.
        backend_url: A running server instead: a URL ending in ``/v1`` is an OpenAI-compatible API, anything else a
            native ``llama-server`` root (e.g. ``http://127.0.0.1:8080``).
        n_threads: CPU threads for the in-process model.
        n_ctx: Context length of the in-process model.
        lora: A GGUF LoRA adapter for the in-process model (``tinyplan finetune``).

    Raises:
        ValueError: ``lora`` with ``backend_url`` (a server loads its adapter itself).
    """
    from tinyplan.backends import make_backend as factory

    if backend_url:
        return factory(url=backend_url, lora=lora)
    return factory(model, lora=lora, n_threads=n_threads, n_ctx=n_ctx)


def _retriever() -> Any:
    try:
        from tinyplan.rag._embedding import EmbeddingRetriever
    except ImportError as exc:  # the embedding extra is missing
        raise click.ClickException(f"ToolRAG is not available: {exc}") from exc
    return EmbeddingRetriever()


async def _run(
    cases: list[EvalCase],
    *,
    model: str | None,
    backend_url: str | None,
    grammar: str | None,
    rag: bool,
    relevance_check: bool,
    concurrency: int,
    baseline: bool,
    planner: bool,
    progress: bool,
    self_check: bool = False,
    bank: Any = None,
    bank_mix: str = "add",
    n_ctx: int = 4096,
    semantic_signatures: bool = False,
    lora: Path | None = None,
    prompt_examples: bool = True,
) -> list[EvalReport]:
    reports: list[EvalReport] = []
    if planner:
        backend = make_backend(model, backend_url, n_ctx=n_ctx, lora=lora)
        try:
            options: dict[str, Any] = {}
            if semantic_signatures:
                from tinyplan._prompt import PromptRenderer

                options["renderer"] = PromptRenderer(semantic_signatures=True)
            if not prompt_examples:
                from tinyplan._prompt_profiles import without_examples

                options["renderer"] = without_examples(options.get("renderer"))
                options["examples"] = []
            if bank is not None:
                options["bank"] = bank
                if bank_mix == "replace":
                    options["examples"] = []
            system = TinyplanSystem(
                backend,
                grammar=grammar,  # type: ignore[arg-type]
                retriever=_retriever() if rag else None,
                relevance_check=relevance_check,
                self_check=self_check,
                planner_options=options,
            )
            if semantic_signatures:
                system.name += "+semantic-signatures"
            if lora is not None:
                system.name += f"+lora({lora.name})"
            if not prompt_examples:
                system.name += "+no-examples"
            if bank is not None:
                system.name += f"+bank{bank.k}" + ("(replace)" if bank_mix == "replace" else "")
            reports.append(await evaluate(cases, system, concurrency=concurrency, progress=progress))
        finally:
            await backend.aclose()
    if baseline:
        from tinyplan.backends._gguf import resolve_model
        from tinyplan.eval._baseline import LlamaFunctionCallingBaseline

        reports.append(
            await evaluate(cases, LlamaFunctionCallingBaseline(resolve_model(model)), concurrency=1, progress=progress)
        )
    return reports


def _load(spec: str, limit: int | None, root: Path | None) -> list[EvalCase]:
    """`load_dataset`, and ``synth:PATH[:SPLIT]``: a synthesized examples file's split (default ``test``)."""
    if spec.startswith("synth:"):
        from tinyplan.data import bank_cases

        path, _, split = spec.removeprefix("synth:").partition(":")
        found = bank_cases(path, splits=tuple((split or "test").split("+")), limit=limit)
        return [c for c in found if isinstance(c, EvalCase)]
    return load_dataset(spec, limit=limit, root=root)


@click.command("eval")
@click.option(
    "--dataset",
    "datasets",
    multiple=True,
    required=True,
    help="bfcl:<category> | teval | teval:data | teval:dependent | mac | tinyagent:PATH | jsonl:PATH | "
    "synth:PATH[:SPLIT] (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many cases per dataset.")
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=None,
    help="This many cases spread evenly over each dataset (instead of the first ones).",
)
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=None,
    help="Show each case this many similar cases of its dataset as example plans (leave-one-out few-shot).",
)
@click.option("--model", default=None, help="GGUF file, 'default' or 'tiny' (default: $TINYPLAN_MODEL or default).")
@click.option("--backend-url", default=None, help="Use a running server (…/v1: OpenAI-compatible; else llama-server).")
@click.option(
    "--grammar",
    type=click.Choice(["none", "syntax", "typed"]),
    default="none",
    show_default=True,
    help="GBNF constrained decoding level.",
)
@click.option("--rag/--no-rag", default=False, show_default=True, help="Select tools per request with ToolRAG.")
@click.option(
    "--relevance-check/--no-relevance-check",
    default=False,
    show_default=True,
    help="Plan no tool call when the model's free first action names a tool that is not listed.",
)
@click.option(
    "--self-check/--no-self-check",
    default=False,
    show_default=True,
    help="Check each streamed line (semantic dataflow, invented identifiers, left-out requested actions) and "
    "write a faulty line again (Planner(self_check=True)).",
)
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True, help="Cases in flight.")
@click.option("--baseline/--no-baseline", default=False, help="Also run llama-cpp-python's own function calling.")
@click.option("--baseline-only", is_flag=True, help="Run only the baseline.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None, help="Evaluation data folder.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Results folder (default: eval-results/<timestamp>).",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option(
    "--bank",
    "bank_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Show each case the closest examples of this bank (tinyplan synth; its train and validation splits).",
)
@click.option("--bank-k", type=click.IntRange(min=1), default=3, show_default=True, help="Bank examples per case.")
@click.option(
    "--bank-mix",
    type=click.Choice(["add", "replace"]),
    default="add",
    show_default=True,
    help="add: the case's own examples stay in the prompt; replace: only the bank's are shown.",
)
@click.option(
    "--bank-method", type=click.Choice(["bm25", "minilm", "auto"]), default="bm25", show_default=True,
    help="How the bank finds the closest examples.",
)  # fmt: skip
@click.option(
    "--n-ctx", type=click.IntRange(min=512), default=None,
    help="Context length of the in-process model (default 4096; 8192 with --bank, whose examples lengthen the "
    "prompt: the Mac toolset's passes 4,096 tokens with three more).",
)  # fmt: skip
@click.option(
    "--semantic-signatures", is_flag=True,
    help="Show the tools' declared semantic types in their prompt signatures (list[phone number]).",
)  # fmt: skip
@click.option(
    "--lora", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="A GGUF LoRA adapter for the in-process model (tinyplan finetune's adapter.gguf); implies "
    "--no-prompt-examples.",
)  # fmt: skip
@click.option(
    "--prompt-examples/--no-prompt-examples", default=None,
    help="Show in-context example plans in the prompt (default: yes, except with --lora: a fine-tuned model needs "
    "none). --no-prompt-examples leaves out the toolset's and the cases' examples.",
)  # fmt: skip
def eval_command(
    datasets: tuple[str, ...],
    limit: int | None,
    sample: int | None,
    examples: int | None,
    model: str | None,
    backend_url: str | None,
    grammar: str,
    rag: bool,
    relevance_check: bool,
    self_check: bool,
    concurrency: int,
    baseline: bool,
    baseline_only: bool,
    root: Path | None,
    out: Path | None,
    progress: bool,
    bank_path: Path | None,
    bank_k: int,
    bank_mix: str,
    bank_method: str,
    n_ctx: int | None,
    semantic_signatures: bool,
    lora: Path | None,
    prompt_examples: bool | None,
) -> None:
    """Evaluate plans on a dataset: DAG success (TinyAgent), strict success, tool/edge precision and recall.

    Writes one JSON line per case and a Markdown summary table to --out, and prints the table.

    Example: tinyplan eval --dataset bfcl:parallel_multiple --limit 50 --grammar syntax --baseline
    """
    console = Console(stderr=True)
    if lora is not None and backend_url:
        raise click.UsageError("--lora applies to the in-process model; start the server with its adapter (--lora)")
    show_examples = lora is None if prompt_examples is None else prompt_examples
    if examples and not show_examples:
        raise click.UsageError(
            "--examples N adds example plans, which --no-prompt-examples (the default with --lora) leaves out: "
            "drop one of them, or give --prompt-examples"
        )
    out_dir = out or Path("eval-results") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    reports: list[EvalReport] = []
    try:
        bank = None
        if bank_path is not None:
            from tinyplan.data import ExampleBank

            bank = ExampleBank.load(bank_path, splits=("train", "validation"), k=bank_k, method=bank_method)  # type: ignore[arg-type]
        for spec in datasets:
            pool = _load(spec, None, root) if examples else None
            cases = pool[:limit] if pool is not None else _load(spec, limit, root)
            if sample is not None:
                cases = spread(cases, sample)
            if examples:
                cases = with_examples(cases, examples, pool=pool)
            if not cases:
                raise click.ClickException(f"{spec}: no cases")
            run = functools.partial(
                _run,
                cases,
                model=model,
                backend_url=backend_url,
                grammar=None if grammar == "none" else grammar,
                rag=rag,
                relevance_check=relevance_check,
                self_check=self_check,
                concurrency=concurrency,
                baseline=baseline or baseline_only,
                planner=not baseline_only,
                progress=progress,
                bank=bank,
                bank_mix=bank_mix,
                n_ctx=n_ctx or (8192 if bank is not None else 4096),
                semantic_signatures=semantic_signatures,
                lora=lora,
                prompt_examples=show_examples,
            )
            reports += anyio.run(run)
        paths = write_results(reports, out_dir)
    except TinyplanError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(markdown_table(reports))
    console.print(f"results: {', '.join(str(p) for p in paths)}", markup=False, highlight=False)
