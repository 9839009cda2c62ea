"""End to end on the CPU with the tiny bundled model (SmolLM2-135M Q4_1 GGUF): a few LoRA steps on a handful of
plans, the loss falls, the adapter converts to a GGUF LoRA adapter, llama.cpp loads the base with the adapter, and
the adapted model writes (greedy) a training plan the base model does not. About 1-2 minutes on 2 cores."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from finetune_helpers import PLANS, tools, write_bank

from tinyplan import END_OF_PLAN, Planner
from tinyplan._prompt_profiles import without_examples
from tinyplan.cli import main

pytestmark = pytest.mark.slow


async def _plans(model: Path, lora: Path | None) -> list[str]:
    """Greedy plans for every training request, from llama.cpp in this process, with the planner's prompt."""
    from tinyplan.backends import LlamaCppBackend

    backend = LlamaCppBackend(model, lora=lora, n_ctx=2048, prompt_cache=False)
    planner = Planner(backend, tools, renderer=without_examples())  # today's date, as in training
    written = []
    try:
        for request, _ in PLANS:
            prompt = planner.render_prompt(request).request(chat=False, stop=(END_OF_PLAN,), max_tokens=80)
            text = ""
            async for chunk in backend.stream(prompt):
                text += chunk.text
            written.append(text.strip())
    finally:
        await backend.aclose()
    return written


def test_lora_from_the_tiny_gguf_to_llama_cpp(
    ft: Any, tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("llama_cpp")
    import gguf

    started = time.monotonic()
    bank = write_bank(tmp_path / "bank.jsonl")
    config = ft.FinetuneConfig(epochs=3, learning_rate=3e-3, device="cpu", save_steps=100, gradient_checkpointing=False)
    result = ft.finetune(bank, tmp_path / "adapter", base=tiny_gguf, toolset=tools, config=config)
    trained = time.monotonic() - started

    losses = result.losses
    assert result.steps == 3 * len(PLANS) and len(losses) == result.steps
    assert sum(losses[-len(PLANS) :]) / len(PLANS) < 0.5 * losses[0]  # the last epoch's loss is far below the first
    assert result.tokens_per_second and result.seconds_per_step

    assert result.gguf is not None and result.gguf == tmp_path / "adapter" / "adapter.gguf"
    reader = gguf.GGUFReader(str(result.gguf))
    fields = {name: reader.fields[name].contents() for name in ("general.type", "adapter.type")}
    assert fields == {"general.type": "adapter", "adapter.type": "lora"}
    names = [t.name for t in reader.tensors]
    assert any(n.endswith("attn_q.weight.lora_a") for n in names)
    assert any(n.endswith("attn_v.weight.lora_b") for n in names)

    base = anyio.run(_plans, tiny_gguf, None)
    adapted = anyio.run(_plans, tiny_gguf, result.gguf)
    learned = [plan for (_, plan), b, a in zip(PLANS, base, adapted, strict=True) if a == plan and b != plan]
    assert learned, f"base: {base}\nadapted: {adapted}"
    assert not any(b == plan for (_, plan), b in zip(PLANS, base, strict=True))

    # The CLI serves the adapter the same way: `tinyplan run --lora` (no-examples prompt, in-process llama.cpp).
    monkeypatch.setenv("TINYPLAN_PROMPT_CACHE", str(tmp_path / "prompt-cache"))
    request = next(r for (r, plan), a in zip(PLANS, adapted, strict=True) if a == plan)
    args = [
        "run",
        request,
        "--model",
        str(tiny_gguf),
        "--lora",
        str(result.gguf),
        "--toolset",
        "finetune_helpers:tools",
    ]
    cli = CliRunner().invoke(main, [*args, "--grammar", "none", "--no-self-check", "--dry-run", "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["text"].strip() == dict(PLANS)[request]
    print(
        f"\ntiny e2e: {result.steps} steps, {result.seconds_per_step:.2f} s/step, {result.tokens_per_second:.0f} "
        f"tokens/s; train+convert {trained:.0f} s, total {time.monotonic() - started:.0f} s; "
        f"{len(learned)}/{len(PLANS)} training plans written by the adapted model"
    )
