"""Training with the tiny model (SmolLM2-135M from its GGUF, on the CPU): the loss is on the plan tokens only, an
interrupted run resumes from its checkpoint to the same adapter, the CLI trains and reports. Slow: real training."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from finetune_helpers import DAY, tools, write_bank

from tinyplan.cli import main

pytestmark = pytest.mark.slow


def _data(ft: Any, tmp_path: Path) -> Any:
    return ft.load_training_data(write_bank(tmp_path / "bank.jsonl"), toolset=tools, today=DAY)


def test_only_plan_tokens_carry_loss(ft: Any, tiny_base: Callable[[], tuple[Any, Any]], tmp_path: Path) -> None:
    import torch
    import torch.nn.functional as F

    model, tokenizer = tiny_base()
    data = _data(ft, tmp_path)
    trainer = ft.build_trainer(data, model, tokenizer, tmp_path / "out", ft.FinetuneConfig(device="cpu"))
    for row, pair in zip(trainer.train_dataset, data.train, strict=True):
        ids, labels = row["input_ids"], row["labels"]
        prompt_len = next(i for i, label in enumerate(labels) if label != -100)
        assert prompt_len > 100  # the tool list and rules
        assert all(label == -100 for label in labels[:prompt_len])
        assert labels[prompt_len:] == ids[prompt_len:]  # every plan token is a target
        assert tokenizer.decode(ids[:prompt_len]) == pair["prompt"]
        assert tokenizer.decode(ids[prompt_len:]) == pair["completion"] + tokenizer.eos_token

    # The loss the trainer optimizes is the mean cross-entropy over the plan tokens alone.
    batch = trainer.data_collator([trainer.train_dataset[0]])
    trainer.model.eval()
    with torch.no_grad():
        out = trainer.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]
        )
    logits, targets, labels = out.logits[0, :-1], batch["input_ids"][0, 1:], batch["labels"][0, 1:]
    plan = labels != -100
    on_plan = F.cross_entropy(logits[plan], targets[plan])
    on_all = F.cross_entropy(logits, targets)
    assert torch.allclose(out.loss, on_plan, atol=1e-5)
    assert not torch.allclose(out.loss, on_all, atol=1e-2)  # the prompt's tokens would change it


class _StopAt:
    """A trainer callback that interrupts the run after ``step`` updates (as a crash or Ctrl-C would)."""

    def __init__(self, step: int) -> None:
        from transformers import TrainerCallback

        outer = self

        class Stop(TrainerCallback):  # type: ignore[misc]
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
                if state.global_step >= outer.step:
                    control.should_training_stop = True
                return control

        self.step = step
        self.callback = Stop()


def _adapter(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_an_interrupted_run_resumes_to_the_same_adapter(
    ft: Any, tiny_base: Callable[[], tuple[Any, Any]], tmp_path: Path
) -> None:
    import torch

    data = _data(ft, tmp_path)
    source = ft.resolve_base("tiny")
    config = ft.FinetuneConfig(max_steps=4, save_steps=1, save_total_limit=4, learning_rate=1e-3, device="cpu")
    config.gradient_checkpointing = False  # the tiny model fits; a faster step
    out = tmp_path / "interrupted"
    first = ft.finetune(
        data, out, base=source, config=config, model=tiny_base(), convert=False, callbacks=[_StopAt(2).callback]
    )
    assert first.steps == 2 and first.resumed_from is None
    assert (out / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors").is_file()

    resumed = ft.finetune(data, out, base=source, config=config, model=tiny_base(), convert=False, resume=True)
    assert resumed.resumed_from == out / "checkpoints" / "checkpoint-2"
    assert resumed.steps == 4
    assert [s.step for s in resumed.history if s.loss is not None] == [3, 4]  # steps 1-2 were not trained again
    summary = json.loads((out / "finetune.json").read_text())
    assert summary["steps"] == 4 and summary["resumed_from"].endswith("checkpoint-2")

    straight = ft.finetune(data, tmp_path / "straight", base=source, config=config, model=tiny_base(), convert=False)
    assert straight.steps == 4
    a, b = _adapter(out), _adapter(tmp_path / "straight")
    assert a.keys() == b.keys() and a
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name  # the same weights as a run never interrupted
    initial = ft.finetune(
        data,
        tmp_path / "one",
        base=source,
        config=dataclasses.replace(config, max_steps=1),
        model=tiny_base(),
        convert=False,
    )
    moved = max(float((a[n] - _adapter(tmp_path / "one")[n]).abs().max()) for n in a)
    assert moved > 1e-6 and initial.steps == 1  # the comparison is not between untrained adapters


def test_resume_without_a_checkpoint_starts_fresh(
    ft: Any, tiny_base: Callable[[], tuple[Any, Any]], tmp_path: Path
) -> None:
    config = ft.FinetuneConfig(max_steps=1, device="cpu", gradient_checkpointing=False)
    result = ft.finetune(_data(ft, tmp_path), tmp_path / "o", base="tiny", config=config, model=tiny_base(),
                         convert=False, resume=True)  # fmt: skip
    assert result.resumed_from is None and result.steps == 1


def test_the_cli_trains_and_reports(ft: Any, tiny_gguf: Path, tmp_path: Path) -> None:
    bank = write_bank(tmp_path / "bank.jsonl", validation=True)
    out = tmp_path / "adapter"
    args = ["finetune", "--data", str(bank), "--base", str(tiny_gguf), "--toolset", "finetune_helpers:tools"]
    args += ["--out", str(out), "--max-steps", "2", "--lr", "1e-3", "--no-gguf", "--today", "2026-01-01"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "data: 4 train, 1 validation examples (no-examples prompts)" in result.output
    assert "step 1/2" in result.output and "step 2/2" in result.output
    assert "s/step" in result.output and "tokens/s" in result.output and "loss " in result.output
    assert "validation loss" in result.output  # the validation split after the (only) epoch
    assert "trained 2 steps" in result.output
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 16
    summary = json.loads((out / "finetune.json").read_text())
    assert summary["steps"] == 2 and summary["gguf"] is None and summary["prompt_profile"] == "no-examples"
