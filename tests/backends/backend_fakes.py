"""Real HTTP servers on 127.0.0.1 for the backend fault tests: each test scripts what the server does."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.server.requests.append((self.command, self.path, body, dict(self.headers)))
        try:
            self.server.respond(self, body)
        except (BrokenPipeError, ConnectionResetError):
            self.server.disconnects.append(self.path)
        self.close_connection = True

    do_GET = _handle
    do_POST = _handle

    def end_headers(self) -> None:
        # Each response ends its connection; say so, or the client may reuse the connection for its next request
        # while the server is closing it (a race that shows up as "Server disconnected without sending a response").
        self.send_header("Connection", "close")
        super().end_headers()

    # ----------------------------------------------------------------- helpers the scripts use
    def send_json(self, status: int, data: Any) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def start_sse(self, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def send_event(self, data: Any) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        self.write_chunk(f"data: {text}\n\n".encode())

    def end_sse(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def cut(self) -> None:
        """Close the connection abruptly, without ending the chunked body."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.requests: list[tuple[str, str, Any, dict[str, str]]] = []
        self.disconnects: list[str] = []
        self.respond: Callable[[FakeHandler, Any], None] = lambda h, body: h.send_json(404, {"error": "no script"})

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


# ------------------------------------------------------------------------------------ real-model test material
PLANNER_SYSTEM = """Given a user query, create a plan to solve it with the utmost parallelizability.
Each plan should comprise an action from the following 4 types:
1. get_phone_number(name: str) -> str
 - Search for a contact by name and return their phone number.
2. get_email_address(name: str) -> str
 - Search for a contact by name and return their email address.
3. send_sms(recipients: list[str], message: str) -> str
 - Send a text message to the recipients (phone numbers).
4. join()
 - Collects and combines results from prior actions. Always the last action of a plan.

Guidelines:
 - Each action described above contains input/output types and description.
 - Each action in the plan should strictly be one of the above types.
 - Each action MUST have a unique ID, which is strictly increasing.
 - Inputs for actions can either be constants or outputs from preceding actions. In the latter case, use the format
   $id to denote the ID of the previous action whose output will be the input.
 - Always call join as the last action in the plan. Say '<END_OF_PLAN>' after you call join.
 - Never explain the plan with comments (e.g. #).

Here is an example:
Question: Text Andrea that I will be late.
1. get_phone_number("Andrea")
2. send_sms([$1], "I will be late.")
3. join()<END_OF_PLAN>
"""
PLANNER_QUESTION = "Question: Text Sid and Lutfi that the meeting moved to 3pm."
PLANNER_TOOLS = ("get_phone_number", "get_email_address", "send_sms")
PLAN_GRAMMAR = 'root ::= "1. " [a-z_]+ "(" [^)\\n]* ")\\n2. join()"'
PLAN_GRAMMAR_RE = r"1\. [a-z_]+\([^)\n]*\)\n2\. join\(\)"


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A `FakeServer` serving on 127.0.0.1 in a thread for one test (conftests import this fixture)."""
    server = FakeServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def assert_sms_plan(tasks: list[Any]) -> None:
    """The plan looks up Sid and Lutfi, texts them, and joins (the model may pick either lookup tool)."""
    names = [t.name for t in tasks]
    assert names[-1] == "join", names
    assert "send_sms" in names, names
    looked_up = {str(t.args[0]) for t in tasks if t.name.startswith("get_") and t.args}
    assert {"Sid", "Lutfi"} <= looked_up, [str(t) for t in tasks]
