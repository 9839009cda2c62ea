"""The words a spoken request may use, as a Whisper prompt: contact names first, then the tools' words.

Whisper reads its prompt as the text that came before the audio, and spells a name it hears the way the prompt
spells it. Measured with Whisper tiny.en on espeak-ng speech: "Send an email to Lutfi" is heard as "… to Lotfield"
without a prompt and as "… to Lutfi" with the sample home's given names and the Mac tools' words in it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from tinyplan._tools import Tool, Toolset

__all__ = ["contact_names", "names_prompt", "tool_words"]

# Words of tool names that say nothing about what a user would speak.
_DULL = frozenset(
    {"a", "an", "and", "the", "to", "of", "for", "in", "on", "by", "with", "from", "get", "set", "new", "open", "show",
     "add", "append", "create", "make", "find", "list", "run", "use", "do", "is", "are", "be", "id", "ids", "path",
     "file", "name", "names", "value", "values", "text", "content", "info", "data"}
)  # fmt: skip
_MAX_PROMPT_CHARS = 700  # Whisper keeps the last 223 prompt tokens; ~3 characters per token


def tool_words(tools: Toolset | Iterable[Tool]) -> list[str]:
    """The distinctive words of the tools' names (``send_sms`` → ``send``, ``sms``), in tool order, each once.

    Articles, verbs like ``get``/``create``/``open`` and words like ``path`` or ``content`` are left out.
    """
    words: dict[str, None] = {}
    for t in tools:
        for part in re.split(r"[_.\-\s]+|(?<=[a-z])(?=[A-Z])", t.name):
            w = part.lower()
            if len(w) > 1 and w not in _DULL:
                words.setdefault(w, None)
    return list(words)


def contact_names(home: str | os.PathLike[str]) -> list[str]:
    """The full names in a Mac toolset home's ``contacts/*.vcf`` files, in file order (none when there are none).

    Needs vobject (the ``mac`` extra); without it, or for files that do not parse, the names are skipped.
    """
    folder = Path(home).expanduser() / "contacts"
    if not folder.is_dir():
        return []
    try:
        from tinyplan.toolsets.mac.contacts import load_vcards
    except ImportError:  # the mac extra is missing: no names
        return []
    names: dict[str, None] = {}
    for path in sorted(folder.rglob("*.vcf")):
        try:
            contacts = load_vcards([path])
        except Exception:  # one bad file loses its names only
            continue
        for c in contacts:
            names.setdefault(c.name, None)
    return list(names)


def names_prompt(
    names: Sequence[str] = (),
    words: Sequence[str] = (),
    *,
    given_names: bool = True,
    max_chars: int = _MAX_PROMPT_CHARS,
) -> str:
    """A Whisper prompt from contact names and other words: ``"Sid, Lutfi, Amir. Phone, email, sms, …."``.

    Args:
        names: People's names, most important first.
        words: Other words to expect (tool words, places).
        given_names: Keep only each name's first word (``"Lutfi Eren Erdogan"`` → ``"Lutfi"``), once each. People
            say "text Lutfi"; measured with Whisper tiny.en, full names in the prompt make it write surnames nobody
            said ("Text Sid and Lutfi Eren Erdogan, meeting, move to 3pm").
        max_chars: Cut the prompt at this many characters (words after the cut are dropped; names come first).

    Returns:
        The prompt, or ``""`` when there is nothing to say.
    """
    clean = [" ".join(n.split()) for n in names if n.strip()]
    if given_names:
        clean = [n.split()[0] for n in clean]
    parts: list[str] = []
    if clean:
        parts.append(", ".join(dict.fromkeys(clean)) + ".")
    if words:
        listed = ", ".join(dict.fromkeys(w for w in words if w.strip()))
        parts.append(listed[:1].upper() + listed[1:] + ".")
    text = " ".join(p for p in parts if p.strip(". "))
    if len(text) > max_chars:
        cut = text[:max_chars]
        text = cut[: cut.rfind(",")] + "." if "," in cut else cut
    return text
