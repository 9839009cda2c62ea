"""Sub-agents: a language model that writes email bodies, note contents and PDF summaries.

TinyAgent (Erdogan et al. 2024) hands these jobs to a separate LLM call with a task-specific system prompt, the
context cut to the model's window. Here any `Backend` does it (it may differ from the planner's). Without a backend
the tools use the given text as it is: the email body is the ``context`` argument, the note is the ``content``
argument, and a PDF "summary" is its extracted text cut to the budget.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

from tinyplan._backend import Backend, CompletionRequest, Message, complete
from tinyplan.toolsets.mac._errors import ToolInputError

__all__ = ["EmailMode", "SubAgent", "trim_to_budget"]


class EmailMode(enum.StrEnum):
    """What email is written: a new one, a reply to a thread, or a forward of one."""

    NEW = "new"
    REPLY = "reply"
    FORWARD = "forward"


_EMAIL_SYSTEM = {
    EmailMode.NEW: (
        "You are an expert email composer agent. Given an email content or a user query, you MUST generate a "
        "well-formatted and informative email. The email should include a polite greeting, a detailed body, and a "
        "professional sign-off. You MUST NOT include a subject. The email should be well-structured and free of "
        "grammatical errors."
    ),
    EmailMode.REPLY: (
        "You are an expert email composer agent. Given the content of the past email thread and a user query, you "
        "MUST generate a well-formatted and informative reply to the last email in the thread. The email should "
        "include a polite greeting, a detailed body, and a professional sign-off. You MUST NOT include a subject."
    ),
    EmailMode.FORWARD: (
        "You are an expert email composer agent. Given the content of the past email thread and a user query, you "
        "MUST generate a very concise and informative note to go with a forward of the last email in the thread. "
        "You MUST NOT include a subject."
    ),
}
_NOTE_SYSTEM = (
    "You are an expert note taking agent. Given a note title and some content, write the content of the note as "
    "clear, well-structured plain text (short paragraphs or bullet points). Do not repeat the title."
)
_APPEND_SYSTEM = (
    "You are an expert note taking agent. Given the current content of a note and new content to add, write ONLY "
    "the text to append, as clear plain text that fits the existing note. Do not repeat the existing content."
)
_SUMMARY_SYSTEM = (
    "You are an expert document summarizer agent. Given the text of a PDF document, write a concise summary of its "
    "main points in a few sentences."
)


def trim_to_budget(text: str, budget: int, count: Callable[[str], int] | None = None) -> str:
    """The longest head of ``text`` within ``budget`` (characters, or units of ``count`` such as tokens).

    TinyAgent keeps the first tokens that fit the sub-agent's context window; so does this. The cut falls on a
    whitespace boundary when there is one in the last tenth.

    Raises:
        ToolInputError: ``budget`` is not positive.
    """
    if budget < 1:
        raise ToolInputError(f"the context budget must be positive, got {budget}")
    measure = count or len
    if measure(text) <= budget:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # binary search on the character length whose measure fits
        mid = (lo + hi + 1) // 2
        if measure(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    head = text[:lo]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= int(lo * 0.9):
        head = head[:space]
    return head.rstrip()


def _clean(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text.strip())


class SubAgent:
    """Writes text with a backend, or passes the given text through when there is none."""

    def __init__(
        self,
        backend: Backend | None = None,
        *,
        context_budget: int = 6000,
        count_tokens: Callable[[str], int] | None = None,
        max_tokens: int = 512,
        user_notes: str = "",
    ) -> None:
        """A sub-agent that writes with ``backend`` within ``context_budget``.

        Args:
            backend: The model; None passes text through (see the module docs).
            context_budget: How much context fits the model: characters, or tokens when ``count_tokens`` is given.
            count_tokens: Counts tokens of a text (e.g. a tokenizer's ``len(encode(text))``); None counts characters.
            max_tokens: Most tokens a sub-agent answer may have.
            user_notes: Facts about the user's preferences added to the email prompt (TinyAgent's custom instructions).

        Raises:
            ToolInputError: ``context_budget`` is not positive.
        """
        if context_budget < 1:
            raise ToolInputError(f"context_budget must be positive, got {context_budget}")
        self.backend = backend
        self.context_budget = context_budget
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.user_notes = user_notes

    def trim(self, text: str) -> str:
        """Cut ``text`` to the context budget."""
        return trim_to_budget(text, self.context_budget, self.count_tokens)

    async def _ask(self, system: str, user: str) -> str:
        assert self.backend is not None
        request = CompletionRequest(
            messages=(Message("system", system), Message("user", user)), max_tokens=self.max_tokens, temperature=0.0
        )
        return _clean((await complete(self.backend, request)).text)

    async def email_body(self, context: str, *, thread: str = "", mode: EmailMode = EmailMode.NEW) -> str:
        """The body of an email from the planner's ``context`` (and the thread for a reply or forward).

        Without a backend: ``context`` as it is.

        Raises:
            BackendError: The backend failed.
        """
        if self.backend is None:
            return context.strip()
        system = _EMAIL_SYSTEM[mode]
        if self.user_notes:
            system += (
                "\nHere are some general facts about the user's preferences, you MUST keep these in mind when "
                f"writing your email:\n{self.user_notes}"
            )
        material = context.strip()
        if thread.strip() and mode is not EmailMode.NEW:
            material += "\nEmail Thread:\n" + re.sub(r"\n+", "\n", thread.strip())
        return await self._ask(system, f"Context:\n{self.trim(material)}\nEmail Body:\n")

    async def note_content(self, name: str, content: str, *, previous: str | None = None) -> str:
        """The text of a new note, or (``previous`` given) the text to append to one.

        Without a backend: ``content`` as it is.

        Raises:
            BackendError: The backend failed.
        """
        if self.backend is None:
            return content.strip()
        if previous is None:
            return await self._ask(_NOTE_SYSTEM, f"Title: {name}\nContent:\n{self.trim(content)}\nNote:\n")
        material = self.trim(f"Current note:\n{previous.strip()}\n\nNew content:\n{content.strip()}")
        return await self._ask(_APPEND_SYSTEM, f"Title: {name}\n{material}\nText to append:\n")

    async def summary(self, text: str) -> str:
        """A summary of a document's text (cut to the budget first).

        Without a backend: the text itself, cut to the budget.

        Raises:
            BackendError: The backend failed.
        """
        trimmed = self.trim(text.strip())
        if self.backend is None:
            return trimmed
        return await self._ask(_SUMMARY_SYSTEM, f"Document:\n{trimmed}\nSummary:\n")
