"""Clear errors of fine-tuning: a missing train extra (install hint), a data file that does not parse (file and
line), a base that is not a causal language model. No model is loaded here."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from finetune_helpers import PLANS, tools, write_bank

from tinyplan.cli import main


def _forget_finetune(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "tinyplan.finetune" or n.startswith("tinyplan.finetune.")]:
        monkeypatch.delitem(sys.modules, name)


def test_missing_extra_names_the_modules_and_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import tinyplan._extras as extras

    real = extras.find_spec
    monkeypatch.setattr(extras, "find_spec", lambda name: None if name in ("peft", "trl") else real(name))
    _forget_finetune(monkeypatch)
    with pytest.raises(ImportError) as info:
        importlib.import_module("tinyplan.finetune")
    message = str(info.value)
    assert "peft, trl missing" in message
    assert "pip install 'tinyplan[train]'" in message


def test_missing_extra_in_the_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tinyplan._extras as extras

    real = extras.find_spec
    monkeypatch.setattr(extras, "find_spec", lambda name: None if name == "trl" else real(name))
    _forget_finetune(monkeypatch)
    data = write_bank(tmp_path / "bank.jsonl")
    result = CliRunner().invoke(main, ["finetune", "--data", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "needs the train extra (trl missing): pip install 'tinyplan[train]'" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "not a JSON line"),
        ("[1, 2]", "expected a JSON object, not list"),
        ('{"request": "Text Sid"}', "expected a synthesized example"),
        ('{"prompt": "P", "completion": ""}', "'prompt' and 'completion' must both be non-empty text"),
        ('{"messages": [{"role": "user", "content": "hi"}]}', "must end with an assistant message"),
        ('{"request": 3, "plan": "1. join()"}', "'request' and 'plan' must both be non-empty text"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(ft: Any, tmp_path: Path, line: str, expected: str) -> None:
    path = write_bank(tmp_path / "bank.jsonl")
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n" + line + "\n")  # a blank line (6), then the bad one (7)
    with pytest.raises(ft.TrainingDataError) as info:
        ft.load_training_data(path, toolset=tools)
    assert info.value.path == str(path) and info.value.line == len(PLANS) + 2
    assert str(info.value).startswith(f"{path}:{len(PLANS) + 2}: ")
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)


def test_a_file_without_a_train_split(ft: Any, tmp_path: Path) -> None:
    path = tmp_path / "test-only.jsonl"
    path.write_text(json.dumps({"request": PLANS[0][0], "plan": PLANS[0][1], "split": "test"}) + "\n")
    with pytest.raises(ft.TrainingDataError, match=r"test-only\.jsonl: no training examples"):
        ft.load_training_data(path, toolset=tools)


def test_rendering_a_request_needs_a_toolset(ft: Any, tmp_path: Path) -> None:
    path = write_bank(tmp_path / "bank.jsonl")
    with pytest.raises(ft.TrainingDataError, match=r"bank\.jsonl:1: a request/plan record needs a toolset"):
        ft.load_training_data(path)


def test_the_cli_reports_a_bad_line_before_loading_any_model(tmp_path: Path, ft: Any) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text(json.dumps({"request": "Text Sid", "plan": "1. join()"}) + "\n{oops\n")
    result = CliRunner().invoke(
        main, ["finetune", "--data", str(path), "--base", str(tmp_path / "missing.gguf"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert f"tinyplan: error: {path}:2: not a JSON line" in result.output
    assert not (tmp_path / "o").exists()


def test_a_base_that_is_not_a_causal_lm(ft: Any, tmp_path: Path) -> None:
    from transformers import BertConfig

    folder = tmp_path / "bert"
    config = BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37)
    config.architectures = ["BertForMaskedLM"]  # as bert-base-uncased's config.json says
    config.save_pretrained(folder)
    source = ft.resolve_base(folder)
    assert source.gguf_file is None and source.path == folder.resolve()
    with pytest.raises(ft.BaseModelError, match=r"is not a causal language model \(model type 'bert', BertForMask"):
        ft.check_causal_lm(source)
    with pytest.raises(ft.BaseModelError, match="not a causal language model"):
        ft.load_base(source)  # checked before any weight is read (the folder has none)


def test_the_cli_reports_a_base_that_is_not_a_causal_lm(ft: Any, tmp_path: Path) -> None:
    from transformers import T5Config

    folder = tmp_path / "t5"
    T5Config(d_model=32, num_layers=1, num_heads=2, d_ff=37).save_pretrained(folder)  # an encoder-decoder
    data = write_bank(tmp_path / "bank.jsonl")
    result = CliRunner().invoke(
        main, ["finetune", "--data", str(data), "--base", str(folder), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "is not a causal language model (model type 't5')" in result.output


@pytest.mark.parametrize("kind", ["missing", "folder-without-config", "not-gguf"])
def test_unusable_bases(ft: Any, tmp_path: Path, kind: str) -> None:
    if kind == "missing":
        with pytest.raises(ft.BaseModelError, match="not found"):
            ft.resolve_base(tmp_path / "nope.gguf")
    elif kind == "folder-without-config":
        with pytest.raises(ft.BaseModelError, match=r"without config\.json"):
            ft.resolve_base(tmp_path)
    else:
        fake = tmp_path / "fake.gguf"
        fake.write_bytes(b"not a gguf file at all" * 10)
        with pytest.raises(ft.BaseModelError, match="cannot read the base model"):
            ft.check_causal_lm(ft.resolve_base(fake))


def test_the_converter_comes_from_the_llama_cpp_sdist(ft: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ft.LLAMA_CPP_SRC_ENV, raising=False)
    monkeypatch.setenv("TINYPLAN_WHEELHOUSE", str(tmp_path / "empty"))
    with pytest.raises(ft.AdapterExportError, match=r"convert_lora_to_gguf\.py is not available: keep the"):
        ft.llama_cpp_converter(cache=tmp_path / "cache")
    monkeypatch.setenv(ft.LLAMA_CPP_SRC_ENV, str(tmp_path))
    with pytest.raises(ft.AdapterExportError, match=r"holds no convert_lora_to_gguf\.py"):
        ft.llama_cpp_converter(cache=tmp_path / "cache")
    with pytest.raises(ft.AdapterExportError, match=r"holds no convert_lora_to_gguf\.py"):
        ft.convert_adapter(tmp_path, tmp_path, tmp_path / "out.gguf")

    monkeypatch.delenv(ft.LLAMA_CPP_SRC_ENV)
    wheelhouse = Path.home() / ".cache" / "tinyplan" / "wheels"
    if not list(wheelhouse.glob("llama_cpp_python-*.tar.gz")):
        pytest.skip("no llama-cpp-python sdist kept (scripts/install-llama.sh keeps it)")
    monkeypatch.setenv("TINYPLAN_WHEELHOUSE", str(wheelhouse))
    folder = ft.llama_cpp_converter(cache=tmp_path / "cache")
    assert folder.parent == tmp_path / "cache"
    assert (folder / "convert_lora_to_gguf.py").is_file() and (folder / "gguf-py" / "gguf").is_dir()
    assert (folder / "conversion").is_dir() and not (folder / "src").exists()  # only the converter's files
    assert ft.llama_cpp_converter(cache=tmp_path / "cache") == folder  # unpacked once
