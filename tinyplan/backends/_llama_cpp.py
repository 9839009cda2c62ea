"""In-process llama.cpp through llama-cpp-python (the optional extra ``tinyplan[llama]``).

The TinyAgent paper (Erdogan et al. 2024) runs its planner with llama.cpp on the device; this backend does the same
inside the Python process:

* **One model per process, kept loaded.** Models live in a process-wide slot shared by every `LlamaCppBackend`;
  loading a different model (or the same with other settings) closes the previous one. A process-wide lock
  serialises requests: a 2-core CPU gains nothing from running two generations at once.
* **Prompt-prefix cache.** Calling the same ``Llama`` object again re-evaluates only the tokens after the longest
  common prefix with the previous prompt (llama-cpp-python keeps the KV cache between calls). A planner whose system
  prompt, tool list and examples stay the same therefore pays only for the question on later calls.
  `Usage.cached_tokens` reports the reused prefix.
* **Greedy, no repeat penalty** by default (``temperature`` from the request, 0 by default; ``repeat_penalty=1.0``):
  plans repeat tool names and arguments on purpose.
* **GBNF grammar** (`CompletionRequest.grammar`), parsed once per text and kept. Greedy requests choose the
  highest-scoring token first and check only that one against the grammar (see `tinyplan.backends._greedy`), instead
  of llama-cpp-python's sampler chain, which filters all candidates at every step.
* **Speculative decoding with prompt lookup** (``speculative=True``): drafts copied from the prompt and the text so
  far are verified in one batch; the output is the plain greedy output, token for token.
* **Chat.** Messages are rendered with the GGUF's own chat template (``tokenizer.chat_template`` metadata) by
  llama-cpp-python's ``Jinja2ChatFormatter`` (a sandboxed Jinja environment), then generated exactly like a prompt,
  so chat shares the prefix cache, grammar and usage counting.
* **Never blocks the event loop.** Loading and generation run in a worker thread; tokens come back through an anyio
  memory object stream. When the consumer stops or is cancelled, a `threading.Event` checked at every sampled
  token ends generation, and the consumer waits (shielded) for the thread to finish, so no orphan generation keeps
  the model busy. A prompt already being evaluated finishes its current batch (at most ``n_batch`` tokens) first.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread

from tinyplan._backend import Backend, Chunk, CompletionRequest, Message, Usage
from tinyplan._errors import BackendStreamError, BackendUnavailableError, TinyplanError
from tinyplan.backends._gguf import resolve_model
from tinyplan.backends._greedy import DecodeStats, Drafter, PromptLookup, greedy_tokens
from tinyplan.backends._prompt_cache import PromptCache, WarmedPrefix, default_prompt_cache_dir, model_identity

__all__ = ["INSTALL_HINT", "LlamaCppBackend", "import_llama_cpp"]

INSTALL_HINT = "pip install 'tinyplan[llama]' (or build a portable wheel once: bash scripts/install-llama.sh)"


def import_llama_cpp() -> Any:
    """Import ``llama_cpp``.

    Raises:
        BackendUnavailableError: llama-cpp-python is not installed (the message says how to install it).
    """
    try:
        import llama_cpp
    except ImportError as exc:
        raise BackendUnavailableError(f"llama-cpp-python is not installed: {INSTALL_HINT}") from exc
    return llama_cpp


@dataclass
class _Slot:
    """The process-wide loaded model. ``lock`` is held while loading, generating or closing."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    key: tuple[Any, ...] | None = None
    llm: Any = None
    grammars: dict[str, Any] = field(default_factory=dict)  # text -> a llama.cpp grammar sampler, initial state
    chat_formatter: Any = None
    vocab_key: str | None = None  # a vocabulary-only Llama for counting tokens before the model loads
    vocab: Any = None


_SLOT = _Slot()
_LLAMA_CLASS: list[Any] = []


def _llama_class(llama_cpp: Any) -> Any:
    """``llama_cpp.Llama`` with a per-request replacement of ``generate`` (greedy decoding, speculation)."""
    if not _LLAMA_CLASS:

        class TinyplanLlama(llama_cpp.Llama):  # type: ignore[misc,name-defined]
            """``llama_cpp.Llama`` whose token loop can be replaced for one request (``tinyplan_generate``)."""

            tinyplan_generate: Callable[[list[int], Any], Iterator[int]] | None = None

            def generate(self, tokens: Any, *args: Any, **kwargs: Any) -> Any:
                override = self.tinyplan_generate
                if override is None:
                    return super().generate(tokens, *args, **kwargs)
                return override(list(tokens), kwargs.get("stopping_criteria"))

        _LLAMA_CLASS.append(TinyplanLlama)
    return _LLAMA_CLASS[0]


def _common_prefix(a: Any, b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class LlamaCppBackend(Backend):
    """llama.cpp in this process (llama-cpp-python), with the model kept loaded and its prompt cache reused.

    Constructing the backend is cheap; the model is loaded (in a worker thread) on the first request, or by `load`.

    Args:
        model: A GGUF file, ``"default"``, ``"tiny"`` or None (see `tinyplan.resolve_model`: None means
            ``$TINYPLAN_MODEL`` or the default Qwen2.5-Coder-1.5B-Instruct, assembled on first use).
        n_ctx: Context length in tokens (prompt + completion).
        n_threads: CPU threads for generation and for prompt processing (``n_threads`` and ``n_threads_batch``);
            default ``os.cpu_count()`` (llama-cpp-python's own default is half the cores: half the speed here).
        n_batch: Prompt tokens evaluated per batch.
        repeat_penalty: llama.cpp's repeat penalty; 1.0 disables it.
        llama_kwargs: More ``llama_cpp.Llama`` constructor arguments (e.g. ``{"flash_attn": True}``).
        prompt_cache: Keep the KV state of each request's static prefix (`CompletionRequest.cache_prefix`) on disk,
            so a new process skips evaluating it: True (default) uses ``$TINYPLAN_PROMPT_CACHE`` or
            ``~/.cache/tinyplan/prompt-cache``, a path uses that folder, False turns it off.
        speculative: Speculative decoding of greedy requests: True uses `PromptLookup` drafts (n-grams of the prompt
            and the text so far), a callable is the drafter (e.g. llama-cpp-python's ``LlamaPromptLookupDecoding``),
            False turns it off. The output is the same either way; see docs/backends.md, "Latency".
        fast_sampling: Greedy requests pick the highest-scoring token and check only it against the grammar
            (llama-server's order). False: llama-cpp-python's own sampler chain (the grammar filters every candidate
            at every step; the default until its token-for-token test passes); then ``speculative`` is ignored.
        lora: A GGUF LoRA adapter applied to the model (llama-cpp-python's ``lora_path``; e.g. the
            ``adapter.gguf`` of ``tinyplan finetune``). The prompt cache keys on the adapter file too.

    Attributes:
        supports_grammar: True: GBNF grammars are applied.
        context_length: ``n_ctx`` (the planner checks that a request fits before sending it).

    Raises (from `stream`, `load`, `count_tokens`):
        BackendUnavailableError: llama-cpp-python is not installed (hint: ``pip install 'tinyplan[llama]'``), or the
            model file cannot be loaded.
        BackendStreamError: The prompt does not fit the context, the grammar does not parse, the model has no chat
            template, or llama.cpp fails while generating.
        ModelError: ``model`` names no file, or the default model cannot be assembled.
    """

    supports_grammar = True

    @property
    def context_length(self) -> int:
        """The context in tokens (``n_ctx``): prompt and completion together must fit it."""
        return self.n_ctx

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        repeat_penalty: float = 1.0,
        llama_kwargs: Mapping[str, Any] | None = None,
        prompt_cache: str | os.PathLike[str] | bool = True,
        speculative: bool | Drafter = False,
        fast_sampling: bool = False,
        lora: str | os.PathLike[str] | None = None,
    ) -> None:
        self._model_arg = model
        self.lora = Path(lora) if lora is not None else None
        if prompt_cache is True:
            self.prompt_cache: PromptCache | None = PromptCache(default_prompt_cache_dir())
        elif prompt_cache is False:
            self.prompt_cache = None
        else:
            self.prompt_cache = PromptCache(prompt_cache)
        self._model_path: Path | None = None
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.n_batch = n_batch
        self.repeat_penalty = repeat_penalty
        self.llama_kwargs = dict(llama_kwargs or {})
        self.fast_sampling = fast_sampling
        if speculative is True:
            self.drafter: Drafter | None = PromptLookup()
        elif speculative is False:
            self.drafter = None
        else:
            self.drafter = speculative
        self.last_decode: DecodeStats | None = None
        """Counts of the latest greedy generation through the fast path (tokens, batches, drafts accepted)."""
        self._loading: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"LlamaCppBackend({str(self._model_path or self._model_arg)!r})"

    @property
    def model_path(self) -> Path:
        """The GGUF file this backend loads (resolved, and for the default model assembled, on first access)."""
        if self._model_path is None:
            self._model_path = resolve_model(self._model_arg)
        return self._model_path

    def _key(self) -> tuple[Any, ...]:
        return (
            str(self.model_path),
            self.n_ctx,
            self.n_threads,
            self.n_batch,
            tuple(sorted(self.llama_kwargs.items())),
            self._lora_identity(),
        )

    def _lora_identity(self) -> str | None:
        """The adapter file's identity (path, size, mtime) for the slot and prompt-cache keys; None without one.

        Raises:
            BackendUnavailableError: The adapter file does not exist.
        """
        if self.lora is None:
            return None
        if not self.lora.is_file():
            raise BackendUnavailableError(f"LoRA adapter {self.lora} does not exist")
        return model_identity(self.lora)

    # -------------------------------------------------------------------------------------- worker-thread side
    def _loaded(self) -> Any:
        """The ``Llama`` for this backend's settings, loading it (and closing another) if needed. Hold the lock."""
        key = self._key()
        if _SLOT.key == key and _SLOT.llm is not None:
            return _SLOT.llm
        llama_cpp = import_llama_cpp()
        _close_slot()
        try:
            llm = _llama_class(llama_cpp)(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_batch=self.n_batch,
                verbose=False,
                **({"lora_path": str(self.lora)} if self.lora is not None else {}),
                **self.llama_kwargs,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            with_lora = f" with the LoRA adapter {self.lora}" if self.lora is not None else ""
            raise BackendUnavailableError(f"llama.cpp cannot load {self.model_path}{with_lora}: {exc}") from exc
        _SLOT.key, _SLOT.llm = key, llm
        return llm

    def _vocab(self) -> Any:
        """A vocabulary-only ``Llama`` of this backend's model file (no weights; kept per file). Hold the lock."""
        path = str(self.model_path)
        if _SLOT.vocab_key != path:
            llama_cpp = import_llama_cpp()
            try:
                with _quiet_vocab_load():
                    vocab = llama_cpp.Llama(model_path=path, vocab_only=True, n_ctx=16, n_batch=16, verbose=False)
            except (ValueError, RuntimeError, OSError) as exc:
                raise BackendUnavailableError(f"llama.cpp cannot read the vocabulary of {path}: {exc}") from exc
            _close_vocab()
            _SLOT.vocab_key, _SLOT.vocab = path, vocab
        return _SLOT.vocab

    @staticmethod
    def _chat_prompt(llm: Any, messages: tuple[Message, ...]) -> tuple[str, list[str]]:
        """Render messages with the GGUF's chat template. Returns the prompt and the template's stop strings."""
        if _SLOT.chat_formatter is None:
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise BackendStreamError("the model has no chat template (tokenizer.chat_template); send a prompt")
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            def token_text(token: int) -> str:
                return "" if token < 0 else bytes(llm.detokenize([token], special=True)).decode("utf-8", "replace")

            _SLOT.chat_formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=token_text(llm.token_eos()),
                bos_token=token_text(llm.token_bos()),
                add_generation_prompt=True,
            )
        try:
            formatted = _SLOT.chat_formatter(messages=[{"role": m.role, "content": m.content} for m in messages])
        except Exception as exc:  # a Jinja template error, or raise_exception() inside the template
            raise BackendStreamError(f"the model's chat template failed on these messages: {exc}") from exc
        stop = formatted.stop
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        return str(formatted.prompt), [s for s in stops if s]

    @staticmethod
    def _grammar(llm: Any, text: str) -> Any:
        """A llama.cpp grammar sampler for ``text`` in its initial state (kept per text; copy it before use).

        llama.cpp crashes the process on a grammar that does not parse inside a sampler chain, so it is parsed on its
        own first (``llama_sampler_init_grammar`` returns NULL on error).
        """
        sampler = _SLOT.grammars.get(text)
        if sampler is None:
            llama_cpp = import_llama_cpp()
            sampler = llama_cpp.llama_sampler_init_grammar(
                llama_cpp.llama_model_get_vocab(llm.model), text.encode("utf-8"), b"root"
            )
            if not sampler:
                raise BackendStreamError(
                    "the GBNF grammar does not parse (llama.cpp printed the reason on stderr); "
                    f"grammar starts: {text[:200]!r}"
                )
            _SLOT.grammars[text] = sampler
        return sampler

    def _generate(self, request: CompletionRequest, emit: Callable[[Chunk], None], cancel: threading.Event) -> None:
        """Generate ``request`` and emit its chunks. Runs in the worker thread with the slot lock held."""
        llm = self._loaded()
        stops = list(request.stop)
        if request.messages is not None:
            prompt, template_stops = self._chat_prompt(llm, request.messages)
            stops += [s for s in template_stops if s not in stops]
        else:
            assert request.prompt is not None
            prompt = request.prompt
        # tokenized exactly as create_completion would (BOS per the model's metadata, special tokens parsed)
        tokens: list[int] = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        n_ctx = int(llm.n_ctx())
        if len(tokens) >= n_ctx:
            raise BackendStreamError(f"the prompt has {len(tokens)} tokens; the context holds {n_ctx} (raise n_ctx)")
        max_tokens = max(1, min(request.max_tokens, n_ctx - len(tokens)))
        prefix = _common_prefix(llm.input_ids[: llm.n_tokens], tokens)
        static = self._static_prefix_len(llm, request, prompt, tokens)
        if self.prompt_cache is not None and static >= self.prompt_cache.min_tokens and prefix < static:
            assert request.cache_prefix is not None
            prefix, _ = self._prefix_from_disk(llm, request.cache_prefix, tokens[:static], prefix, cancel)
            if cancel.is_set():
                return
        cached = min(prefix, len(tokens) - 1)
        grammar = self._grammar(llm, request.grammar) if request.grammar is not None else None
        fast = self.fast_sampling and request.temperature == 0 and self.repeat_penalty == 1.0
        sampled = 0

        def should_stop(_input_ids: Any, _logits: Any) -> bool:
            nonlocal sampled
            sampled += 1
            return cancel.is_set()

        llama_cpp = import_llama_cpp()
        own_grammar: Any = None
        if fast:
            stats = self.last_decode = DecodeStats()
            own_grammar = llama_cpp.llama_sampler_clone(grammar) if grammar is not None else None

            def decode(prompt_tokens: list[int], stopping: Any) -> Iterator[int]:
                return greedy_tokens(
                    llm,
                    llama_cpp,
                    prompt_tokens,
                    grammar=own_grammar,
                    drafter=self.drafter,
                    stopping_criteria=stopping,
                    stats=stats,
                )

            llm.tinyplan_generate = decode
        try:
            chunks = llm.create_completion(
                tokens,
                max_tokens=max_tokens,
                temperature=request.temperature,
                repeat_penalty=self.repeat_penalty,
                stop=stops,
                grammar=None if fast or grammar is None else llama_cpp.LlamaGrammar.from_string(request.grammar),
                stream=True,
                stopping_criteria=llama_cpp.StoppingCriteriaList([should_stop]),
            )
            self._relay(chunks, tokens, cached, emit, cancel, lambda: sampled)
        finally:
            llm.tinyplan_generate = None
            if own_grammar is not None:
                llama_cpp.llama_sampler_free(own_grammar)

    @staticmethod
    def _relay(
        chunks: Any,
        tokens: list[int],
        cached: int,
        emit: Callable[[Chunk], None],
        cancel: threading.Event,
        sampled_count: Callable[[], int],
    ) -> None:
        """Emit the streamed completion's text, then the final chunk with `Usage` and the finish reason."""
        reason: str | None = None
        try:
            for part in chunks:
                if cancel.is_set():
                    return
                choice = part["choices"][0]
                if choice.get("text"):
                    # counts so far with every token: a reader that stops early (the planner after join()) keeps them
                    emit(Chunk(choice["text"], usage=Usage(len(tokens), sampled_count(), cached)))
                if choice.get("finish_reason"):
                    reason = str(choice["finish_reason"])
        finally:
            chunks.close()
        if cancel.is_set():
            return
        # llama-cpp-python calls the criteria once per sampled token (an end-of-generation token included) and once
        # more after its loop
        usage = Usage(prompt_tokens=len(tokens), completion_tokens=max(0, sampled_count() - 1), cached_tokens=cached)
        emit(Chunk("", usage=usage, finish_reason=reason or "stop"))

    @staticmethod
    def _static_prefix_len(llm: Any, request: CompletionRequest, prompt: str, tokens: list[int]) -> int:
        """How many leading ``tokens`` are the request's static ``cache_prefix`` (0 without one)."""
        if request.cache_prefix is None:
            return 0
        at = prompt.find(request.cache_prefix)
        if at < 0:
            return 0
        head = prompt[: at + len(request.cache_prefix)]
        head_tokens = llm.tokenize(head.encode("utf-8"), add_bos=True, special=True)
        # the last token of the head may merge differently with what follows: keep only what both agree on
        return min(_common_prefix(head_tokens, tokens), len(tokens) - 1)

    def _cache_key(self, llama_cpp: Any, static_text: str, static: list[int]) -> str:
        """The prompt-cache key: llama.cpp build, model file, KV-relevant settings, static text and tokens."""
        assert self.prompt_cache is not None
        settings = {k: _settings_value(v) for k, v in self.llama_kwargs.items() if k not in _NOT_IN_KV}
        if self.lora is not None:
            settings["lora"] = self._lora_identity()  # an adapter changes every layer's keys and values
        return self.prompt_cache.key(
            model_id=model_identity(self.model_path),
            runtime=str(getattr(llama_cpp, "__version__", "?")),
            settings=settings,
            static_text=static_text,
            tokens=static,
        )

    def _prefix_from_disk(
        self, llm: Any, static_text: str, static: list[int], in_memory: int, cancel: threading.Event
    ) -> tuple[int, Path | None]:
        """Restore the static prefix from the prompt cache, or evaluate and store it.

        Returns:
            The tokens reused (``len(static)`` when restored, ``in_memory`` when evaluated now) and the cache file
            (None when it could not be stored).
        """
        assert self.prompt_cache is not None
        llama_cpp = import_llama_cpp()
        key = self._cache_key(llama_cpp, static_text, static)
        if self.prompt_cache.restore(llama_cpp, llm, key, static):
            return len(static), self.prompt_cache.path_for(key)
        if int(llm.n_tokens) == 0:
            in_memory = 0  # a failed restore emptied the context
        llm.n_tokens = in_memory  # keep the part already in memory, evaluate the rest of the prefix
        for start in range(in_memory, len(static), self.n_batch):
            if cancel.is_set():
                return int(llm.n_tokens), None
            llm.eval(static[start : start + self.n_batch])
        return in_memory, self.prompt_cache.store(llama_cpp, llm, key, static)

    def _warm(self, request: CompletionRequest, cancel: threading.Event) -> WarmedPrefix:
        """Make sure the prompt cache holds ``request``'s static prefix (worker thread, slot lock held)."""
        started = time.perf_counter()
        llm = self._loaded()
        prompt = request.prompt if request.prompt is not None else self._chat_prompt(llm, request.messages or ())[0]
        tokens: list[int] = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        static = self._static_prefix_len(llm, request, prompt, tokens)
        if self.prompt_cache is None or request.cache_prefix is None or static < self.prompt_cache.min_tokens:
            return WarmedPrefix(static if self.prompt_cache is not None else 0, None, False, 0.0)
        llama_cpp = import_llama_cpp()
        key = self._cache_key(llama_cpp, request.cache_prefix, tokens[:static])
        path = self.prompt_cache.path_for(key)
        llm.n_tokens = 0  # evaluate from scratch, as a new process would (the in-memory state may hold more)
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        reused, stored = self._prefix_from_disk(llm, request.cache_prefix, tokens[:static], 0, cancel)
        return WarmedPrefix(static, stored or (path if reused else None), reused == 0, time.perf_counter() - started)

    def _run_locked(self, cancel: threading.Event, work: Callable[[], None]) -> None:
        """Acquire the process-wide slot lock (giving up if cancelled), then run ``work``."""
        while not _SLOT.lock.acquire(timeout=0.05):
            if cancel.is_set():
                return
        try:
            if not cancel.is_set():
                work()
        finally:
            _SLOT.lock.release()

    # -------------------------------------------------------------------------------------- event-loop side
    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Stream the completion of ``request`` token by token; the last chunk carries `Usage` and the finish reason.

        Waits for any other request in this process to finish first. Stopping the iteration early or cancelling it
        stops generation at the next token.

        Raises:
            BackendError: See the class docs.
            ModelError: The model cannot be resolved.
        """
        send, receive = anyio.create_memory_object_stream[Chunk | BaseException](max_buffer_size=math.inf)
        cancel = threading.Event()
        token = anyio.lowlevel.current_token()

        def deliver(item: Chunk | BaseException) -> None:
            if cancel.is_set():
                return
            try:
                anyio.from_thread.run_sync(send.send_nowait, item, token=token)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError):
                cancel.set()  # the consumer is gone (or its event loop closed): stop generating

        def worker() -> None:
            try:
                self._run_locked(cancel, lambda: self._generate(request, deliver, cancel))
            except TinyplanError as exc:
                deliver(exc)
            except Exception as exc:  # llama.cpp's own failures: report, never lose them
                deliver(BackendStreamError(f"llama.cpp failed while generating: {type(exc).__name__}: {exc}"))
            finally:
                with contextlib.suppress(RuntimeError):  # the event loop is gone; nobody is listening
                    anyio.from_thread.run_sync(send.close, token=token)

        thread = threading.Thread(target=worker, name="tinyplan-llama-cpp", daemon=True)
        thread.start()
        try:
            async with receive:
                async for item in receive:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
        finally:
            cancel.set()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(thread.join)

    async def _in_thread(self, work: Callable[[], Any]) -> Any:
        cancel = threading.Event()
        result: list[Any] = []

        def run() -> None:
            self._run_locked(cancel, lambda: result.append(work()))

        try:
            await anyio.to_thread.run_sync(run)
        finally:
            cancel.set()
        return result[0] if result else None

    async def warm(self, request: CompletionRequest) -> WarmedPrefix:
        """Store ``request``'s static prefix (`CompletionRequest.cache_prefix`) in the disk prompt cache now.

        The first request of a later process then restores it instead of evaluating it.

        Loads the model; evaluates the prefix (about a minute for the Mac toolset's ~3.5k tokens on 2 cores) unless
        the cache already holds it. The same prompt sent later, in this process or another with the same model and
        settings, finds it.

        Returns:
            What was done: the prefix length in tokens, the cache file, whether it was built now.

        Raises:
            BackendUnavailableError: llama-cpp-python is missing or the model cannot be loaded.
            ModelError: The model cannot be resolved.
        """
        result: WarmedPrefix = await self._in_thread_cancellable(lambda cancel: self._warm(request, cancel))
        return result

    async def _in_thread_cancellable(self, work: Callable[[threading.Event], Any]) -> Any:
        cancel = threading.Event()
        result: list[Any] = []

        def run() -> None:
            self._run_locked(cancel, lambda: result.append(work(cancel)))

        try:
            # on cancellation (Ctrl-C) stop waiting at once; the flag stops the work at its next batch
            await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        finally:
            cancel.set()
        return result[0] if result else None

    def start_loading(self) -> None:
        """Start loading the model in a background thread and return at once.

        Requests (and `count_tokens`) wait for it, so a program that creates the backend early overlaps the load
        (about a second for the default model) with its own start-up. A failure is not raised here: the first request
        loads again and raises it.
        """
        if self._loading is not None:
            return

        def work() -> None:
            with contextlib.suppress(Exception):
                self._run_locked(threading.Event(), self._loaded)

        self._loading = threading.Thread(target=work, name="tinyplan-llama-load", daemon=True)
        self._loading.start()

    async def load(self) -> None:
        """Load the model now (in a worker thread) instead of on the first request.

        Raises:
            BackendUnavailableError: llama-cpp-python is missing or the model cannot be loaded.
            ModelError: The model cannot be resolved.
        """
        await self._in_thread(self._loaded)

    async def count_tokens(self, text: str) -> int:
        """The number of tokens ``text`` has for this model (special tokens parsed, no BOS).

        Uses the loaded model, or else only the model file's vocabulary (``vocab_only``: no weights are loaded), so a
        request can be checked before the model loads.

        Raises:
            BackendUnavailableError: llama-cpp-python is missing or the model cannot be loaded.
        """

        def count() -> int:
            llm = _SLOT.llm if _SLOT.key == self._key() and _SLOT.llm is not None else self._vocab()
            return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

        result: int = await self._in_thread(count)
        return result

    async def aclose(self) -> None:
        """Unload the model if it is the one this backend loaded (waits for a running request to finish)."""

        def close() -> None:
            if _SLOT.key is not None and _SLOT.key == self._key():
                _close_slot()
            if _SLOT.vocab_key == str(self.model_path):
                _close_vocab()

        if self._model_path is not None:
            await self._in_thread(close)


_NOT_IN_KV = frozenset(
    {
        "verbose", "n_threads", "n_threads_batch", "n_ubatch", "draft_model", "logits_all", "use_mmap", "use_mlock",
        "seed", "last_n_tokens_size", "chat_format", "chat_handler", "numa",
    }
)  # fmt: skip
"""``llama_kwargs`` that do not change what a prefix's KV cells hold (left out of prompt-cache keys)."""


def _settings_value(value: Any) -> Any:
    """A ``llama_kwargs`` value for a cache key: plain data as it is, any other object by its type."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_settings_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _settings_value(v) for k, v in value.items()}
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


@contextlib.contextmanager
def _quiet_vocab_load() -> Iterator[None]:
    """Hide llama.cpp's context-size warning that a vocabulary-only load prints to fd 2.

    A vocabulary has no training context; anything else written to stderr meanwhile is passed on afterwards.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured): nothing to hide
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            capture.seek(0)
            rest = [ln for ln in capture.read().splitlines(keepends=True) if b"n_ctx_train (0)" not in ln]
            if rest:
                os.write(fd, b"".join(rest))


def _close_vocab() -> None:
    """Close the vocabulary-only model (hold the slot lock)."""
    vocab, _SLOT.vocab, _SLOT.vocab_key = _SLOT.vocab, None, None
    if vocab is not None:
        vocab.close()


def _close_slot() -> None:
    """Close the process's loaded model (hold the slot lock)."""
    llm, _SLOT.llm, _SLOT.key = _SLOT.llm, None, None
    grammars = list(_SLOT.grammars.values())
    _SLOT.grammars.clear()
    if grammars:
        llama_cpp = import_llama_cpp()
        for sampler in grammars:
            llama_cpp.llama_sampler_free(sampler)
    _SLOT.chat_formatter = None
    if llm is not None:
        llm.close()
