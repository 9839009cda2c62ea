"""A speech-to-text server on 127.0.0.1 for the voice tests, reading multipart uploads the way whisper.cpp's and
OpenAI's servers do."""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Upload:
    path: str
    headers: dict[str, str]
    fields: dict[str, str]
    files: dict[str, tuple[str, str, bytes]]  # name -> (filename, content type, bytes)


@dataclass
class FakeSTT:
    url: str
    uploads: list[Upload] = field(default_factory=list)
    answer: Callable[[Upload], tuple[int, Any]] = lambda u: (200, {"text": " Text Sid and Lutfi. "})


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        if filename is not None:
            files[name] = (filename, part.get_content_type(), payload)
        else:
            fields[name] = payload.decode()
    return fields, files


@pytest.fixture
def stt() -> Iterator[FakeSTT]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fields, files = parse_multipart(self.headers["Content-Type"], body)
            upload = Upload(self.path, dict(self.headers), fields, files)
            fake.uploads.append(upload)
            status, data = fake.answer(upload)
            payload = data.encode() if isinstance(data, str) else json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeSTT(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
