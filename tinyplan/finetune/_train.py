"""LoRA fine-tuning of the planner model with TRL's ``SFTTrainer`` (no training loop of our own).

TinyAgent (Erdogan et al. 2024, §4) fine-tunes its small planner models with LoRA (Hu et al. 2021) on synthesized
plans, with the planner's own prompt as the input and the plan as the target, for 3 epochs at a learning rate of
7e-5; those are the defaults here (`FinetuneConfig`), every one overridable. The rank, alpha and target modules are
ours (rank 16 on the attention projections).

* **Data**: prompt/completion pairs (`tinyplan.finetune.load_training_data`): the exact planner prompt, the plan as
  the completion. TRL's completion-only loss labels every prompt token -100, so only the plan's tokens (and the end
  of sequence token TRL appends) carry loss.
* **Base**: a GGUF file dequantized by transformers, or a Hugging Face folder (`tinyplan.finetune.resolve_base`).
* **Device**: CUDA when torch sees a GPU (bfloat16 autocast), else the CPU in float32.
* **Checkpoints**: every ``save_steps`` steps into ``OUT/checkpoints`` (adapter, optimizer, scheduler, RNG state);
  ``resume=True`` continues from the last one.
* **Output**: the PEFT adapter in ``OUT`` (``adapter_config.json``, ``adapter_model.safetensors``), the base model's
  ``config.json`` in ``OUT/base-config``, the GGUF LoRA adapter ``OUT/adapter.gguf`` (`convert_adapter`) and a
  summary ``OUT/finetune.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tinyplan._prompt_profiles import PromptProfile
from tinyplan._tools import Toolset
from tinyplan.finetune._base import BaseModelSource, load_base, resolve_base
from tinyplan.finetune._convert import convert_adapter
from tinyplan.finetune._data import TrainingData, load_training_data
from tinyplan.finetune._errors import FinetuneError

__all__ = ["FinetuneConfig", "FinetuneResult", "StepLog", "build_trainer", "finetune"]

ADAPTER_GGUF = "adapter.gguf"
"""The GGUF LoRA adapter's file name in the output folder."""


@dataclass
class FinetuneConfig:
    """The fine-tune's settings. Defaults: TinyAgent's epochs and learning rate; LoRA rank 16 on attention.

    Attributes:
        epochs: Passes over the train split (TinyAgent: 3).
        learning_rate: Peak learning rate, linear decay (TinyAgent: 7e-5).
        rank: LoRA rank r (Hu et al. 2021).
        alpha: LoRA alpha (the update is scaled by alpha / r).
        dropout: Dropout on the LoRA input.
        target_modules: The linear layers that get LoRA matrices (names inside the transformers model).
        batch_size: Examples per device step.
        gradient_accumulation: Steps accumulated per optimizer update.
        max_steps: Stop after this many optimizer updates (None: ``epochs`` decides).
        max_length: Longest tokenized example; longer ones are cut at the end.
        save_steps: Write a checkpoint every this many updates (and at the end).
        save_total_limit: Keep at most this many checkpoints.
        logging_steps: Report the loss every this many updates.
        seed: Seed for the LoRA initialisation and the data order.
        device: ``auto`` (CUDA if available, else CPU), ``cpu`` or ``cuda``.
        gradient_checkpointing: Recompute each layer's activations in the backward pass instead of keeping them:
            on by default (TRL's default too), since the 1.5B model on a ~2.3k-token prompt needs more than 24 GiB
            in float32 without it; off makes a step faster when memory allows.
        validate: Report the loss on the data's validation split after each epoch (when it has one).
        progress_bar: Show transformers' progress bar.
    """

    epochs: float = 3.0
    learning_rate: float = 7e-5
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    batch_size: int = 1
    gradient_accumulation: int = 1
    max_steps: int | None = None
    max_length: int = 4096
    save_steps: int = 50
    save_total_limit: int = 2
    logging_steps: int = 1
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    gradient_checkpointing: bool = True
    validate: bool = True
    progress_bar: bool = False


@dataclass(frozen=True, slots=True)
class StepLog:
    """One progress report.

    Attributes:
        step: Optimizer updates done.
        max_steps: Updates the run will do.
        epoch: Epochs done (fractional).
        loss: Mean training loss since the previous report (None for a validation report).
        eval_loss: The validation loss (validation reports only).
        learning_rate: The learning rate now.
        seconds_per_step: Wall seconds per update since the previous report.
        tokens_per_second: Input tokens (prompt and plan) trained per second since the previous report.
    """

    step: int
    max_steps: int
    epoch: float
    loss: float | None
    eval_loss: float | None
    learning_rate: float | None
    seconds_per_step: float | None
    tokens_per_second: float | None


@dataclass
class FinetuneResult:
    """What a fine-tune produced and how it went.

    Attributes:
        out: The output folder (the PEFT adapter is there).
        gguf: The GGUF LoRA adapter, or None when conversion was not asked for.
        base: The base model's path.
        steps: Optimizer updates done in total (including those before a resume).
        history: The progress reports of this run, in order.
        train_seconds: Wall seconds of this run's training (loading and conversion excluded).
        seconds_per_step: Mean wall seconds per update in this run.
        tokens_per_second: Mean input tokens trained per second in this run.
        resumed_from: The checkpoint this run continued from, if any.
        prompt_profile: The prompt profile the data was rendered with (serve the adapter with the same one).
        train_examples: Examples in the train split.
    """

    out: Path
    gguf: Path | None
    base: Path
    steps: int
    history: list[StepLog] = field(default_factory=list)
    train_seconds: float = 0.0
    seconds_per_step: float | None = None
    tokens_per_second: float | None = None
    resumed_from: Path | None = None
    prompt_profile: str = "no-examples"
    train_examples: int = 0

    @property
    def losses(self) -> list[float]:
        """The training losses reported, in order."""
        return [s.loss for s in self.history if s.loss is not None]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (paths as text) for ``finetune.json``."""
        data = dataclasses.asdict(self)
        for key in ("out", "gguf", "base", "resumed_from"):
            data[key] = None if data[key] is None else str(data[key])
        return data


def _device(choice: str) -> str:
    import torch

    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise FinetuneError("device 'cuda' asked for, but torch sees no CUDA GPU")
    return choice


def _progress_callback(history: list[StepLog], on_progress: Callable[[StepLog], None] | None) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):  # type: ignore[misc]
        """Turns the trainer's log events into `StepLog` reports with seconds per step and tokens per second."""

        def __init__(self) -> None:
            self.clock = time.perf_counter()
            self.step = 0
            self.tokens = 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.clock, self.step, self.tokens = time.perf_counter(), state.global_step, state.num_input_tokens_seen

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            logs = logs or {}
            if "loss" not in logs and "eval_loss" not in logs:
                return
            now = time.perf_counter()
            steps = state.global_step - self.step
            tokens = state.num_input_tokens_seen - self.tokens
            is_train = "loss" in logs
            report = StepLog(
                step=state.global_step,
                max_steps=state.max_steps,
                epoch=float(state.epoch or 0.0),
                loss=float(logs["loss"]) if is_train else None,
                eval_loss=None if is_train else float(logs["eval_loss"]),
                learning_rate=float(logs["learning_rate"]) if "learning_rate" in logs else None,
                seconds_per_step=(now - self.clock) / steps if is_train and steps > 0 else None,
                tokens_per_second=tokens / (now - self.clock) if is_train and now > self.clock else None,
            )
            if is_train:
                self.clock, self.step, self.tokens = now, state.global_step, state.num_input_tokens_seen
            history.append(report)
            if on_progress is not None:
                on_progress(report)

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.clock = time.perf_counter()  # validation time is not training time

    return Progress()


def build_trainer(
    data: TrainingData,
    model: Any,
    tokenizer: Any,
    out: str | os.PathLike[str],
    config: FinetuneConfig | None = None,
    *,
    callbacks: list[Any] | None = None,
) -> Any:
    """The TRL ``SFTTrainer`` of a fine-tune (not started): LoRA on ``model``, completion-only loss.

    Args:
        data: The prompt/completion pairs (its train split trains; its validation split validates).
        model: A transformers causal LM (e.g. from `load_base`); LoRA layers are added to it in place.
        tokenizer: Its tokenizer (with a padding token).
        out: The output folder; checkpoints go to ``out/checkpoints``.
        config: The settings (default `FinetuneConfig()`).
        callbacks: More ``transformers.TrainerCallback`` objects.

    Returns:
        The ``trl.SFTTrainer``; its ``train_dataset`` rows hold ``input_ids`` and ``labels`` (-100 on the prompt).

    Raises:
        FinetuneError: ``device='cuda'`` without a GPU.
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    cfg = config or FinetuneConfig()
    device = _device(cfg.device)
    validation = data.validation if cfg.validate else []
    args = SFTConfig(
        output_dir=str(Path(out) / "checkpoints"),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps if cfg.max_steps is not None else -1,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=1,
        gradient_accumulation_steps=cfg.gradient_accumulation,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="epoch" if validation else "no",
        seed=cfg.seed,
        use_cpu=device == "cpu",
        bf16=device == "cuda" and torch.cuda.is_bf16_supported(),
        activation_checkpointing=cfg.gradient_checkpointing,
        completion_only_loss=True,
        max_length=cfg.max_length,
        packing=False,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        disable_tqdm=not cfg.progress_bar,
        dataloader_pin_memory=device == "cuda",
        log_level="warning",
    )
    lora = LoraConfig(
        r=cfg.rank,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(data.train),
        eval_dataset=Dataset.from_list(validation) if validation else None,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=callbacks or [],
    )
    if not cfg.progress_bar:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # it prints every log dict: `callbacks` report progress instead
    return trainer


def finetune(
    data: str | os.PathLike[str] | TrainingData,
    out: str | os.PathLike[str],
    *,
    base: str | os.PathLike[str] | BaseModelSource | None = "default",
    config: FinetuneConfig | None = None,
    toolset: Toolset | None = None,
    profile: PromptProfile = "no-examples",
    resume: bool = False,
    convert: bool = True,
    on_progress: Callable[[StepLog], None] | None = None,
    model: tuple[Any, Any] | None = None,
    callbacks: Sequence[Any] = (),
) -> FinetuneResult:
    """Fine-tune the planner model with LoRA on plans and export the adapter for llama.cpp.

    Args:
        data: A JSONL file (`load_training_data`: synthesized examples or an SFT export) or loaded pairs.
        out: The output folder (created): adapter, checkpoints, ``adapter.gguf``, ``finetune.json``.
        base: ``"default"`` (the bundled GGUF), ``"tiny"``, a ``.gguf`` file or a Hugging Face folder.
        config: The settings (default `FinetuneConfig()`: TinyAgent's 3 epochs at 7e-5).
        toolset: The tools the planner offers, to render synthesized examples' prompts.
        profile: The prompt profile of rendered prompts (``no-examples``: the tool list and rules only); loaded
            `TrainingData` keeps its own.
        resume: Continue from the last checkpoint in ``out/checkpoints`` (a fresh start when there is none).
        convert: Convert the adapter to ``out/adapter.gguf`` (needs llama.cpp's converter, see `convert_adapter`).
        on_progress: Called with each `StepLog` (training loss, validation loss).
        model: An already loaded ``(model, tokenizer)`` of ``base`` (LoRA layers are added to it in place).
        callbacks: More ``transformers.TrainerCallback`` objects (e.g. one that stops the run early).

    Returns:
        The `FinetuneResult` (also written to ``out/finetune.json``).

    Raises:
        TrainingDataError: The data file does not parse (file and line), or has no train split.
        BaseModelError: The base is missing, unreadable or not a causal LM.
        AdapterExportError: The GGUF conversion fails.
        FinetuneError: ``device='cuda'`` without a GPU.
    """
    from transformers.trainer_utils import get_last_checkpoint

    cfg = config or FinetuneConfig()
    pairs = data if isinstance(data, TrainingData) else load_training_data(data, toolset=toolset, profile=profile)
    source = base if isinstance(base, BaseModelSource) else resolve_base(base)
    loaded, tokenizer = model if model is not None else load_base(source)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    history: list[StepLog] = []
    progress = _progress_callback(history, on_progress)
    trainer = build_trainer(pairs, loaded, tokenizer, folder, cfg, callbacks=[progress, *callbacks])
    checkpoints = folder / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if resume and checkpoints.is_dir() else None  # type: ignore[no-untyped-call]
    with warnings.catch_warnings():  # peft looks for the base's config.json beside a GGUF to check the vocabulary
        warnings.filterwarnings("ignore", message="Could not find a config file", category=UserWarning)
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=last)
        seconds = time.perf_counter() - started
        trainer.save_model(str(folder))
    base_config = folder / "base-config"
    trainer.model.get_base_model().config.save_pretrained(str(base_config))
    gguf = convert_adapter(folder, base_config, folder / ADAPTER_GGUF) if convert else None
    train_logs = [s for s in history if s.loss is not None]
    timed = [s.seconds_per_step for s in train_logs if s.seconds_per_step is not None]
    speeds = [s.tokens_per_second for s in train_logs if s.tokens_per_second is not None]
    result = FinetuneResult(
        out=folder,
        gguf=gguf,
        base=source.path,
        steps=int(trainer.state.global_step),
        history=history,
        train_seconds=seconds,
        seconds_per_step=sum(timed) / len(timed) if timed else None,
        tokens_per_second=sum(speeds) / len(speeds) if speeds else None,
        resumed_from=Path(last) if last else None,
        prompt_profile=pairs.profile,
        train_examples=len(pairs.train),
    )
    (folder / "finetune.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return result
