"""The main job on real input: the default model plans Mac-assistant requests and tinyplan executes them.

Five different requests, each through the three backends (llama.cpp in-process, the native llama-server, and
llama-cpp-python's OpenAI-compatible server), with the planner configured as ``tinyplan run`` configures it. Every
request's effect is checked in the files the portable driver wrote, re-read with the format libraries.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest

from tinyplan import Backend, Planner, PlanResult
from tinyplan.backends import LlamaCppBackend, LlamaServerProcess, OpenAICompatibleBackend, llama_server_binary
from tinyplan.backends._gguf import default_model_path
from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

SID = ("+1 510 555 0101", "sid.jha@example.com")
LUTFI = ("+1 510 555 0102", "lutfi.erdogan@example.com")
MAYA_EMAILS = {"maya.chen@example.com", "mchen@example.net"}


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _sms_drafts(home: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((home / "messages" / "outbox").glob("*.json"))]


def _ics_components(folder: Path, kind: str) -> list[Any]:
    found = []
    for path in sorted(folder.glob("*.ics")):
        cal = icalendar.Calendar.from_ical(path.read_bytes())
        found += [c for c in cal.walk() if c.name == kind]
    return found


def check_sms(home: Path) -> None:
    drafts = _sms_drafts(home)
    recipients = {_digits(r) for d in drafts for r in d["to"]}
    assert {_digits(SID[0]), _digits(LUTFI[0])} <= recipients, drafts
    assert any("3" in d["message"] for d in drafts), drafts


def check_email(home: Path) -> None:
    drafts = list((home / "mail" / "drafts").glob("*.eml"))
    assert drafts, "no email draft written"
    to = set()
    for path in drafts:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        to |= {a.addr_spec for a in msg["To"].addresses}
    assert to & MAYA_EMAILS, to


def check_reminder(home: Path) -> None:
    todos = _ics_components(home / "reminders", "VTODO")
    assert any("milk" in str(t.get("SUMMARY", "")).lower() for t in todos), [str(t.get("SUMMARY")) for t in todos]


def check_note(home: Path) -> None:
    notes = [p for p in (home / "notes").rglob("*.md") if "packing" in p.stem.lower()]
    assert notes, sorted(str(p.relative_to(home)) for p in (home / "notes").rglob("*.md"))
    assert "passport" in notes[0].read_text().lower()


def check_event(home: Path) -> None:
    events = _ics_components(home / "calendar", "VEVENT")
    assert events, "no calendar event written"
    ev = events[-1]
    assert "sync" in str(ev.get("SUMMARY", "")).lower()
    attendees = ev.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees] if attendees else []
    assert any(SID[1] in str(a).lower() for a in attendees), attendees
    assert ev.decoded("DTSTART").hour == 10


REQUESTS: list[tuple[str, Callable[[Path], None]]] = [
    ("Text Sid and Lutfi that the meeting moved to 3pm", check_sms),
    ("Send an email to Maya Chen saying that the quarterly report is ready", check_email),
    ("Remind me to buy milk tomorrow at 9am", check_reminder),
    ("Create a note called Packing that says: passport, charger, sunscreen", check_note),
    ("Schedule a meeting called Sync with Sid on 2026-11-23 at 10am", check_event),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module", params=["llama-cpp", "llama-server", "openai-compatible"])
def backend_kind(request: pytest.FixtureRequest) -> Iterator[tuple[str, Callable[[], Backend]]]:
    """One backend kind per module pass, its server (if any) started once and stopped afterwards."""
    model = default_model_path()
    kind = request.param
    if kind == "llama-cpp":
        yield kind, lambda: LlamaCppBackend(model, n_ctx=8192)
        return
    if kind == "llama-server":
        try:
            llama_server_binary()
        except Exception as exc:
            pytest.skip(f"LOUD SKIP: the native llama-server is not built ({exc}); run scripts/build-llama-server.sh")
        with LlamaServerProcess(model, ctx_size=8192) as server:
            yield kind, lambda: server.backend()
        return
    port = _free_port()
    log = open(os.devnull, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_threads",
            str(os.cpu_count() or 2),
            "--n_ctx",
            "8192",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start")
            time.sleep(0.5)
        yield kind, lambda: OpenAICompatibleBackend(url)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.mark.parametrize(("query", "check"), REQUESTS, ids=["sms", "email", "reminder", "note", "event"])
async def test_default_model_runs_mac_request(
    backend_kind: tuple[str, Callable[[], Backend]], query: str, check: Callable[[Path], None], tmp_path: Path
) -> None:
    kind, make_backend = backend_kind
    home = copy_sample_home(tmp_path / "home")
    backend = make_backend()
    # configured as `tinyplan run` configures it for the Mac toolset
    planner = Planner(backend, mac_toolset(home), join="observations", grammar="typed", max_replans=1)
    try:
        result: PlanResult = await planner.run(query)
    finally:
        await backend.aclose()
    plan_texts = "\n---\n".join(p.text for p in result.plans)
    assert result.status == "answered", f"[{kind}] {result.error}\n{plan_texts}"
    assert all(p.parse_error is None for p in result.plans[-1:]), plan_texts
    check(home)
