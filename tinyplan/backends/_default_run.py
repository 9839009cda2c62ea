"""The default ``tinyplan run``: its backend and planner settings, in one place.

``tinyplan run`` builds its backend and planner with `default_run_backend` and `default_run_planner`, and
``tinyplan model install`` calls `warm_default_run`, which builds the same backend and planner (Mac toolset, default
options) and stores their static prompt prefix in the disk prompt cache. A user's first ``tinyplan run`` then restores
the ~3.5k-token prefix instead of evaluating it (about a minute on 2 cores). Because both go through these functions,
the install-time cache matches the run exactly; and since the cache is keyed by the static prompt text, the model file
and the llama.cpp version, any drift is a miss (evaluated and stored again), never a wrong hit.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tinyplan.backends._llama_cpp import LlamaCppBackend
from tinyplan.backends._prompt_cache import WarmedPrefix

if TYPE_CHECKING:
    from tinyplan._planner import Planner
    from tinyplan._tools import ToolLike, Toolset

__all__ = ["RUN_CONTEXT", "default_run_backend", "default_run_planner", "warm_default_run"]

RUN_CONTEXT = 8192
"""``tinyplan run``'s context in tokens: the Mac toolset's prompt is ~3.5k tokens, and replans add more."""


def default_run_backend(
    model: str | os.PathLike[str] | None = None,
    *,
    prompt_cache: str | os.PathLike[str] | bool = True,
    preload: bool = True,
    n_ctx: int = RUN_CONTEXT,
    **options: Any,
) -> LlamaCppBackend:
    """The in-process backend of ``tinyplan run`` (the default model unless ``model`` names another).

    Args:
        model: A GGUF file, ``"default"``, ``"tiny"`` or None (``$TINYPLAN_MODEL`` or the default model).
        prompt_cache: The disk prompt cache (see `LlamaCppBackend`): True for the default folder.
        preload: Start loading the model in the background at once (`LlamaCppBackend.start_loading`): the load
            overlaps building the toolset, the planner and its grammar.
        n_ctx: The context in tokens (`RUN_CONTEXT`).
        options: More `LlamaCppBackend` options (e.g. ``speculative``; ``lora``, which the prompt cache keys on).
    """
    backend = LlamaCppBackend(model, n_ctx=n_ctx, prompt_cache=prompt_cache, **options)
    if preload:
        backend.start_loading()
    return backend


def default_run_planner(
    backend: Any,
    tools: Toolset | Iterable[ToolLike],
    *,
    join: Literal["auto", "llm", "observations"] = "auto",
    max_replans: int = 1,
    grammar: Literal["syntax", "typed"] | None = "typed",
    retriever: Any = None,
    relevance_check: bool = False,
    self_check: bool = True,
) -> Planner:
    """The planner of ``tinyplan run``, with its defaults (``join="auto"``, ``typed`` grammar, one replan).

    Args:
        backend: The backend (`default_run_backend` for the in-process default).
        tools: The toolset (``tinyplan run`` uses `tinyplan.toolsets.mac.mac_toolset`).
        join: See `Planner`.
        max_replans: See `Planner`.
        grammar: See `Planner`.
        retriever: A ToolRAG retriever, or None.
        relevance_check: See `Planner`.
        self_check: See `Planner` (on for ``tinyplan run``: the plan checks do not change the prompt).
    """
    from tinyplan._planner import Planner

    return Planner(
        backend,
        tools,
        join=join,
        max_replans=max_replans,
        grammar=grammar,
        retriever=retriever,
        relevance_check=relevance_check,
        self_check=self_check,
    )


async def warm_default_run(
    model: str | os.PathLike[str] | None = None, *, prompt_cache: str | os.PathLike[str] | bool = True
) -> WarmedPrefix:
    """Store the default ``tinyplan run`` prompt's static prefix in the disk prompt cache.

    The prefix is the Mac toolset's with default options; it is evaluated unless it is already there.

    Costs one model load and, when not cached yet, the prefix's evaluation (~3.5k tokens: about a minute on 2 cores)
    and its file (~100 MB). The Mac toolset is built over a temporary copy of the sample home (its prompt does not
    depend on the home folder).

    Args:
        model: As for `default_run_backend`.
        prompt_cache: As for `default_run_backend`.

    Raises:
        BackendUnavailableError: llama-cpp-python is missing or the model cannot be loaded.
        ModelError: The model cannot be resolved.
    """
    from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

    backend = default_run_backend(model, prompt_cache=prompt_cache)
    try:
        with tempfile.TemporaryDirectory(prefix="tinyplan-warm-") as tmp:
            tools = mac_toolset(copy_sample_home(Path(tmp) / "home"))
            planner = default_run_planner(backend, tools)
            request = planner.render_prompt("warm up the prompt cache").request(chat=planner.chat)
            return await backend.warm(request)
    finally:
        await backend.aclose()
