"""Synthesis profiles: what a toolset's plans are made of (value pools, kinds, phrases, held-out examples, sandbox).

`profile_for` builds a generic profile for any toolset; `mac_profile` the one for TinyAgent's Mac tools, whose
sandbox is a copy of the sample home with the pools' contacts, documents and notes added (`MacSandbox`).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyplan._tools import Toolset
from tinyplan.data._sanity import ExampleChecker, Sandbox
from tinyplan.data._skeleton import ArgStyle
from tinyplan.data._values import ValuePools, default_pools

__all__ = ["MacSandbox", "SynthProfile", "mac_profile", "profile_for", "text_pdf"]


@dataclass
class SynthProfile:
    """How to synthesize plans for one toolset.

    Attributes:
        name: The toolset's name in records (``"mac"``, ``"custom"``).
        pools: Seed values.
        kinds: Parameter kind overrides (``"tool.param"`` → kind).
        phrases: Words that state option values (see `ExampleChecker`).
        default_minutes: A toolset's default duration: an end this long after a start is implied.
        holdout: ``(request, plan)`` pairs kept out of the data (the evaluation set).
        sandbox: Runs plans on a copy of the toolset's data, or None.
        style: ``"positional"`` (every parameter in order) or ``"keyword"`` plan arguments.
        goal_weights: Weight of each tool as a plan's goal (see `SkeletonSampler`).
    """

    name: str = "custom"
    pools: ValuePools = field(default_factory=ValuePools)
    kinds: dict[str, str] = field(default_factory=dict)
    phrases: dict[str, dict[Any, list[str]]] = field(default_factory=dict)
    default_minutes: int | None = None
    holdout: list[tuple[str, str]] = field(default_factory=list)
    sandbox: Sandbox | None = None
    style: ArgStyle = "keyword"
    goal_weights: dict[str, float] | None = None

    def checker(self, toolset: Toolset, **options: Any) -> ExampleChecker:
        """The `ExampleChecker` of this profile for ``toolset``.

        Its known values are the pools' contacts, with their first names, files and places.
        """
        known: list[str] = []
        for name in self.pools.pools.get("contact name", ()):
            known += [str(name), str(name).split()[0]]
        for kind in ("file name", "place"):
            known += [str(v) for v in self.pools.pools.get(kind, ())]
        return ExampleChecker(
            toolset,
            kinds=self.kinds,
            phrases=self.phrases,
            default_minutes=self.default_minutes,
            holdout=self.holdout,
            sandbox=self.sandbox,
            known=list(dict.fromkeys(known)),
            **options,
        )


def _split_example(text: str) -> tuple[str, str]:
    head, _, plan = text.partition("\n")
    return re.sub(r"^\s*(Question|Query|Request)\s*:\s*", "", head).strip(), plan.strip()


def profile_for(toolset: Toolset, *, name: str = "custom", sandbox: Sandbox | None = None) -> SynthProfile:
    """A generic profile for any toolset.

    Default pools, kinds from semantic types and names, keyword arguments, the toolset's own examples held out (they
    stay the evaluation set).
    """
    holdout = [_split_example(e) for e in toolset.examples]
    return SynthProfile(name=name, holdout=holdout, sandbox=sandbox)


# ---------------------------------------------------------------------------------------------------------- Mac
_SURNAMES = ("Ramirez", "Haddad", "Petrov", "Okoye", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Ahmed")
_NEW_NOTES = (
    "Weekend Plans", "Party Ideas", "Interview Questions", "Travel Budget", "Daily Journal", "Conference Takeaways",
    "Birthday Plans", "Renovation Ideas", "Blog Drafts", "Vacation Ideas", "Course Notes", "Shopping List",
)  # fmt: skip


def text_pdf(text: str) -> bytes:
    """A one-page PDF whose only content is ``text`` in Helvetica (a stand-in document pypdf can read back)."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


class MacSandbox:
    """The Mac toolset's sandbox: a fresh copy of a prepared home for each `toolset` call.

    Each call copies a prepared home (the sample home plus a vCard for every contact of the pools, a PDF for every
    file name, a note for every note title) and builds the portable-driver toolset over the copy, with a Zoom
    stand-in that returns a made-up link.

    Args:
        pools: The value pools whose contacts, files and notes must exist.
        root: Where to keep the copies (default: a temporary folder, removed by `close`).
    """

    def __init__(self, pools: ValuePools, root: str | Path | None = None) -> None:
        self.pools = pools
        self._tmp = tempfile.TemporaryDirectory(prefix="tinyplan-sandbox-") if root is None else None
        self.root = Path(self._tmp.name if self._tmp is not None else root)  # type: ignore[arg-type]
        self._template: Path | None = None
        self._count = 0
        self._lock = threading.Lock()

    def template(self) -> Path:
        """The prepared home every run copies (made on first use)."""
        with self._lock:
            if self._template is None:
                self._template = self._prepare(self.root / "template")
            return self._template

    def _prepare(self, home: Path) -> Path:
        from tinyplan.toolsets.mac import copy_sample_home
        from tinyplan.toolsets.mac.contacts import load_vcards, match_contact

        copy_sample_home(home)
        contacts = load_vcards(sorted((home / "contacts").rglob("*.vcf")))
        cards = []
        for i, name in enumerate(self.pools.pools.get("contact name", ())):
            try:
                match_contact(str(name), contacts)
                continue
            except Exception:
                pass
            full = str(name) if " " in str(name) else f"{name} {_SURNAMES[i % len(_SURNAMES)]}"
            first, _, last = full.partition(" ")
            email = self.pools.emails.get(str(name)) or f"{first.casefold()}.{last.casefold()}@example.com"
            phone = self.pools.phones.get(str(name)) or f"+1 415 555 {1000 + i:04d}"
            cards.append(
                f"BEGIN:VCARD\nVERSION:3.0\nFN:{full}\nN:{last};{first};;;\nEMAIL;TYPE=INTERNET:{email}\n"
                f"TEL;TYPE=CELL:{phone}\nEND:VCARD\n"
            )
        (home / "contacts" / "pool.vcf").write_text("".join(cards), encoding="utf-8")
        documents = home / "Documents"
        for name in self.pools.pools.get("file name", ()):
            path = documents / f"{name}.pdf"
            if not path.exists():
                path.write_bytes(text_pdf(f"{name}: the main points, figures and next steps of this document."))
        notes = home / "notes" / "Notes"
        for title in self.pools.pools.get("note name", ()):
            if not any((home / "notes").rglob(f"{title}.md")):
                (notes / f"{title}.md").write_text(f"# {title}\n\nA few lines about {title.lower()}.\n", "utf-8")
        return home

    def toolset(self) -> Toolset:
        """A Mac toolset (portable driver) over a fresh copy of the prepared home."""
        from tinyplan.toolsets.mac import mac_toolset

        template = self.template()
        with self._lock:
            self._count += 1
            target = self.root / f"run-{self._count}"
        shutil.copytree(template, target)
        if self._count > 1:  # keep the disk tidy: the previous run's copy is no longer needed
            shutil.rmtree(self.root / f"run-{self._count - 1}", ignore_errors=True)
        return mac_toolset(target, driver="portable", zoom=_FakeZoom())  # type: ignore[arg-type]

    def close(self) -> None:
        """Remove the copies (when the sandbox made its own folder)."""
        if self._tmp is not None:
            self._tmp.cleanup()


class _FakeZoom:
    """A Zoom client stand-in: a made-up join URL, no network."""

    async def create_meeting(self, topic: str, start: dt.datetime, duration: int, invitees: Sequence[str] = ()) -> str:
        return f"https://zoom.us/j/{abs(hash((topic, start.isoformat(), duration))) % 10**10:010d}"


def mac_profile(toolset: Toolset | None = None, *, sandbox: bool = True) -> SynthProfile:
    """The profile for TinyAgent's Mac tools.

    Positional arguments as in TinyAgent's plans, new notes named apart from existing ones, phrases for directions'
    transport and reminders' priority and all-day flag, the 60-minute default meeting length, the 18 hand-written
    examples held out, and `MacSandbox` (when ``sandbox``).
    """
    from tinyplan.toolsets.mac import MAC_EXAMPLES

    pools = ValuePools(default_pools())
    pools.pools["new note name"] = _NEW_NOTES
    kinds = {
        "create_note.name": "new note name",
        "create_reminder.name": "reminder",
        "maps_show_directions.transport": "choice",
    }
    phrases: dict[str, dict[Any, list[str]]] = {
        "maps_show_directions.transport": {
            "d": ["driv", "car"],
            "w": ["walk", "on foot"],
            "r": ["transit", "train", "bus", "subway", "bart", "caltrain", "public transport"],
        },
        "create_reminder.priority": {1: ["high", "urgent", "important"], 5: ["medium"], 9: ["low"]},
        "create_reminder.all_day": {True: ["all-day", "all day", "whole day", "entire day"]},
    }
    holdout = [_split_example(text) for _, text in MAC_EXAMPLES]
    return SynthProfile(
        name="mac",
        pools=pools,
        kinds=kinds,
        phrases=phrases,
        default_minutes=60,
        holdout=holdout,
        sandbox=MacSandbox(pools) if sandbox else None,
        style="positional",
        goal_weights={"reply_to_email": 1.0, "forward_email": 1.0},  # they act on "the selected email": fewer
    )


def is_mac_toolset(toolset: Toolset) -> bool:
    """Whether ``toolset`` is (a subset of) TinyAgent's Mac tools as `tinyplan.toolsets.mac` builds them."""
    from tinyplan.toolsets.mac import MAC_TOOL_NAMES

    return (
        bool(toolset.names)
        and set(toolset.names) <= set(MAC_TOOL_NAMES)
        and all(getattr(t.function, "__module__", "") == "tinyplan.toolsets.mac._toolset" for t in toolset)
    )
