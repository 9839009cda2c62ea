"""get_zoom_meeting_link against a stand-in of Zoom's REST API on loopback (a threaded http.server)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mac_helpers import call

from tinyplan.toolsets.mac import DateFormatError, ZoomClient, ZoomError, mac_toolset

pytestmark = pytest.mark.anyio


@dataclass
class StandIn:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 201
    body: bytes = b'{"id": 85746065432, "join_url": "https://zoom.us/j/85746065432?pwd=abc"}'


@pytest.fixture
def zoom_api() -> Iterator[StandIn]:
    state = StandIn(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "json": json.loads(self.rfile.read(length) or b"null"),
                }
            )
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v2"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def test_creates_a_meeting_and_returns_the_join_url(zoom_api: StandIn, home: Path) -> None:
    zoom = ZoomClient("tok-123", base_url=zoom_api.url, timezone="Europe/Berlin")
    tools = mac_toolset(home, driver="portable", zoom=zoom)
    link = await call(tools, "get_zoom_meeting_link", "Apple Meeting", "2024-10-14 15:00:00", 45, ["Sid", "a@b.org"])
    assert link == "https://zoom.us/j/85746065432?pwd=abc"
    (request,) = zoom_api.requests
    assert request["path"] == "/v2/users/me/meetings"
    assert request["authorization"] == "Bearer tok-123"
    assert request["json"] == {
        "topic": "Apple Meeting",
        "type": 2,
        "start_time": "2024-10-14T15:00:00",
        "timezone": "Europe/Berlin",
        "duration": 45,
        "settings": {"meeting_invitees": [{"email": "sid.jha@example.com"}, {"email": "a@b.org"}]},
    }


async def test_token_and_url_from_the_environment(
    zoom_api: StandIn, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOM_ACCESS_TOKEN", "env-token")
    monkeypatch.setenv("ZOOM_API_URL", zoom_api.url)
    tools = mac_toolset(home, driver="portable")
    assert (await call(tools, "get_zoom_meeting_link", "Standup", "2024-05-20 09:30:00", 30, [])).startswith(
        "https://zoom.us/j/"
    )
    assert zoom_api.requests[0]["authorization"] == "Bearer env-token"
    assert zoom_api.requests[0]["json"]["settings"] == {"meeting_invitees": []}


async def test_no_token_is_a_clear_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZOOM_ACCESS_TOKEN", raising=False)
    tools = mac_toolset(home, driver="portable")
    with pytest.raises(ZoomError, match=r"no Zoom access token: set \$ZOOM_ACCESS_TOKEN"):
        await call(tools, "get_zoom_meeting_link", "X", "2024-05-20 09:30:00", 30, [])


async def test_error_status_carries_zooms_message(zoom_api: StandIn) -> None:
    zoom_api.status = 401
    zoom_api.body = b'{"code": 124, "message": "Invalid access token."}'
    client = ZoomClient("bad", base_url=zoom_api.url, timezone="UTC")
    with pytest.raises(ZoomError, match=r"HTTP 401\): Invalid access token\."):
        await client.create_meeting("X", dt.datetime(2024, 1, 1, 9), 30)


async def test_answer_without_join_url(zoom_api: StandIn) -> None:
    zoom_api.body = b'{"id": 1}'
    with pytest.raises(ZoomError, match="no join_url"):
        await ZoomClient("t", base_url=zoom_api.url).create_meeting("X", dt.datetime(2024, 1, 1, 9), 30)


async def test_unreachable_server_and_bad_input(home: Path) -> None:
    client = ZoomClient("t", base_url="http://127.0.0.1:9/v2", timeout=5)  # port 9 (discard): nothing listens
    with pytest.raises(ZoomError, match=r"cannot reach Zoom at http://127\.0\.0\.1:9/v2"):
        await client.create_meeting("X", dt.datetime(2024, 1, 1, 9), 30)
    with pytest.raises(ZoomError, match="duration must be at least 1 minute"):
        await client.create_meeting("X", dt.datetime(2024, 1, 1, 9), 0)
    tools = mac_toolset(home, driver="portable", zoom=client)
    with pytest.raises(DateFormatError, match="start_time is required"):
        await call(tools, "get_zoom_meeting_link", "X", "", 30, [])
