"""`make_backend`: the one place a backend is chosen from user options (CLI, evaluation, benchmarks).

``tinyplan run``, ``tinyplan eval``, ``tinyplan mcp serve`` and the benchmarks all build their backend here, so an
option such as a LoRA adapter (``--lora``) or a server URL means the same everywhere.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from tinyplan._backend import Backend
from tinyplan._errors import UsageError

__all__ = ["make_backend"]

BackendProfile = Literal["plain", "run"]


def make_backend(
    model: str | os.PathLike[str] | None = None,
    *,
    server: str | None = None,
    openai: str | None = None,
    url: str | None = None,
    openai_model: str | None = None,
    api_key: str | None = None,
    grammar_format: str | None = None,
    lora: str | os.PathLike[str] | None = None,
    profile: BackendProfile = "plain",
    n_ctx: int | None = None,
    n_threads: int | None = None,
    **options: Any,
) -> Backend:
    """The backend for a set of user options.

    At most one of ``server``, ``openai`` and ``url`` may be given; with none, the model runs in this process.

    Args:
        model: The in-process model: a GGUF file, ``"default"``, ``"tiny"`` or None (``$TINYPLAN_MODEL`` or the
            default model; see `tinyplan.resolve_model`).
        server: A running ``llama-server`` root URL (`LlamaServerBackend`).
        openai: An OpenAI-compatible API URL, e.g. ``http://host:8000/v1`` (`OpenAICompatibleBackend`).
        url: Either, told apart by its end: ``…/v1`` is an OpenAI-compatible API, anything else a ``llama-server``.
        openai_model: The model name sent to the OpenAI-compatible API.
        api_key: Its key (default ``$OPENAI_API_KEY``).
        grammar_format: Where the OpenAI-compatible server reads a GBNF grammar (see `OpenAICompatibleBackend`).
        lora: A GGUF LoRA adapter for the in-process model (``tinyplan finetune``'s ``adapter.gguf``). A server loads
            its adapter itself (``llama-server --lora``, `LlamaServerProcess` ``lora=``).
        profile: The in-process backend's settings: ``plain`` (`LlamaCppBackend`'s defaults, ``n_ctx`` 4096) or
            ``run`` (``tinyplan run``'s: 8192 tokens of context, the disk prompt cache, loading starts at once;
            see `tinyplan.backends._default_run.default_run_backend`).
        n_ctx: The in-process context length (default: the profile's).
        n_threads: CPU threads of the in-process model (default: all cores).
        options: More `LlamaCppBackend` keyword arguments (e.g. ``prompt_cache=False``, ``speculative=True``).

    Returns:
        A `LlamaCppBackend`, `LlamaServerBackend` or `OpenAICompatibleBackend`; nothing is loaded or connected yet
        (except that the ``run`` profile starts loading the model in the background).

    Raises:
        UsageError: More than one of ``server``/``openai``/``url``; ``grammar_format`` or ``openai_model`` without an
            OpenAI-compatible API; ``lora`` with a server; in-process ``options`` with a server.
    """
    from tinyplan.backends._llama_cpp import LlamaCppBackend
    from tinyplan.backends._llama_server import LlamaServerBackend
    from tinyplan.backends._openai import OpenAICompatibleBackend

    if sum(x is not None and x != "" for x in (server, openai, url)) > 1:
        raise UsageError("give one of server, openai and url, not several")
    if url:
        base = url.rstrip("/")
        if base.endswith("/v1"):
            openai = base
        else:
            server = base
    remote = server or openai
    if grammar_format and not openai:
        raise UsageError("grammar_format is an option of an OpenAI-compatible API (openai=, or a url ending in /v1)")
    if openai_model and not openai:
        raise UsageError("openai_model is an option of an OpenAI-compatible API (openai=, or a url ending in /v1)")
    if remote and lora is not None:
        raise UsageError(
            "a LoRA adapter applies to the in-process model: start the server with it (llama-server --lora FILE, "
            "or LlamaServerProcess(..., lora=FILE))"
        )
    local = [*options, *(["n_ctx"] if n_ctx is not None else []), *(["n_threads"] if n_threads is not None else [])]
    if remote and local:
        raise UsageError(f"options of the in-process model given with a server: {', '.join(sorted(local))}")
    if server:
        return LlamaServerBackend(server)
    if openai:
        return OpenAICompatibleBackend(
            openai,
            model=openai_model,
            api_key=api_key if api_key is not None else os.environ.get("OPENAI_API_KEY"),
            grammar_format=grammar_format,  # type: ignore[arg-type]
        )
    if n_threads is not None:
        options["n_threads"] = n_threads
    if lora is not None:
        options["lora"] = lora
    if profile == "run":
        from tinyplan.backends._default_run import default_run_backend

        if n_ctx is not None:
            options["n_ctx"] = n_ctx
        return default_run_backend(model, **options)
    if profile != "plain":
        raise UsageError(f"profile must be 'plain' or 'run', not {profile!r}")
    return LlamaCppBackend(model, n_ctx=n_ctx or 4096, **options)
