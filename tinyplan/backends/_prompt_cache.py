"""A prompt cache on disk for in-process llama.cpp: the KV state of a static prompt prefix, kept across processes.

A planner prompt puts its static part (actions, rules, examples) first. In one process llama.cpp reuses that prefix's
KV cache from the previous call; a new process (every ``tinyplan run``) would evaluate it again, which takes about a
minute for the Mac toolset's ~3.5k-token prefix on a 2-core CPU. This cache stores the prefix's KV cells (llama.cpp's
own sequence state, ``llama_state_seq_get_data``: no pickle) in one file per prefix and restores them with
``llama_state_seq_set_data`` in a fraction of a second.

**Keys.** A file is found by a hash of everything that decides what the KV cells hold: the file format, the llama.cpp
build (``llama_cpp.__version__``), the model file's identity (resolved path, size, modification time), the context
settings that change the cache's layout, a hash of the static prompt text and the prefix tokens. A changed template,
toolset, model or llama.cpp version is therefore a different file (a miss), never a wrong hit.

**Damage.** Each file starts with a small header (magic, format, JSON: the key, the token count and a SHA-256 of the
tokens and of the state). A file that is truncated, corrupt, written by another version or holding other tokens is
reported with a `PromptCacheWarning`, deleted and treated as a miss: the prefix is evaluated and stored again.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import struct
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PromptCache", "PromptCacheWarning", "WarmedPrefix", "default_prompt_cache_dir"]

_MAGIC = b"TINYPLAN-KV\n"
_FORMAT = 2  # 1 was llama.cpp's own session file (``*.session``)
_SUFFIX = ".kv"
_HEADER_MAX = 1 << 20


class PromptCacheWarning(UserWarning):
    """A prompt-cache file could not be used (damaged, truncated, or rejected by llama.cpp); it is rebuilt."""


def default_prompt_cache_dir() -> Path:
    """``$TINYPLAN_PROMPT_CACHE`` if set, else ``~/.cache/tinyplan/prompt-cache``."""
    env = os.environ.get("TINYPLAN_PROMPT_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "tinyplan" / "prompt-cache"


def _tokens_digest(tokens: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, tokens)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class WarmedPrefix:
    """What `LlamaCppBackend.warm` did for a request's static prefix.

    Attributes:
        tokens: The static prefix's length in tokens (0: the request has none, or it is too short to store).
        path: The cache file holding it (None when nothing is stored: too short, or the cache is off).
        built: True when the prefix was evaluated now and stored; False when it was already cached.
        seconds: How long it took.
    """

    tokens: int
    path: Path | None
    built: bool
    seconds: float


class PromptCache:
    """Files of static prompt prefixes' KV state, least recently used evicted.

    Args:
        folder: Where the files live (created on first store).
        max_files: At most this many prefixes are kept (each is ~28 KB per token for a 1.5B Qwen model: ~100 MB for
            a 3.5k-token prefix).
        min_tokens: Shorter prefixes are not stored (evaluating them is cheaper than reading a file).
    """

    def __init__(self, folder: str | os.PathLike[str], *, max_files: int = 4, min_tokens: int = 256) -> None:
        if max_files < 1:
            raise ValueError("max_files must be at least 1")
        self.folder = Path(folder)
        self.max_files = max_files
        self.min_tokens = min_tokens

    @staticmethod
    def key(
        *,
        model_id: str,
        runtime: str,
        settings: Mapping[str, Any],
        static_text: str,
        tokens: Sequence[int],
    ) -> str:
        """The cache key (hex SHA-256) of a prefix.

        Args:
            model_id: The model file's identity (see `model_identity`).
            runtime: The llama.cpp build, e.g. ``llama_cpp.__version__``.
            settings: Context settings that change what the KV cells hold or how they are laid out.
            static_text: The static prompt text (`CompletionRequest.cache_prefix`).
            tokens: The prefix tokens.
        """
        parts = {
            "format": _FORMAT,
            "model": model_id,
            "runtime": runtime,
            "settings": {k: repr(v) for k, v in sorted(settings.items())},  # plain data: reprs are stable
            "static_sha256": hashlib.sha256(static_text.encode("utf-8")).hexdigest(),
            "tokens_sha256": _tokens_digest(tokens),
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def path_for(self, key: str) -> Path:
        """The file for a key."""
        return self.folder / f"{key[:32]}{_SUFFIX}"

    def restore(self, llama_cpp: Any, llm: Any, key: str, tokens: Sequence[int]) -> bool:
        """Load the stored state of ``tokens`` into ``llm``'s sequence 0; True when it was there and sound.

        A missing file is a plain miss. A file that is truncated, corrupt or holds other tokens, or that llama.cpp
        rejects, is reported with a `PromptCacheWarning`, removed, and is a miss; ``llm``'s cache is then empty.
        """
        path = self.path_for(key)
        if not path.is_file():
            return False
        try:
            payload = self._read(path, key, tokens)
        except (OSError, ValueError) as exc:
            self._discard(path, f"{exc}")
            return False
        n = len(tokens)
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        llm.n_tokens = 0
        read = llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, payload, len(payload), 0)
        if read != len(payload):
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)  # whatever was loaded is not trusted
            self._discard(path, "llama.cpp rejected its state")
            return False
        llm.input_ids[:n] = tokens
        llm.n_tokens = n
        if hasattr(llm, "_requires_eval"):
            llm._requires_eval = True  # no logits yet: the rest of the prompt is evaluated before sampling
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used
        return True

    @staticmethod
    def _read(path: Path, key: str, tokens: Sequence[int]) -> Any:
        """The state bytes of a sound file (a ctypes array), else ValueError saying what is wrong."""
        with path.open("rb") as f:
            if f.read(len(_MAGIC)) != _MAGIC:
                raise ValueError("not a tinyplan prompt-cache file")
            raw = f.read(4)
            if len(raw) != 4:
                raise ValueError("truncated header")
            (size,) = struct.unpack("<I", raw)
            if size > _HEADER_MAX:
                raise ValueError("header too large")
            head = f.read(size)
            if len(head) != size:
                raise ValueError("truncated header")
            try:
                header = json.loads(head)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"unreadable header ({exc})") from exc
            if not isinstance(header, dict) or header.get("format") != _FORMAT:
                raise ValueError("another file format")
            if header.get("key") != key or header.get("n_tokens") != len(tokens):
                raise ValueError("it holds another prefix")
            if header.get("tokens_sha256") != _tokens_digest(tokens):
                raise ValueError("it holds other tokens")
            length = header.get("state_size")
            if not isinstance(length, int) or length <= 0:
                raise ValueError("no state size")
            payload = (ctypes.c_uint8 * length)()
            got = f.readinto(memoryview(payload).cast("B"))
            if got != length or f.read(1):
                raise ValueError(f"truncated or too long ({got:,} of {length:,} state bytes)")
        if hashlib.sha256(memoryview(payload).cast("B")).hexdigest() != header.get("state_sha256"):
            raise ValueError("the state's checksum does not match (corrupt)")
        return payload

    def _discard(self, path: Path, why: str) -> None:
        warnings.warn(
            f"ignoring the damaged prompt-cache file {path}: {why}; the prompt prefix is evaluated and stored again",
            PromptCacheWarning,
            stacklevel=3,
        )
        with contextlib.suppress(OSError):
            path.unlink()

    def store(self, llama_cpp: Any, llm: Any, key: str, tokens: Sequence[int]) -> Path | None:
        """Save ``llm``'s sequence-0 state for ``tokens`` (which must be exactly what it has evaluated).

        Returns:
            The file, or None when skipped (too short, ``llm`` holds something else, or the folder is not writable:
            a cache that cannot be written only costs time).
        """
        n = len(tokens)
        if n < self.min_tokens or int(llm.n_tokens) != n or list(llm.input_ids[:n]) != list(tokens):
            return None
        size = int(llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0))
        if size <= 0:
            return None
        payload = (ctypes.c_uint8 * size)()
        written = int(llama_cpp.llama_state_seq_get_data(llm._ctx.ctx, payload, size, 0))
        if written <= 0:
            return None
        view = memoryview(payload).cast("B")[:written]
        header = json.dumps(
            {
                "format": _FORMAT,
                "key": key,
                "n_tokens": n,
                "tokens_sha256": _tokens_digest(tokens),
                "state_size": written,
                "state_sha256": hashlib.sha256(view).hexdigest(),
                "runtime": getattr(llama_cpp, "__version__", "?"),
                "created": time.time(),
            }
        ).encode()
        path = self.path_for(key)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as f:
                f.write(_MAGIC + struct.pack("<I", len(header)) + header)
                f.write(view)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            return None
        self._evict()
        return path

    def _evict(self) -> None:
        """Keep the ``max_files`` most recently used files; drop files of the old format and stale temporaries."""
        with contextlib.suppress(OSError):
            for old in self.folder.glob("*.session"):  # format 1: never read any more
                old.unlink()
            for tmp in self.folder.glob(f"*{_SUFFIX}.tmp*"):
                if time.time() - tmp.stat().st_mtime > 3600:
                    tmp.unlink()
        files = sorted(self.folder.glob(f"*{_SUFFIX}"), key=_mtime, reverse=True)
        for old in files[self.max_files :]:
            with contextlib.suppress(OSError):
                old.unlink()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def model_identity(path: Path) -> str:
    """A model file's identity for cache keys, cheap to compute: resolved path, size and modification time."""
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
