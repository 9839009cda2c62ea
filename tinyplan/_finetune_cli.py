"""``tinyplan finetune``: LoRA fine-tuning of the planner model on synthesized plans (the ``train`` extra).

This module imports without the extra; the command says what to install when it is missing.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from tinyplan._prompt_profiles import PromptProfile

__all__ = ["finetune_command"]


def _line(report: Any) -> str:
    if report.loss is None:
        head = f"step {report.step}/{report.max_steps}  epoch {report.epoch:.2f}"
        return f"{head}  validation loss {report.eval_loss:.4f}"
    parts = [f"step {report.step}/{report.max_steps}", f"epoch {report.epoch:.2f}", f"loss {report.loss:.4f}"]
    if report.seconds_per_step is not None:
        parts.append(f"{report.seconds_per_step:.2f} s/step")
    if report.tokens_per_second is not None:
        parts.append(f"{report.tokens_per_second:.0f} tokens/s")
    return "  ".join(parts)


@click.command("finetune")
@click.option("--data", "data_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Synthesized examples (tinyplan synth, its 'train' split trains, 'validation' validates) or an SFT "
              "export (tinyplan synth export).")  # fmt: skip
@click.option("--base", default="default", show_default=True,
              help="'default' (the bundled Qwen2.5-Coder-1.5B GGUF), 'tiny', a .gguf file or a Hugging Face "
              "folder.")  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("adapter"), show_default=True,
              help="Output folder: the adapter, its GGUF (adapter.gguf), checkpoints, finetune.json.")  # fmt: skip
@click.option("--toolset", "toolset_spec", default="mac", show_default=True,
              help="The tools the prompts list: 'mac' or MODULE:ATTR (for synthesized examples).")  # fmt: skip
@click.option("--examples/--no-examples", default=False, show_default=True,
              help="Show the toolset's in-context examples in the training prompts (a fine-tuned model needs none; "
              "serve it with the same choice: tinyplan run --lora picks --no-examples).")  # fmt: skip
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=3.0, show_default=True,
              help="Passes over the train split (TinyAgent: 3).")  # fmt: skip
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=7e-5, show_default=True,
              help="Peak learning rate, linear decay (TinyAgent: 7e-5).")  # fmt: skip
@click.option("--rank", type=click.IntRange(min=1), default=16, show_default=True, help="LoRA rank.")
@click.option("--alpha", type=click.IntRange(min=1), default=None, help="LoRA alpha (default: 2 x rank).")
@click.option("--target-modules", default="q_proj,k_proj,v_proj,o_proj", show_default=True,
              help="Comma-separated linear layers that get LoRA matrices.")  # fmt: skip
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Stop after this many updates.")
@click.option("--max-length", type=click.IntRange(min=16), default=4096, show_default=True,
              help="Longest tokenized example (prompt + plan).")  # fmt: skip
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--grad-accum", type=click.IntRange(min=1), default=1, show_default=True,
              help="Steps accumulated per update.")  # fmt: skip
@click.option("--save-steps", type=click.IntRange(min=1), default=50, show_default=True,
              help="Checkpoint every this many updates (OUT/checkpoints).")  # fmt: skip
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint in OUT/checkpoints.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--gradient-checkpointing/--no-gradient-checkpointing", default=True, show_default=True,
              help="Recompute activations in the backward pass: far less memory (the 1.5B model needs it on 24 GiB), "
              "more time per step.")  # fmt: skip
@click.option("--gguf/--no-gguf", "convert", default=True, show_default=True,
              help="Convert the adapter to OUT/adapter.gguf for llama.cpp.")  # fmt: skip
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The date the rendered prompts show (default: today).")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def finetune_command(
    data_path: Path,
    base: str,
    out: Path,
    toolset_spec: str,
    examples: bool,
    epochs: float,
    learning_rate: float,
    rank: int,
    alpha: int | None,
    target_modules: str,
    max_steps: int | None,
    max_length: int,
    batch_size: int,
    grad_accum: int,
    save_steps: int,
    resume: bool,
    device: str,
    gradient_checkpointing: bool,
    convert: bool,
    today: dt.datetime | None,
    seed: int,
    debug: bool,
) -> None:
    """Fine-tune the planner model with LoRA on plans, and export the adapter for llama.cpp.

    Trains on the planner's exact prompts with the loss on the plan tokens only (TRL's SFTTrainer), from the bundled
    GGUF or a Hugging Face folder, then writes OUT/adapter.gguf. Serve it with: tinyplan run --lora OUT/adapter.gguf

    Example: tinyplan finetune --data mac-bank.jsonl --base default --out adapter/
    """
    from tinyplan.cli import _guard

    try:
        import tinyplan.finetune as ft
    except ImportError as exc:  # the train extra is missing: the message holds the install command
        raise click.ClickException(str(exc)) from exc

    def work() -> None:
        from tinyplan.data._cli import _toolset

        tools = _toolset(toolset_spec)
        profile: PromptProfile = "examples" if examples else "no-examples"
        data = ft.load_training_data(
            data_path, toolset=tools, profile=profile, today=today.date() if today else None
        )  # before the model loads: a bad line fails at once
        click.echo(
            f"data: {len(data.train)} train, {len(data.validation)} validation examples ({profile} prompts)", err=True
        )
        config = ft.FinetuneConfig(
            epochs=epochs,
            learning_rate=learning_rate,
            rank=rank,
            alpha=alpha or 2 * rank,
            target_modules=tuple(m.strip() for m in target_modules.split(",") if m.strip()),
            max_steps=max_steps,
            max_length=max_length,
            batch_size=batch_size,
            gradient_accumulation=grad_accum,
            save_steps=save_steps,
            seed=seed,
            device=device,  # type: ignore[arg-type]
            gradient_checkpointing=gradient_checkpointing,
        )
        source = ft.resolve_base(base)
        ft.check_causal_lm(source)
        click.echo(f"base: {source.path} (loading; a GGUF is dequantized to float32)", err=True)
        _quiet_datasets()
        result = ft.finetune(
            data,
            out,
            base=source,
            config=config,
            profile=profile,
            resume=resume,
            convert=convert,
            on_progress=lambda report: click.echo(_line(report), err=True),
        )
        if result.resumed_from is not None:
            click.echo(f"resumed from {result.resumed_from}", err=True)
        speed = ""
        if result.seconds_per_step is not None and result.tokens_per_second is not None:
            speed = f" ({result.seconds_per_step:.2f} s/step, {result.tokens_per_second:.0f} tokens/s)"
        click.echo(f"trained {result.steps} steps in {result.train_seconds:.0f} s{speed}; adapter: {result.out}")
        if result.gguf is not None:
            model = "" if base == "default" else f" --model {source.path}"
            click.echo(f"GGUF adapter: {result.gguf}")
            click.echo(f'serve it: tinyplan run --lora {result.gguf}{model} "your request"')

    _guard(debug, work)
    sys.stdout.flush()


def _quiet_datasets() -> None:
    """No per-step progress bars of the datasets library (tokenizing a few hundred examples)."""
    try:
        import datasets

        datasets.disable_progress_bars()
    except (ImportError, AttributeError):
        pass
