"""The HTTP plumbing both HTTP backends share: one client, one mapping of faults to typed errors, one SSE reader.

Every transport failure becomes a `BackendError` subclass here, once, so the backends never let an httpx exception
escape:

=====================================================  ==========================
what happened                                          error
=====================================================  ==========================
connection refused, unknown host, bad URL scheme       `BackendUnavailableError`
HTTP 404 (wrong endpoint or model), 503 (loading)      `BackendUnavailableError`
connect/read/write/pool timeout                        `BackendTimeoutError`
other HTTP error status (the server's message kept)    `BackendStreamError`
stream cut (connection closed mid-body)                `BackendStreamError`
malformed SSE event or JSON, error event in the stream `BackendStreamError`
=====================================================  ==========================

Server-sent events follow the WHATWG/RFC 8895 framing the llama.cpp server, vLLM, Ollama and the OpenAI API all use:
``data:`` lines, events separated by a blank line, ``:`` comment lines (pings) ignored, ``data: [DONE]`` ending an
OpenAI-style stream.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tinyplan._backend import Backend
from tinyplan._errors import BackendError, BackendStreamError, BackendTimeoutError, BackendUnavailableError

__all__ = ["DONE", "HttpBackendBase", "iter_sse_json", "map_http_error", "raise_for_status"]

DONE = "[DONE]"
"""The data of the event that ends an OpenAI-style stream."""

_MAX_ERROR_BODY = 64 * 1024  # bytes of an error response kept for the message


def map_http_error(exc: Exception, *, url: str) -> BackendError:
    """Turn an httpx exception into the matching `BackendError` (see the module table).

    Args:
        exc: What httpx raised.
        url: The request's URL, for the message.
    """
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for data",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(exc), "waiting")
        return BackendTimeoutError(f"timed out {kind} ({url}): {detail}")
    if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol | httpx.InvalidURL):
        return BackendUnavailableError(f"cannot reach the backend at {url}: {detail}")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return BackendStreamError(f"the backend's stream was cut ({url}): {detail}")
    return BackendStreamError(f"HTTP failure talking to the backend ({url}): {detail}")


def _error_message(body: bytes) -> str:
    """The server's own error message from an error body.

    Read from ``{"error": {"message": ...}}``, ``{"error": "..."}``, ``{"detail": ...}`` (FastAPI), else the raw
    text.
    """
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:2000]
    if isinstance(data, dict):
        err = data.get("error", data.get("detail"))
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])
        if err is not None:
            return err if isinstance(err, str) else json.dumps(err)[:2000]
    return text[:2000]


async def raise_for_status(response: httpx.Response, *, url: str) -> None:
    """Raise the matching `BackendError` if ``response`` has an error status, with the server's message.

    Reads at most 64 KiB of the error body.

    Raises:
        BackendUnavailableError: Status 404 or 503.
        BackendStreamError: Any other status >= 400.
        BackendTimeoutError: Reading the error body timed out.
    """
    if response.status_code < 400:
        return
    body = b""
    try:
        async for block in response.aiter_bytes():
            body += block
            if len(body) >= _MAX_ERROR_BODY:
                break
    except (httpx.HTTPError, httpx.StreamError) as exc:
        if isinstance(exc, httpx.TimeoutException):
            raise map_http_error(exc, url=url) from exc
        # the status alone still says what happened
    message = _error_message(body) or response.reason_phrase
    text = f"the backend answered HTTP {response.status_code} ({url}): {message}"
    if response.status_code in (404, 503):
        raise BackendUnavailableError(text)
    raise BackendStreamError(text)


async def iter_sse_json(response: httpx.Response, *, url: str) -> AsyncIterator[dict[str, Any] | str]:
    """Read a ``text/event-stream`` body and yield each event's data parsed as a JSON object.

    ``data: [DONE]`` is yielded as the string `DONE` and ends the stream. An event whose JSON holds an ``error``
    key (how the llama.cpp server, vLLM and the OpenAI API report a failure mid-stream) raises.

    Raises:
        BackendStreamError: Malformed JSON, a non-object event, an error event, or the connection cut mid-body.
        BackendTimeoutError: No data within the read timeout.
    """
    data_lines: list[str] = []
    try:
        async for line in response.aiter_lines():
            if line.startswith(":"):
                continue  # comment / keep-alive ping
            if line:
                field, _, value = line.partition(":")
                if field == "data":
                    data_lines.append(value.removeprefix(" "))
                continue  # "event:", "id:", "retry:" carry nothing we use
            if not data_lines:
                continue
            data = "\n".join(data_lines)
            data_lines = []
            event = _parse_event(data, url=url)
            yield event
            if event == DONE:
                return
        if data_lines:  # a last event without its terminating blank line: the stream was cut inside it
            raise BackendStreamError(f"the backend's stream ended inside an event ({url}): {data_lines[-1][:200]!r}")
    except (httpx.HTTPError, httpx.StreamError) as exc:
        raise map_http_error(exc, url=url) from exc


def _parse_event(data: str, *, url: str) -> dict[str, Any] | str:
    if data.strip() == DONE:
        return DONE
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise BackendStreamError(f"the backend sent a malformed event ({url}): {exc}: {data[:200]!r}") from exc
    if not isinstance(event, dict):
        raise BackendStreamError(f"the backend sent an event that is not a JSON object ({url}): {data[:200]!r}")
    if event.get("error"):
        err = event["error"]
        message = err.get("message", json.dumps(err)) if isinstance(err, dict) else str(err)
        raise BackendStreamError(f"the backend reported an error mid-stream ({url}): {message}")
    return event


class HttpBackendBase(Backend):
    """An httpx client with the shared fault mapping; base of the HTTP backends.

    Args:
        base_url: The server's root, e.g. ``http://127.0.0.1:8080``.
        timeout: Seconds to wait for each read: the first token (prompt processing of a long prompt on a small CPU
            can take tens of seconds) and every later one. None waits forever.
        connect_timeout: Seconds to wait for the TCP connection.
        headers: Extra headers on every request (e.g. ``Authorization``).
        client: An httpx client to use instead of a new one (its base URL is ignored; it is not closed by `aclose`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float | None = 300.0,
        connect_timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout), headers=self._headers
        )

    def _url(self, path: str) -> str:
        return self.base_url + path

    @asynccontextmanager
    async def _open_stream(
        self, method: str, path: str, body: Mapping[str, Any] | None
    ) -> AsyncIterator[httpx.Response]:
        """Send a request and yield the response with its body unread; error statuses are raised as `BackendError`.

        Closing the context closes the connection, which makes the llama.cpp server stop generating.
        """
        url = self._url(path)
        try:
            request = self._client.build_request(method, url, json=body, headers=self._headers)
            response = await self._client.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise map_http_error(exc, url=url) from exc
        try:
            await raise_for_status(response, url=url)
            yield response
        finally:
            with contextlib.suppress(httpx.HTTPError, httpx.StreamError):  # closing a broken connection
                await response.aclose()

    async def _request_json(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Send a request and return its JSON body.

        Raises:
            BackendError: Any transport failure or error status, or a body that is not JSON.
        """
        url = self._url(path)
        async with self._open_stream(method, path, body) as response:
            try:
                content = await response.aread()
            except (httpx.HTTPError, httpx.StreamError) as exc:
                raise map_http_error(exc, url=url) from exc
        try:
            return json.loads(content)
        except ValueError as exc:
            raise BackendStreamError(f"the backend's answer is not JSON ({url}): {content[:200]!r}") from exc

    async def aclose(self) -> None:
        """Close the HTTP client (if this backend created it)."""
        if self._owns_client:
            await self._client.aclose()
