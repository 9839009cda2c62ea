"""A trained PEFT LoRA adapter → a GGUF LoRA adapter that llama.cpp loads beside the base GGUF.

The conversion is llama.cpp's own ``convert_lora_to_gguf.py``, from the llama.cpp sources inside the
llama-cpp-python sdist the project builds its wheel from (``scripts/install-llama.sh`` keeps it in
``$TINYPLAN_WHEELHOUSE``, default ``~/.cache/tinyplan/wheels``), so the adapter's tensor names and layout match the
llama.cpp that serves it (e.g. the row permutation of Llama's q/k projections). The script and its ``conversion``
and ``gguf-py`` packages are unpacked once into ``~/.cache/tinyplan/llama-convert/<version>`` and run in a child
Python with that ``gguf-py`` first on its path. ``$TINYPLAN_LLAMA_CPP_SRC`` names a llama.cpp checkout instead.

The converter reads only the base model's ``config.json`` (no weights): `finetune` writes it from the loaded model.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tinyplan.finetune._errors import AdapterExportError

__all__ = ["LLAMA_CPP_SRC_ENV", "convert_adapter", "llama_cpp_converter"]

LLAMA_CPP_SRC_ENV = "TINYPLAN_LLAMA_CPP_SRC"
"""Environment variable naming a llama.cpp source folder that holds ``convert_lora_to_gguf.py``."""

_SCRIPT = "convert_lora_to_gguf.py"
_MEMBERS = ("convert_lora_to_gguf.py", "convert_hf_to_gguf.py", "conversion/", "gguf-py/")
_HINT = (
    "keep the llama-cpp-python sdist in ~/.cache/tinyplan/wheels (bash scripts/install-llama.sh does; or "
    "pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d ~/.cache/tinyplan/wheels), or set "
    f"${LLAMA_CPP_SRC_ENV} to a llama.cpp checkout"
)


def _wheelhouse() -> Path:
    return Path(os.environ.get("TINYPLAN_WHEELHOUSE") or Path.home() / ".cache" / "tinyplan" / "wheels")


def _sdist() -> Path | None:
    """The llama-cpp-python sdist: the installed version's if kept, else the newest kept one."""
    found = sorted(_wheelhouse().glob("llama_cpp_python-*.tar.gz"))
    if not found:
        return None
    try:
        wanted = _wheelhouse() / f"llama_cpp_python-{version('llama-cpp-python')}.tar.gz"
    except PackageNotFoundError:
        wanted = None
    return wanted if wanted is not None and wanted.is_file() else found[-1]


def llama_cpp_converter(cache: Path | None = None) -> Path:
    """The folder holding llama.cpp's ``convert_lora_to_gguf.py`` (with ``conversion/`` and ``gguf-py/``).

    ``$TINYPLAN_LLAMA_CPP_SRC`` if set; else the sdist's ``vendor/llama.cpp``, unpacked once into
    ``cache`` (default ``~/.cache/tinyplan/llama-convert``).

    Raises:
        AdapterExportError: Neither is there (the message says how to get the sdist), or the sdist lacks the script.
    """
    env = os.environ.get(LLAMA_CPP_SRC_ENV)
    if env:
        folder = Path(env).expanduser()
        if not (folder / _SCRIPT).is_file():
            raise AdapterExportError(f"${LLAMA_CPP_SRC_ENV}={env} holds no {_SCRIPT}")
        return folder
    sdist = _sdist()
    if sdist is None:
        raise AdapterExportError(f"llama.cpp's {_SCRIPT} is not available: {_HINT}")
    name = sdist.name.removesuffix(".tar.gz")
    target = (cache or Path.home() / ".cache" / "tinyplan" / "llama-convert") / name
    if (target / _SCRIPT).is_file() and (target / "gguf-py").is_dir():
        return target
    prefix = f"{name}/vendor/llama.cpp/"
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    try:
        with tarfile.open(sdist) as tar:
            members = []
            for member in tar.getmembers():
                rel = member.name.removeprefix(prefix)
                if member.name.startswith(prefix) and (rel in _MEMBERS or rel.startswith(_MEMBERS[2:])):
                    member.name = rel
                    members.append(member)
            if not any(m.name == _SCRIPT for m in members):
                raise AdapterExportError(f"{sdist} holds no vendor/llama.cpp/{_SCRIPT}: {_HINT}")
            tar.extractall(tmp, members=members, filter="data")
        if target.exists():  # a half-unpacked folder of an interrupted run
            shutil.rmtree(target)
        tmp.replace(target)
    except (OSError, tarfile.TarError) as exc:
        if (target / _SCRIPT).is_file() and (target / "gguf-py").is_dir():
            return target  # another process unpacked it at the same time
        raise AdapterExportError(f"cannot unpack llama.cpp's converter from {sdist}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def convert_adapter(
    adapter_dir: str | os.PathLike[str],
    base_config_dir: str | os.PathLike[str],
    out_file: str | os.PathLike[str],
    *,
    outtype: str = "f32",
    timeout: float = 600.0,
) -> Path:
    """Convert a PEFT LoRA adapter folder to a GGUF LoRA adapter with llama.cpp's ``convert_lora_to_gguf.py``.

    Args:
        adapter_dir: The adapter (``adapter_config.json`` and ``adapter_model.safetensors``).
        base_config_dir: A folder with the base model's ``config.json`` (its ``architectures`` picks the tensor
            mapping; no weights are read).
        out_file: The GGUF adapter to write (replaced).
        outtype: ``f32`` (default: the adapter is small, and exact), ``f16``, ``bf16`` or ``q8_0``.
        timeout: Seconds the conversion may take.

    Returns:
        ``out_file``.

    Raises:
        AdapterExportError: The converter is missing (`llama_cpp_converter`) or fails (its last output lines are
            in the message).
    """
    folder = llama_cpp_converter()
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder / "gguf-py"), str(folder), env.get("PYTHONPATH")) if p)
    env.setdefault("HF_HUB_OFFLINE", "1")
    cmd = [
        sys.executable,
        str(folder / _SCRIPT),
        "--base",
        str(base_config_dir),
        "--outfile",
        str(out),
        "--outtype",
        outtype,
        str(adapter_dir),
    ]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AdapterExportError(f"cannot run llama.cpp's {_SCRIPT}: {exc}") from exc
    if done.returncode != 0 or not out.is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        raise AdapterExportError(f"llama.cpp's {_SCRIPT} failed (exit {done.returncode}):\n{tail}")
    return out
