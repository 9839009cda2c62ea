"""A prompt cache on disk for in-process llama.cpp: the KV state of a static prompt prefix, kept across processes.

A planner prompt puts its static part (actions, rules, examples) first. In one process llama.cpp reuses that prefix's
KV cache from the previous call; a new process (every ``tinyplan run``) would evaluate it again, which takes a
minute for the Mac toolset's ~3.5k-token prefix on a 2-core CPU. This cache stores the prefix's state in a llama.cpp
session file (``llama_state_save_file``, llama.cpp's own format: the tokens and the KV cells, no pickle) keyed by the
model file and the prefix tokens, and restores it with ``llama_state_load_file`` in about a second.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["PromptCache", "default_prompt_cache_dir"]


def default_prompt_cache_dir() -> Path:
    """``$TINYPLAN_PROMPT_CACHE`` if set, else ``~/.cache/tinyplan/prompt-cache``."""
    env = os.environ.get("TINYPLAN_PROMPT_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "tinyplan" / "prompt-cache"


class PromptCache:
    """Session files of static prompt prefixes, least recently used evicted.

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

    def path_for(self, model_id: str, tokens: Sequence[int]) -> Path:
        """The file for a model and prefix tokens."""
        digest = hashlib.sha256(model_id.encode())
        digest.update(b"\0" + ",".join(map(str, tokens)).encode())
        return self.folder / f"{digest.hexdigest()[:32]}.session"

    def restore(self, llama_cpp: Any, llm: Any, model_id: str, tokens: Sequence[int]) -> bool:
        """Load the stored state of ``tokens`` into ``llm``; True when it was there and matches.

        A file that is unreadable or holds other tokens is removed and reported as a miss.
        """
        path = self.path_for(model_id, tokens)
        if not path.is_file():
            return False
        n = len(tokens)
        out = (llama_cpp.llama_token * n)()
        count = ctypes.c_size_t(0)
        ok = llama_cpp.llama_state_load_file(llm._ctx.ctx, str(path).encode(), out, n, ctypes.byref(count))
        if not ok or count.value != n or list(out) != list(tokens):
            llm.n_tokens = 0  # whatever was loaded is not trusted
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
            with contextlib.suppress(OSError):
                path.unlink()
            return False
        llm.input_ids[:n] = tokens
        llm.n_tokens = n
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used
        return True

    def store(self, llama_cpp: Any, llm: Any, model_id: str, tokens: Sequence[int]) -> Path | None:
        """Save ``llm``'s state for ``tokens`` (which must be exactly what it has evaluated); None when skipped."""
        if len(tokens) < self.min_tokens or int(llm.n_tokens) != len(tokens):
            return None
        path = self.path_for(model_id, tokens)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            array = (llama_cpp.llama_token * len(tokens))(*tokens)
            if not llama_cpp.llama_state_save_file(llm._ctx.ctx, str(tmp).encode(), array, len(tokens)):
                with contextlib.suppress(OSError):
                    tmp.unlink()
                return None
            os.replace(tmp, path)
        except OSError:
            return None  # a cache that cannot be written only costs time
        self._evict()
        return path

    def _evict(self) -> None:
        files = sorted(self.folder.glob("*.session"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[self.max_files :]:
            with contextlib.suppress(OSError):
                old.unlink()
