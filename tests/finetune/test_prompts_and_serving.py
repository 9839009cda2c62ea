"""The training prompt is the planner's prompt; the no-examples profile; serving an adapter (backends, CLI).

No model runs here: the prompts are compared as text, and the CLI runs against a scripted backend.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from finetune_helpers import DAY, PLANS, tools, write_bank

from tinyplan import Planner, ScriptedBackend
from tinyplan._errors import BackendUnavailableError
from tinyplan._prompt import PromptRenderer
from tinyplan._prompt_profiles import renderer_for, without_examples
from tinyplan.backends import (
    LlamaCppBackend,
    LlamaServerBackend,
    LlamaServerProcess,
    OpenAICompatibleBackend,
    make_backend,
)
from tinyplan.cli import main

EXAMPLES_HEADER = "Here are some examples"


# --------------------------------------------------------------------------------------------- training prompts
def test_training_prompt_is_the_planners_prompt(ft: Any, tmp_path: Path) -> None:
    data = ft.load_training_data(write_bank(tmp_path / "bank.jsonl"), toolset=tools, today=DAY)
    planner = Planner(ScriptedBackend([]), tools, renderer=without_examples(), today=lambda: DAY)
    assert len(data.train) == len(PLANS)
    for (request, plan), pair in zip(PLANS, data.train, strict=True):
        assert pair["prompt"] == planner.render_prompt(request).text
        assert pair["completion"] == plan + "<END_OF_PLAN>"
        assert EXAMPLES_HEADER not in pair["prompt"] and pair["prompt"].endswith(f"Question: {request}\n")


def test_the_examples_profile_keeps_the_planners_default_prompt(ft: Any, tmp_path: Path) -> None:
    data = ft.load_training_data(write_bank(tmp_path / "bank.jsonl"), toolset=tools, today=DAY, profile="examples")
    planner = Planner(ScriptedBackend([]), tools, today=lambda: DAY)
    request = PLANS[0][0]
    assert data.train[0]["prompt"] == planner.render_prompt(request).text
    assert EXAMPLES_HEADER in data.train[0]["prompt"]


def test_sft_exports_read_as_the_same_pairs(ft: Any, tmp_path: Path) -> None:
    from tinyplan.data import sft_record

    lines = []
    for fmt in ("chat", "completion"):
        for request, plan in PLANS:
            record = sft_record(request, plan, tools, format=fmt, today=DAY, renderer=without_examples())  # type: ignore[arg-type]
            lines.append(json.dumps(record))
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n")
    exported = ft.load_training_data(path).train
    rendered = ft.load_training_data(write_bank(tmp_path / "bank.jsonl"), toolset=tools, today=DAY).train
    assert exported == rendered + rendered  # chat records give the same prompt as completion ones


def test_splits_are_kept_apart(ft: Any, tmp_path: Path) -> None:
    data = ft.load_training_data(write_bank(tmp_path / "bank.jsonl", validation=True), toolset=tools, today=DAY)
    assert len(data.train) == len(PLANS) and len(data.validation) == 1


def test_no_examples_profile_leaves_out_every_example() -> None:
    with_examples = PromptRenderer().planner(tools, "Text Sid", instructions=tools.instructions, today=DAY)
    without = without_examples().planner(tools, "Text Sid", instructions=tools.instructions, today=DAY)
    assert EXAMPLES_HEADER in with_examples.static  # the generic examples of a toolset without its own
    assert EXAMPLES_HEADER not in without.static and "Question: What is the weather" not in without.static
    assert without.tail == with_examples.tail
    assert len(without.text) < len(with_examples.text)
    assert without.static.rstrip().endswith("End the plan with join() followed by <END_OF_PLAN>.")
    own = without_examples().planner(tools, "Text Sid", examples=["Question: x\n1. join()<END_OF_PLAN>"], today=DAY)
    assert own.static == without.static  # the toolset's own examples are left out too
    assert renderer_for("examples").planner(tools, "Text Sid", today=DAY) == PromptRenderer().planner(
        tools, "Text Sid", today=DAY
    )
    with pytest.raises(ValueError, match="profile must be one of"):
        renderer_for("few-shot")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- backends
def test_make_backend_picks_the_backend(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"GGUF")
    local = make_backend("tiny", lora=adapter, n_ctx=2048, prompt_cache=False)
    assert isinstance(local, LlamaCppBackend) and local.lora == adapter and local.n_ctx == 2048
    assert local.prompt_cache is None
    run = make_backend(None, profile="run", preload=False, lora=adapter)
    assert isinstance(run, LlamaCppBackend) and run.n_ctx == 8192 and run.lora == adapter
    assert run.prompt_cache is not None  # tinyplan run's disk prompt cache, keyed on the adapter
    assert isinstance(make_backend(server="http://127.0.0.1:9"), LlamaServerBackend)
    assert isinstance(make_backend(url="http://127.0.0.1:9/"), LlamaServerBackend)
    openai = make_backend(url="http://127.0.0.1:9/v1", grammar_format="vllm")
    assert isinstance(openai, OpenAICompatibleBackend)
    assert isinstance(make_backend(openai="http://h/v1", openai_model="m"), OpenAICompatibleBackend)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"server": "http://a", "openai": "http://b/v1"}, "not several"),
        ({"server": "http://a", "lora": "x.gguf"}, "LoRA adapter applies to the in-process model"),
        ({"url": "http://a/v1", "lora": "x.gguf"}, "llama-server --lora"),
        ({"server": "http://a", "grammar_format": "vllm"}, "grammar_format is an option"),
        ({"openai_model": "m"}, "openai_model is an option"),
        ({"server": "http://a", "n_ctx": 4096}, "in-process model given with a server: n_ctx"),
        ({"profile": "fast"}, "profile must be"),
    ],
)
def test_make_backend_refuses_mixed_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_backend(**kwargs)


def test_the_adapter_is_part_of_the_model_and_prompt_cache_keys(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF model")
    first, second = tmp_path / "a.gguf", tmp_path / "b.gguf"
    first.write_bytes(b"GGUF adapter one")
    second.write_bytes(b"GGUF adapter two!")
    plain = LlamaCppBackend(model, prompt_cache=tmp_path / "cache")
    one = LlamaCppBackend(model, lora=first, prompt_cache=tmp_path / "cache")
    two = LlamaCppBackend(model, lora=second, prompt_cache=tmp_path / "cache")
    assert len({plain._key(), one._key(), two._key()}) == 3  # another adapter: another loaded model
    runtime = types.SimpleNamespace(__version__="0.3.36")
    keys = {b._cache_key(runtime, "static prompt", [1, 2, 3]) for b in (plain, one, two)}
    assert len(keys) == 3  # the KV state of a prefix depends on the adapter
    with pytest.raises(BackendUnavailableError, match=r"LoRA adapter .*missing\.gguf does not exist"):
        LlamaCppBackend(model, lora=tmp_path / "missing.gguf")._key()


def test_llama_server_process_passes_the_adapter(tmp_path: Path) -> None:
    model, adapter, binary = tmp_path / "m.gguf", tmp_path / "a.gguf", tmp_path / "llama-server"
    for path in (model, adapter, binary):
        path.write_bytes(b"x")
    command = LlamaServerProcess(model, binary=binary, port=8099, lora=adapter).command()
    at = command.index("--lora")
    assert command[at + 1] == str(adapter)
    assert "--lora" not in LlamaServerProcess(model, binary=binary, port=8099).command()
    with pytest.raises(BackendUnavailableError, match=r"LoRA adapter .*gone\.gguf does not exist"):
        LlamaServerProcess(model, binary=binary, lora=tmp_path / "gone.gguf").start()


# ------------------------------------------------------------------------------------------------------ CLI
def _run_cli(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> tuple[ScriptedBackend, dict[str, Any], str]:
    import tinyplan.cli as cli

    backend = ScriptedBackend(['1. get_phone_number("Sid")\n2. join()<END_OF_PLAN>'])
    seen: dict[str, Any] = {}

    def fake(*args: Any, **kwargs: Any) -> ScriptedBackend:
        seen["args"], seen["kwargs"] = args, kwargs
        return backend

    monkeypatch.setattr(cli, "_make_backend", fake)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return backend, seen, result.output


@pytest.mark.parametrize(
    ("extra", "examples_shown"),
    [
        ([], True),
        (["--lora", "ADAPTER"], False),
        (["--lora", "ADAPTER", "--examples"], True),
        (["--no-examples"], False),
    ],
)
def test_run_lora_and_the_prompt_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, extra: list[str], examples_shown: bool
) -> None:
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"GGUF")
    args = ["run", "Text Sid", "--home", str(tmp_path / "home"), "--dry-run", "--json", "--grammar", "none"]
    args.append("--no-self-check")
    backend, seen, _ = _run_cli(monkeypatch, args + [str(adapter) if a == "ADAPTER" else a for a in extra])
    prompt = backend.requests[0].prompt or ""
    assert (EXAMPLES_HEADER in prompt) is examples_shown
    assert "Question: Text Sid" in prompt
    lora = seen["args"][5] if len(seen["args"]) > 5 else seen["kwargs"].get("lora")
    assert lora == (adapter if "--lora" in extra else None)


def test_run_lora_with_a_server_is_a_usage_error(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"GGUF")
    result = CliRunner().invoke(
        main, ["run", "Text Sid", "--home", str(tmp_path / "h"), "--lora", str(adapter), "--server", "http://a"]
    )
    assert result.exit_code == 2 and "--lora applies to the in-process model" in result.output


def test_eval_lora_leaves_out_the_examples(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tinyplan.eval._cli as eval_cli

    cases = tmp_path / "cases.jsonl"
    record = {"id": "t1", "split": "test", "request": "Text Sid that I'm late.", "toolset": "mac"}
    record["plan"] = '1. get_phone_number("Sid")\n2. send_sms(["$1"], "I\'m late.")\n3. join()'
    cases.write_text(json.dumps(record) + "\n")
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"GGUF")
    backend = ScriptedBackend([record["plan"] + "<END_OF_PLAN>"])
    seen: dict[str, Any] = {}

    def fake(*args: Any, **kwargs: Any) -> ScriptedBackend:
        seen.update(kwargs)
        return backend

    monkeypatch.setattr(eval_cli, "make_backend", fake)
    out = tmp_path / "results"
    result = CliRunner().invoke(
        main,
        ["eval", "--dataset", f"synth:{cases}", "--lora", str(adapter), "--no-progress", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert seen["lora"] == adapter
    assert "+lora(adapter.gguf)+no-examples" in result.output
    prompt = backend.requests[0].prompt or ""
    assert EXAMPLES_HEADER not in prompt and "Question: Text Sid that I'm late." in prompt
    both = CliRunner().invoke(main, ["eval", "--dataset", f"synth:{cases}", "--lora", str(adapter), "--examples", "2"])
    assert both.exit_code == 2 and "--no-prompt-examples" in both.output


def test_eval_make_backend_threads_lora(tmp_path: Path) -> None:
    import tinyplan.eval._cli as eval_cli

    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"GGUF")
    backend = eval_cli.make_backend("tiny", None, n_ctx=2048, lora=adapter)
    assert isinstance(backend, LlamaCppBackend) and backend.lora == adapter and backend.n_threads == 2
    assert isinstance(eval_cli.make_backend(None, "http://127.0.0.1:9/v1"), OpenAICompatibleBackend)
    with pytest.raises(ValueError, match="in-process model"):
        eval_cli.make_backend(None, "http://127.0.0.1:9", lora=adapter)
