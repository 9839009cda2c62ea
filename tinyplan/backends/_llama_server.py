"""The llama.cpp HTTP server backend (native API), and `LlamaServerProcess`, which runs a local ``llama-server``.

`LlamaServerBackend` speaks the server's native API, not its OpenAI-compatible one, because the native
``POST /completion`` takes everything a TinyAgent-style planner needs in one request: ``grammar`` (GBNF),
``cache_prompt`` (reuse the KV cache for the unchanged prompt prefix: the biggest latency lever on a CPU), ``stop``,
``n_predict``, and it reports ``tokens_cached`` / ``timings`` in its final event.

Chat requests are formatted with the GGUF's own chat template by ``POST /apply-template`` and then sent to
``/completion`` like any prompt, so chat and completion share one code path (grammar, prompt cache, usage counts).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import anyio
import httpx

from tinyplan._backend import Chunk, CompletionRequest, Message, Usage
from tinyplan._errors import BackendStreamError, BackendUnavailableError
from tinyplan.backends._http import DONE, HttpBackendBase, iter_sse_json

__all__ = [
    "LLAMA_SERVER_ENV",
    "NGRAM_SPECULATION",
    "LlamaServerBackend",
    "LlamaServerProcess",
    "llama_server_binary",
]

LLAMA_SERVER_ENV = "TINYPLAN_LLAMA_SERVER"
"""Environment variable naming the ``llama-server`` binary to run."""

NGRAM_SPECULATION: tuple[str, ...] = (
    "--spec-type",
    "ngram-simple",
    "--spec-ngram-simple-size-n",
    "3",
    "--spec-ngram-simple-size-m",
    "10",
)
"""llama-server's prompt-lookup speculation (``--spec-type ngram-simple``): the last 3 tokens are looked up in the
prompt and the text so far, and the 10 tokens that followed are the draft (`LlamaServerProcess`'s ``speculative``)."""

_BUILD_HINT = (
    "build it with `bash scripts/build-llama-server.sh` or set $TINYPLAN_LLAMA_SERVER to a llama-server binary"
)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def usage_from_llama_server(event: Mapping[str, Any]) -> Usage:
    """`Usage` from the final event of a native ``/completion`` stream.

    ``timings.prompt_n`` counts the prompt tokens evaluated now and ``timings.cache_n`` those reused from the KV
    cache; their sum is the prompt length. Older servers give ``tokens_evaluated`` and ``tokens_cached`` instead.
    """
    timings = event.get("timings") if isinstance(event.get("timings"), dict) else {}
    assert isinstance(timings, dict)
    prompt_n, cache_n = _int(timings.get("prompt_n")), _int(timings.get("cache_n"))
    if cache_n is None:
        cache_n = _int(event.get("tokens_cached"))
    if prompt_n is not None:
        prompt_tokens = prompt_n + (cache_n or 0)
    else:
        prompt_tokens = _int(event.get("tokens_evaluated")) or 0
    completion = _int(event.get("tokens_predicted"))
    if completion is None:
        completion = _int(timings.get("predicted_n")) or 0
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion, cached_tokens=cache_n)


class LlamaServerBackend(HttpBackendBase):
    """A llama.cpp server (``llama-server``), through its native streaming API.

    Sends ``temperature`` (0 = greedy by default), ``repeat_penalty: 1.0`` (no repeat penalty: plans repeat tool
    names and arguments on purpose), ``cache_prompt: true``, ``n_predict``, ``stop`` and ``grammar``.

    Args:
        base_url: The server root, e.g. ``http://127.0.0.1:8080``.
        timeout: Seconds to wait for each read (the first token waits for prompt processing); None: forever.
        connect_timeout: Seconds to wait for the connection.
        api_key: Sent as ``Authorization: Bearer <key>`` (a server started with ``--api-key``).
        repeat_penalty: llama.cpp's repeat penalty; 1.0 disables it.
        extra_body: More fields for every ``/completion`` body (e.g. ``{"top_k": 1}``); request fields win.
        client: An httpx client to use (not closed by `aclose`).

    Raises (from `stream`, `health`, `count_tokens`):
        BackendUnavailableError: Connection refused, or the server answers 404/503 (e.g. still loading the model).
        BackendTimeoutError: No answer within the timeout.
        BackendStreamError: HTTP error status (with the server's message), cut stream, malformed event.
    """

    supports_grammar = True

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        timeout: float | None = 300.0,
        connect_timeout: float = 10.0,
        api_key: str | None = None,
        repeat_penalty: float = 1.0,
        extra_body: Mapping[str, Any] | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        super().__init__(base_url, timeout=timeout, connect_timeout=connect_timeout, headers=headers, client=client)
        self.repeat_penalty = repeat_penalty
        self.extra_body = dict(extra_body or {})

    def __repr__(self) -> str:
        return f"LlamaServerBackend({self.base_url!r})"

    async def health(self) -> bool:
        """Whether the server is up and its model loaded (``GET /health`` answers 200).

        Raises:
            BackendUnavailableError: Not reachable, or still loading the model (503).
            BackendError: Another failure.
        """
        await self._request_json("GET", "/health")
        return True

    async def count_tokens(self, text: str) -> int:
        """Count ``text``'s tokens for the server's model (``POST /tokenize``: special tokens parsed, no BOS)."""
        data = await self._request_json("POST", "/tokenize", {"content": text, "add_special": False})
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            raise BackendStreamError(f"/tokenize answered without a token list: {str(data)[:200]!r}")
        return len(tokens)

    async def apply_template(self, messages: Sequence[Message]) -> str:
        """Format chat messages into a prompt with the model's chat template (``POST /apply-template``)."""
        body = {"messages": [{"role": m.role, "content": m.content} for m in messages]}
        data = await self._request_json("POST", "/apply-template", body)
        prompt = data.get("prompt") if isinstance(data, dict) else None
        if not isinstance(prompt, str):
            raise BackendStreamError(f"/apply-template answered without a prompt: {str(data)[:200]!r}")
        return prompt

    def completion_body(self, request: CompletionRequest, prompt: str) -> dict[str, Any]:
        """The JSON body of the native ``/completion`` request for ``request`` (``prompt`` already formatted)."""
        body: dict[str, Any] = {**self.extra_body}
        body.update(
            prompt=prompt,
            stream=True,
            n_predict=request.max_tokens,
            temperature=request.temperature,
            repeat_penalty=self.repeat_penalty,
            cache_prompt=True,
            stop=list(request.stop),
        )
        if request.grammar is not None:
            body["grammar"] = request.grammar
        return body

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        """Stream the completion of ``request`` token by token; the last chunk carries `Usage` and the finish reason.

        Stopping the iteration early (or cancelling) closes the connection, which stops the server's generation.

        Raises:
            BackendError: See the class docs.
        """
        if request.prompt is not None:
            prompt = request.prompt
        else:
            assert request.messages is not None
            prompt = await self.apply_template(request.messages)
        body = self.completion_body(request, prompt)
        url = self._url("/completion")
        async with self._open_stream("POST", "/completion", body) as response:
            async for event in iter_sse_json(response, url=url):
                if event == DONE:
                    break
                assert isinstance(event, dict)
                content = event.get("content", "")
                if not isinstance(content, str):
                    raise BackendStreamError(f"malformed event from {url}: 'content' is not text: {str(event)[:200]!r}")
                if event.get("stop") is True:
                    if content:
                        yield Chunk(content)
                    reason = "length" if event.get("stop_type") == "limit" else "stop"
                    yield Chunk("", usage=usage_from_llama_server(event), finish_reason=reason)
                    return
                if content:
                    yield Chunk(content)
        raise BackendStreamError(f"the stream from {url} ended before its final event (the server stopped mid-answer)")


def llama_server_binary() -> Path:
    """The ``llama-server`` binary to run.

    ``$TINYPLAN_LLAMA_SERVER`` (a path, or a command name on ``PATH``) if set, else
    ``~/.cache/tinyplan/llama-server/bin/llama-server`` (where ``scripts/build-llama-server.sh`` puts it).

    Raises:
        BackendUnavailableError: It does not exist or is not executable (with how to build it).
    """
    env = os.environ.get(LLAMA_SERVER_ENV)
    if env:
        found = shutil.which(env)
        path = Path(found) if found else Path(env).expanduser()
    else:
        path = Path.home() / ".cache" / "tinyplan" / "llama-server" / "bin" / "llama-server"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise BackendUnavailableError(f"llama-server binary not found at {path}: {_BUILD_HINT}")
    return path


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class LlamaServerProcess:
    """Runs a native ``llama-server`` on 127.0.0.1 for one model, and stops it.

    Use as a context manager (sync ``with`` or ``async with``) or call `start` / `stop`::

        async with LlamaServerProcess(default_model_path()) as server:
            async with server.backend() as backend:
                ...

    The command is ``llama-server --model FILE --host HOST --port PORT --threads N --threads-batch N --ctx-size C
    --parallel 1 --no-webui``, ``--lora ADAPTER`` when given, the speculation arguments, then ``extra_args``. One
    slot (``--parallel 1``) keeps the whole context for one client and makes every request reuse the previous
    prompt's KV cache. Output goes to `log_path`.

    Args:
        model: The GGUF file (see `tinyplan.resolve_model`).
        binary: The server binary; default `llama_server_binary`.
        host: Interface to listen on.
        port: TCP port; default a free one.
        threads: CPU threads for generation and prompt processing; default ``os.cpu_count()``.
        ctx_size: Context length in tokens (prompt + completion).
        speculative: Speculative decoding with n-gram drafts from the prompt and the text so far: True adds
            `NGRAM_SPECULATION`, a sequence gives the arguments, False none. The output is the plain greedy output;
            see docs/backends.md, "Latency".
        extra_args: More command-line arguments.
        lora: A GGUF LoRA adapter the server applies to the model (``--lora``; e.g. the ``adapter.gguf`` of
            ``tinyplan finetune``).
        startup_timeout: Seconds to wait for ``/health`` to answer 200 (model loading).

    Attributes:
        url: ``http://HOST:PORT`` once started.
        log_path: The file holding the server's output.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        binary: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        threads: int | None = None,
        ctx_size: int = 4096,
        speculative: bool | Sequence[str] = False,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 120.0,
        lora: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model = Path(model)
        self.lora = Path(lora) if lora is not None else None
        self.binary = Path(binary) if binary is not None else None
        self.host = host
        self.port = port
        self.threads = threads or os.cpu_count() or 1
        self.ctx_size = ctx_size
        if speculative is True:
            self.speculation_args: tuple[str, ...] = NGRAM_SPECULATION
        elif speculative is False:
            self.speculation_args = ()
        else:
            self.speculation_args = tuple(speculative)
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT``.

        Raises:
            BackendUnavailableError: The server is not started.
        """
        if self._proc is None or self.port is None:
            raise BackendUnavailableError("the llama-server process is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The command line that `start` runs (a free port is chosen now if none was given)."""
        binary = self.binary if self.binary is not None else llama_server_binary()
        if self.port is None:
            self.port = _free_port(self.host)
        return [
            str(binary),
            "--model",
            str(self.model),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--threads",
            str(self.threads),
            "--threads-batch",
            str(self.threads),
            "--ctx-size",
            str(self.ctx_size),
            "--parallel",
            "1",
            "--no-webui",
            *(("--lora", str(self.lora)) if self.lora is not None else ()),
            *self.speculation_args,
            *self.extra_args,
        ]

    def _log_tail(self, lines: int = 15) -> str:
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> Self:
        """Start the server and block until ``/health`` answers 200.

        Raises:
            BackendUnavailableError: The binary or model is missing, the process exits early (its log tail is in
                the message), or it is not healthy within ``startup_timeout``.
        """
        if self.running:
            return self
        if not self.model.is_file():
            raise BackendUnavailableError(f"model file {self.model} does not exist")
        if self.lora is not None and not self.lora.is_file():
            raise BackendUnavailableError(f"LoRA adapter {self.lora} does not exist")
        cmd = self.command()
        fd, log_name = tempfile.mkstemp(prefix="tinyplan-llama-server-", suffix=".log")
        self.log_path = Path(log_name)
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise BackendUnavailableError(f"cannot run {cmd[0]}: {exc}") from exc
        finally:
            os.close(fd)
        deadline = time.monotonic() + self.startup_timeout
        health = f"{self.url}/health"
        with httpx.Client(timeout=httpx.Timeout(5.0)) as client:
            while True:
                code = self._proc.poll()
                if code is not None:
                    self._proc = None
                    raise BackendUnavailableError(
                        f"llama-server exited with code {code} while starting; last output:\n{self._log_tail()}"
                    )
                try:
                    if client.get(health).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise BackendUnavailableError(
                        f"llama-server did not become healthy within {self.startup_timeout:g} s; last output:\n"
                        f"{self._log_tail()}"
                    )
                time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def backend(self, **options: Any) -> LlamaServerBackend:
        """A `LlamaServerBackend` for this server (``options`` go to its constructor)."""
        return LlamaServerBackend(self.url, **options)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.stop)
