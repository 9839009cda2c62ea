"""Backend adapters: llama.cpp in-process, the llama.cpp HTTP server, and any OpenAI-compatible server.

All implement the `tinyplan.Backend` protocol (``stream(request)`` + ``aclose()``) and raise only `BackendError`
subclasses. Importing this package never needs llama-cpp-python: `LlamaCppBackend` imports it on first use.

* `LlamaCppBackend` — llama-cpp-python in this process (extra ``tinyplan[llama]``).
* `LlamaServerBackend` — a running ``llama-server`` through its native API; `LlamaServerProcess` starts one.
* `OpenAICompatibleBackend` — ``/v1/completions`` and ``/v1/chat/completions`` of vLLM, Ollama, LM Studio,
  llama-cpp-python's server, hosted APIs.
* `make_backend` — the one factory that picks and builds a backend from user options (CLI, eval, benchmarks).
* `ScriptedBackend` — the fake: replays scripted responses (tests, examples), failures and token limits included.
"""

from tinyplan.backends._factory import make_backend
from tinyplan.backends._greedy import PromptLookup
from tinyplan.backends._llama_cpp import LlamaCppBackend
from tinyplan.backends._llama_server import LlamaServerBackend, LlamaServerProcess, llama_server_binary
from tinyplan.backends._openai import OpenAICompatibleBackend
from tinyplan.backends._prompt_cache import PromptCacheWarning, WarmedPrefix
from tinyplan.backends._scripted import ScriptedBackend, ScriptedFailure

__all__ = [
    "LlamaCppBackend",
    "LlamaServerBackend",
    "LlamaServerProcess",
    "OpenAICompatibleBackend",
    "PromptCacheWarning",
    "PromptLookup",
    "ScriptedBackend",
    "ScriptedFailure",
    "WarmedPrefix",
    "llama_server_binary",
    "make_backend",
]
