"""The Mac toolset's file sandbox: files come only from the home folder and the folders the user allows.

Every file-taking tool (open_and_get_file_path, summarize_pdf, and the attachments of compose_new_email,
reply_to_email and forward_email) is tried with paths that leave the home: absolute, through "..", through a symlink
in the home, and through look-alikes of "/". A property test then runs random calls with random paths while an audit
hook records every file the process opens or lists, and checks that none lies outside the allowed folders and that no
draft or observation carries an outside file's content.
"""

from __future__ import annotations

import email.policy
import mimetypes
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mac_helpers import RecordingRunner, call

from tinyplan import Toolset, ToolsetError
from tinyplan.toolsets.mac import (
    EmailDraft,
    FileSandbox,
    MacOSDriver,
    MacToolError,
    NoteNotFoundError,
    PortableDriver,
    ToolFileNotFoundError,
    ToolInputError,
    copy_sample_home,
    mac_toolset,
)

pytestmark = pytest.mark.anyio

SECRET = "OUTSIDE-SECRET-7f3a"  # in every file outside the sandbox; must never show up in a draft or observation
RULE = "folders files may come from"

# --------------------------------------------------------------------------------------------- what the process opens
_opened: list[str] | None = None  # while a list: every path the process opens, lists or scans is appended to it


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _opened is not None and event in ("open", "os.scandir", "os.listdir") and args:
        path = args[0]
        if isinstance(path, str | bytes | os.PathLike):
            _opened.append(os.fsdecode(path))


sys.addaudithook(_audit)  # process-wide and permanent: it only records while a test sets _opened
mimetypes.init()  # read the system's mime.types (in /etc) now, not while a test records


def opened_while(fn: Any, *args: Any) -> tuple[Any, list[str]]:
    """Run ``anyio.run(fn, *args)``; return its result (or the exception it raised) and every path opened meanwhile."""
    global _opened
    _opened = []
    try:
        try:
            result: Any = anyio.run(fn, *args)
        except Exception as exc:
            result = exc
        return result, list(_opened)
    finally:
        _opened = None


def interpreter_dirs() -> list[Path]:
    """Where Python itself may lazily read modules from (imports during a call are not the tools' reads)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, *[p for p in sys.path if p]}
    return [Path(os.path.realpath(d)) for d in dirs if os.path.isdir(d)]


# ----------------------------------------------------------------------------------------------------------- world
def tiny_pdf(text: str) -> bytes:
    """A one-page PDF whose text is ``text`` (pypdf extracts it)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


@dataclass
class World:
    """A home (the sample home plus symlinks), an allowed extra folder, and an outside folder with secrets."""

    root: Path
    home: Path
    extra: Path
    outside: Path

    @property
    def secrets(self) -> set[bytes]:
        return {p.read_bytes() for p in self.outside.rglob("*") if p.is_file()}


def make_world(root: Path) -> World:
    home = copy_sample_home(root / "home")
    extra = root / "extra"
    outside = root / "outside"
    extra.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{SECRET} plain text\n", encoding="utf-8")
    (outside / "secret.pdf").write_bytes(tiny_pdf(f"{SECRET} in a PDF"))
    (outside / "Groceries.md").write_text(f"# Groceries\n\n{SECRET}\n", encoding="utf-8")
    (outside / "newest.eml").write_text(
        f"From: Mallory <m@evil.example>\nTo: me@example.com\nSubject: {SECRET}\nDate: Sun, 1 Jan 2034 10:00:00 +0000\n"
        f"Message-ID: <secret@evil.example>\n\n{SECRET} body\n",
        encoding="utf-8",
    )
    (extra / "extra-notes.txt").write_text("notes from the allowed folder\n", encoding="utf-8")
    (extra / "Budget.pdf").write_bytes(tiny_pdf("Budget 2024 from the allowed folder"))
    docs = home / "Documents"
    (docs / "escape.txt").symlink_to(outside / "secret.txt")  # a symlink in the home pointing out
    (docs / "escape.pdf").symlink_to(outside / "secret.pdf")
    (home / "outdir").symlink_to(outside, target_is_directory=True)  # a symlinked folder pointing out
    (docs / "alias.pdf").symlink_to(docs / "Apple Demo.pdf")  # a symlink that stays inside
    (docs / "budget-link.pdf").symlink_to(extra / "Budget.pdf")  # inside only when extra is allowed
    return World(root.resolve(), home, extra.resolve(), outside.resolve())


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def drafts(home: Path) -> list[Path]:
    folder = home / "mail" / "drafts"
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def read_eml(path: Path) -> EmailMessage:
    with path.open("rb") as fh:
        msg = BytesParser(policy=email.policy.default).parse(fh)
    assert isinstance(msg, EmailMessage)
    return msg


def attachment_blobs(msg: EmailMessage) -> Iterator[bytes]:
    for part in msg.iter_attachments():
        if part.get_content_type() != "message/rfc822":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            yield payload


def assert_clean(world: World, text: str) -> None:
    """Nothing from outside the sandbox in an observation or error: no secret, no real path of an outside file."""
    assert SECRET not in text
    assert str(world.outside) not in text


def assert_drafts_clean(world: World, paths: list[Path]) -> None:
    secrets = world.secrets
    for path in paths:
        raw = path.read_bytes()
        assert SECRET.encode() not in raw and str(world.outside).encode() not in raw
        for blob in attachment_blobs(read_eml(path)):
            assert blob not in secrets and SECRET.encode() not in blob


# -------------------------------------------------------------------------------------------- the file-taking tools
def file_calls(path: str) -> list[tuple[str, tuple[Any, ...]]]:
    """Every file-taking tool called with ``path`` where it takes a file."""
    return [
        ("open_and_get_file_path", (path,)),
        ("summarize_pdf", (path,)),
        ("compose_new_email", (["sid.jha@example.com"], [], "Files", "See attached.", [path])),
        ("reply_to_email", ([], "See attached.", [path])),
        ("forward_email", (["sid.jha@example.com"], [], "", [path])),
    ]


TOOL_NAMES = [name for name, _ in file_calls("x")]

#: Paths that leave the home, as (id, builder from the world). Each must be refused by every file-taking tool.
ESCAPES: dict[str, Any] = {
    "absolute": lambda w: str(w.outside / "secret.txt"),
    "absolute-pdf": lambda w: str(w.outside / "secret.pdf"),
    "etc-passwd": lambda w: "/etc/passwd",
    "dotdot": lambda w: "../outside/secret.txt",
    "deep-dotdot": lambda w: "../../../../../../../../etc/passwd",
    "dotdot-inside-first": lambda w: "Documents/../../outside/secret.pdf",
    "absolute-through-home": lambda w: f"{w.home}/../outside/secret.txt",
    "symlink-file": lambda w: "Documents/escape.txt",
    "symlink-file-absolute": lambda w: str(w.home / "Documents" / "escape.pdf"),
    "symlink-folder": lambda w: "outdir/secret.txt",
    "tilde": lambda w: "~/../../etc/passwd",
    "division-slash": lambda w: "..\u2215outside\u2215secret.txt",
    "fraction-slash": lambda w: "..\u2044..\u2044..\u2044etc\u2044passwd",
    "fullwidth-solidus": lambda w: "\uff0fetc\uff0fpasswd",
    "fullwidth-dots": lambda w: "\uff0e\uff0e/outside/secret.txt",
    "two-dot-leader": lambda w: "\u2025/outside/secret.txt",
    "backslashes": lambda w: "..\\outside\\secret.txt",
}


@pytest.mark.parametrize("tool", TOOL_NAMES)
@pytest.mark.parametrize("escape", list(ESCAPES))
async def test_every_file_tool_refuses_paths_outside_the_home(world: World, tool: str, escape: str) -> None:
    tools = mac_toolset(world.home, driver="portable")
    path = ESCAPES[escape](world)
    (args,) = [a for name, a in file_calls(path) if name == tool]
    with pytest.raises(ToolInputError) as caught:
        await call(tools, tool, *args)
    message = str(caught.value)
    assert RULE in message and f"the home folder {world.home}" in message
    assert_clean(world, message)  # the refused path is not echoed back
    assert not drafts(world.home)


async def test_the_issue_examples(world: World) -> None:
    tools = mac_toolset(world.home, driver="portable")
    for path in ("/etc/passwd", "../../../etc/passwd"):
        with pytest.raises(ToolInputError, match=RULE):
            await call(tools, "open_and_get_file_path", path)
    with pytest.raises(ToolInputError, match="attachment leads outside the folders files may come from"):
        await call(tools, "compose_new_email", ["a@b.c"], [], "x", "y", ["/etc/passwd"])
    with pytest.raises(ToolInputError, match="pdf_path leads outside"):
        await call(tools, "summarize_pdf", "/etc/passwd")
    with pytest.raises(ToolInputError, match="attachment 2 leads outside"):
        await call(tools, "compose_new_email", ["a@b.c"], [], "x", "y", ["Apple Demo", "/etc/passwd"])
    assert not drafts(world.home)


async def test_inside_paths_still_work_and_return_the_real_file(world: World) -> None:
    tools = mac_toolset(world.home, driver="portable")
    demo = str(world.home / "Documents" / "Apple Demo.pdf")
    assert await call(tools, "open_and_get_file_path", "Documents/alias.pdf") == demo  # a symlink that stays inside
    assert await call(tools, "open_and_get_file_path", "Documents/../Documents/Apple Demo.pdf") == demo
    assert await call(tools, "open_and_get_file_path", demo) == demo
    assert "runs a small language model" in await call(tools, "summarize_pdf", "Documents/alias.pdf")
    out = await call(tools, "compose_new_email", ["Sid"], [], "Demo", "Attached.", ["Documents/alias.pdf"])
    (draft,) = drafts(world.home)
    assert "the attachment Apple Demo.pdf" in out
    (blob,) = attachment_blobs(read_eml(draft))
    assert blob == await anyio.Path(demo).read_bytes()


async def test_a_name_search_never_finds_a_symlink_that_leads_out(world: World) -> None:
    tools = mac_toolset(world.home, driver="portable")
    for name in ("escape", "escape.txt", "escape.pdf", "secret", "secret.txt", "budget-link.pdf"):
        try:
            found = await call(tools, "open_and_get_file_path", name)
        except ToolFileNotFoundError as exc:
            assert_clean(world, str(exc))
            continue
        assert (await anyio.Path(found).resolve()).is_relative_to(world.home), (name, found)
        assert_clean(world, found)
    for name in ("escape", "secret"):  # and nothing is read through one either
        with pytest.raises(MacToolError):
            await call(tools, "summarize_pdf", name)


async def test_an_allowed_root_works(world: World) -> None:
    tools = mac_toolset(world.home, driver="portable", allow=[world.extra])
    notes = str(world.extra / "extra-notes.txt")
    budget = str(world.extra / "Budget.pdf")
    assert await call(tools, "open_and_get_file_path", notes) == notes
    assert await call(tools, "open_and_get_file_path", "extra-notes") == notes  # searched after the home
    assert await call(tools, "open_and_get_file_path", "Documents/budget-link.pdf") == budget  # a symlink into it
    assert "Budget 2024" in await call(tools, "summarize_pdf", budget)
    out = await call(tools, "compose_new_email", ["Sid"], [], "Budget", "Attached.", [budget, "extra-notes"])
    assert "the attachments Budget.pdf and extra-notes.txt" in out
    (draft,) = drafts(world.home)
    expected = [await anyio.Path(budget).read_bytes(), await anyio.Path(notes).read_bytes()]
    assert list(attachment_blobs(read_eml(draft))) == expected
    with pytest.raises(ToolInputError) as caught:  # the outside folder is still refused, and the message names both
        await call(tools, "summarize_pdf", str(world.outside / "secret.pdf"))
    assert f"the home folder {world.home} and the allowed folder {world.extra}" in str(caught.value)


async def test_reply_and_forward_attachments_from_an_allowed_root(world: World) -> None:
    tools = mac_toolset(world.home, driver="portable", allow=[str(world.extra)])
    await call(tools, "reply_to_email", [], "Here it is.", [str(world.extra / "Budget.pdf")])
    await call(tools, "forward_email", ["Jonas"], [], "", ["extra-notes.txt"])
    by_subject = {str(m["Subject"]): m for m in map(read_eml, drafts(world.home))}
    reply, forward = by_subject["Re: Team offsite on June 7"], by_subject["Fwd: Team offsite on June 7"]
    assert [p.get_filename() for p in reply.iter_attachments()] == ["Budget.pdf"]
    assert [p.get_filename() for p in forward.iter_attachments()] == [None, "extra-notes.txt"]  # the original first


async def test_files_the_driver_keeps_are_skipped_when_they_lead_out(world: World) -> None:
    inbox = world.home / "mail" / "inbox"
    (inbox / "2034-newest.eml").symlink_to(world.outside / "newest.eml")  # would be the newest, "selected" email
    (world.home / "notes" / "Notes" / "Leak.md").symlink_to(world.outside / "Groceries.md")
    (world.home / "contacts" / "leak.vcf").symlink_to(world.outside / "secret.txt")  # not even valid vCard
    tools = mac_toolset(world.home, driver="portable")
    out = await call(tools, "reply_to_email", [], "Count me in.", [])
    assert "Team offsite on June 7" in out
    assert_clean(world, out)
    assert_drafts_clean(world, drafts(world.home))
    with pytest.raises(NoteNotFoundError):
        await call(tools, "open_note", "Leak", "Notes")
    assert await call(tools, "get_phone_number", "Sid") == "+1 510 555 0101"


async def test_writes_through_a_symlinked_folder_are_refused(world: World) -> None:
    (world.home / "messages").symlink_to(world.outside, target_is_directory=True)
    tools = mac_toolset(world.home, driver="portable")
    with pytest.raises(ToolInputError, match=RULE):
        await call(tools, "send_sms", ["Sid"], "hi")
    assert sorted(p.name for p in world.outside.iterdir()) == ["Groceries.md", "newest.eml", "secret.pdf", "secret.txt"]


# ------------------------------------------------------------------------------------------------------ the sandbox
def test_file_sandbox_rule(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    box = FileSandbox(world.home, [world.extra, world.extra, str(world.home)])
    assert box.roots == (world.home, world.extra)  # duplicates and the home itself dropped
    assert box.check("Documents/Apple Demo.pdf") == world.home / "Documents" / "Apple Demo.pdf"
    assert box.check("Documents/no-such-file") == world.home / "Documents" / "no-such-file"  # need not exist
    assert box.check(world.extra / "Budget.pdf") == world.extra / "Budget.pdf"
    assert box.existing_file("Documents") is None  # a folder is no file
    assert box.existing_file("x" * 5000) is None  # too long a name: not there
    for bad in ("/etc/passwd", "..", "outdir", "Documents/escape.txt", "..\u2215x", "\u2025", "..\\x"):
        assert not box.allows(bad), bad
    with pytest.raises(ToolInputError, match="pdf_path is not a usable path"):
        box.check("a\x00b", what="pdf_path")
    # a name that merely contains a look-alike, but looks inside too, is an ordinary file name
    odd = world.home / "Documents" / "a\u2215b.txt"
    odd.write_text("fine", encoding="utf-8")
    assert box.existing_file("Documents/a\u2215b.txt") == odd
    # a single file may be a root; a string is one root, not a list of characters
    assert FileSandbox(world.home, str(world.extra / "Budget.pdf")).allows(world.extra / "Budget.pdf")
    assert not FileSandbox(world.home, str(world.extra / "Budget.pdf")).allows(world.extra / "extra-notes.txt")
    walked = [real for _, real in box.walk()]
    assert world.extra / "extra-notes.txt" in walked and world.home / "Documents" / "Apple Demo.pdf" in walked
    assert not [p for p in walked if p.is_relative_to(world.outside)]


def test_allow_reaches_the_drivers(world: World) -> None:
    tools = mac_toolset(world.home, driver="portable", allow=["~", world.extra])
    assert isinstance(tools, Toolset)
    driver = PortableDriver(world.home, allow=[world.extra])
    assert driver.sandbox.roots == (world.home, world.extra)
    assert "allow=" in repr(driver)
    with pytest.raises(ToolsetError, match="pass it to your driver"):
        mac_toolset(world.home, driver=driver, allow=[world.extra])


# --------------------------------------------------------------------------------------------------- macOS driver
def test_macos_default_sandbox_is_the_users_home() -> None:
    driver = MacOSDriver(RecordingRunner())
    assert driver.sandbox.roots == (Path(os.path.realpath(Path.home())),)
    assert driver.sandbox.describe().startswith("the user's home folder ")


async def test_macos_refuses_outside_paths_before_running_anything(world: World) -> None:
    runner = RecordingRunner()
    tools = mac_toolset(driver="macos", runner=runner)  # default: the user's home folder only
    for tool, args in file_calls(str(world.outside / "secret.pdf")):
        with pytest.raises(ToolInputError, match=f"{RULE}: the user's home folder"):
            await call(tools, tool, *args)
    driver = MacOSDriver(runner, home=world.home)
    with pytest.raises(ToolInputError, match=RULE):
        await driver.find_file("Documents/escape.pdf")  # a symlink in the home that leads out
    with pytest.raises(ToolInputError, match=RULE):
        await driver.find_file("..\u2215outside\u2215secret.pdf")
    assert runner.calls == []  # no Spotlight, no open, no Mail script


async def test_macos_spotlight_hits_outside_are_ignored(world: World) -> None:
    outside_hit = str(world.outside / "secret.pdf")
    through_link = str(world.home / "Documents" / "escape.pdf")
    inside_hit = str(world.home / "Documents" / "Apple Demo.pdf")
    runner = RecordingRunner([f"{outside_hit}\n{through_link}\n{inside_hit}\n", ""])
    driver = MacOSDriver(runner, home=world.home)
    assert await driver.find_file("secret") == inside_hit
    assert runner.calls[-1] == ["open", inside_hit]
    runner = RecordingRunner([f"{outside_hit}\n/etc/passwd\n"])
    driver = MacOSDriver(runner, home=world.home)
    with pytest.raises(ToolFileNotFoundError, match="Spotlight found no file named like 'secret' in the home folder"):
        await driver.find_file("secret")
    assert [c[0] for c in runner.calls] == ["mdfind"]  # nothing opened


async def test_macos_allowed_roots_for_attachments_and_pdfs(world: World) -> None:
    runner = RecordingRunner()
    driver = MacOSDriver(runner, home=world.home, allow=[world.extra])
    tools = mac_toolset(driver=driver)
    budget = str(world.extra / "Budget.pdf")
    assert "Budget 2024" in await call(tools, "summarize_pdf", budget)
    await call(tools, "compose_new_email", ["sid@example.com"], [], "Budget", "Attached.", [budget])
    (script,) = runner.scripts
    assert f'{{file name:(POSIX file "{budget}")}}' in script
    with pytest.raises(ToolInputError, match=f"and the allowed folder {world.extra}"):
        await driver.compose_email(EmailDraft(("a@b.c",), attachments=(str(world.outside / "secret.txt"),)))
    with pytest.raises(ToolInputError, match=RULE):
        await driver.reply_email((), "hi", ("../outside/secret.txt",))
    assert len(runner.scripts) == 1
    allowed = mac_toolset(driver="macos", runner=RecordingRunner(), allow=[world.extra])
    assert "Budget 2024" in await call(allowed, "summarize_pdf", budget)  # mac_toolset(allow=) passes it through


# ----------------------------------------------------------------------------------------------- property: random
_WORLD: World | None = None


def shared_world(factory: pytest.TempPathFactory) -> World:
    global _WORLD
    if _WORLD is None:
        _WORLD = make_world(factory.mktemp("sandbox-world"))
    return _WORLD


PARTS = st.one_of(
    st.sampled_from(
        [
            "..",
            ".",
            "",
            "Documents",
            "escape.txt",
            "escape.pdf",
            "alias.pdf",
            "budget-link.pdf",
            "outdir",
            "outside",
            "extra",
            "home",
            "secret.txt",
            "secret.pdf",
            "Budget.pdf",
            "extra-notes.txt",
            "Apple Demo.pdf",
            "Quarterly Report",
            "etc",
            "passwd",
            "\u2025",
            "\uff0e\uff0e",
            "~",
        ]
    ),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=8),
)
SEPARATORS = st.sampled_from(["/", "/", "/", "//", "\\", "\u2215", "\u2044", "\uff0f", "\u29f8"])


@st.composite
def random_paths(draw: st.DrawFn, world: World) -> str:
    prefix = draw(
        st.sampled_from(
            ["", "", "/", "~/", f"{world.home}/", f"{world.outside}/", f"{world.extra}/", f"{world.root}/", "/etc/"]
        )
    )
    parts = draw(st.lists(st.tuples(SEPARATORS, PARTS), min_size=1, max_size=5))
    text = prefix + "".join(sep + part if i else part for i, (sep, part) in enumerate(parts))
    bare = draw(PARTS)  # a file name alone: searched for
    return draw(st.sampled_from([text, text, bare, bare, "/etc/passwd", str(world.outside / "secret.pdf")]))


@st.composite
def random_calls(draw: st.DrawFn, world: World) -> tuple[str, tuple[Any, ...]]:
    paths = draw(st.lists(random_paths(world), min_size=1, max_size=3))
    tool = draw(st.sampled_from(TOOL_NAMES))
    calls = dict(file_calls(paths[0]))
    if tool in ("compose_new_email", "reply_to_email", "forward_email"):
        args = list(calls[tool])
        args[-1] = paths
        return tool, tuple(args)
    return tool, calls[tool]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_calls_read_and_attach_only_files_inside_the_allowed_roots(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    world = shared_world(tmp_path_factory)
    extra_allowed = data.draw(st.booleans(), label="extra allowed")
    tools = mac_toolset(world.home, driver="portable", allow=[world.extra] if extra_allowed else [])
    roots = [world.home, world.extra] if extra_allowed else [world.home]
    python = interpreter_dirs()
    tool, args = data.draw(random_calls(world), label="call")
    before = set(drafts(world.home))

    result, opened = opened_while(call, tools, tool, *args)

    if isinstance(result, Exception):
        assert isinstance(result, MacToolError), repr(result)  # a reason the model can read, never a crash
        assert SECRET not in str(result)
    else:
        assert isinstance(result, str)
        assert SECRET not in result
        if tool == "open_and_get_file_path":  # the path handed on to later tasks is a real file inside
            assert any(Path(os.path.realpath(result)).is_relative_to(r) for r in roots), result
    for path in opened:
        real = Path(os.path.realpath(path))
        inside = any(real.is_relative_to(r) for r in roots)
        assert inside or any(real.is_relative_to(d) for d in python), f"{tool}{args!r} opened {real}"
        assert not real.is_relative_to(world.outside)
    new = sorted(set(drafts(world.home)) - before)
    assert_drafts_clean(world, new)
    if isinstance(result, Exception):
        assert not new  # nothing half-written


def teardown_module() -> None:
    if _WORLD is not None:
        shutil.rmtree(_WORLD.root, ignore_errors=True)
