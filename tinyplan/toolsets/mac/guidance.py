"""Planner guidance for the Mac tools: TinyAgent's tool-specific rules and in-context example plans.

TinyAgent (Erdogan et al. 2024, ``src/tiny_agent/prompts.py``) adds a rule to the planner prompt only when the tools
it is about are offered (after ToolRAG picked a subset), and shows example plans for the Mac tools. `mac_instructions`
and `mac_examples` do the same for any subset of tool names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tinyplan._checks import Cue
from tinyplan._syntax import END_OF_PLAN

__all__ = [
    "MAC_CUES",
    "MAC_EXAMPLES",
    "MAC_NEEDS_CUE",
    "MAC_RULES",
    "MAC_TOOL_NAMES",
    "Rule",
    "mac_examples",
    "mac_instructions",
]

#: TinyAgent's 16 tools, in TinyAgent's order of apps (contacts, calendar, files, mail, maps, notes, reminders, SMS,
#: Zoom).
MAC_TOOL_NAMES: tuple[str, ...] = (
    "get_phone_number",
    "get_email_address",
    "create_calendar_event",
    "open_and_get_file_path",
    "summarize_pdf",
    "compose_new_email",
    "reply_to_email",
    "forward_email",
    "maps_open_location",
    "maps_show_directions",
    "create_note",
    "open_note",
    "append_note_content",
    "create_reminder",
    "send_sms",
    "get_zoom_meeting_link",
)

_EMAILING = frozenset({"compose_new_email", "reply_to_email", "forward_email"})
_SENDING = _EMAILING | {"send_sms"}


@dataclass(frozen=True)
class Rule:
    """A planner rule shown when every tool of ``all_of`` and at least one of ``any_of`` (if set) are offered."""

    text: str
    all_of: frozenset[str] = frozenset()
    any_of: frozenset[str] = frozenset()

    def applies(self, names: frozenset[str]) -> bool:
        """Whether the rule is about tools among ``names``."""
        return self.all_of <= names and (not self.any_of or bool(self.any_of & names))


MAC_RULES: tuple[Rule, ...] = (
    Rule(
        "The format for dates MUST be in ISO format of 'YYYY-MM-DD HH:MM:SS', unless otherwise specified.",
        any_of=frozenset({"create_calendar_event", "create_reminder", "get_zoom_meeting_link"}),
    ),
    Rule(
        "Unless otherwise specified, the default meeting duration is 60 minutes.",
        any_of=frozenset({"create_calendar_event", "get_zoom_meeting_link"}),
    ),
    Rule(
        "Before sending an email, you MUST use the get_email_address tool to get the email addresses of the "
        "recipients and cc, unless you are explicitly given their email addresses.",
        all_of=frozenset({"get_email_address"}),
        any_of=_EMAILING,
    ),
    Rule(
        "To invite people to a calendar event or a Zoom meeting, you MUST use the get_email_address tool to get "
        "their email addresses, unless you are explicitly given them.",
        all_of=frozenset({"get_email_address"}),
        any_of=frozenset({"create_calendar_event", "get_zoom_meeting_link"}),
    ),
    Rule(
        "Before sending an SMS, you MUST use the get_phone_number tool to get the phone number of the contact, "
        "unless you are explicitly given their phone number.",
        all_of=frozenset({"get_phone_number", "send_sms"}),
    ),
    Rule(
        "If you need to send an SMS message to multiple contacts, send it in one message, unless specified otherwise.",
        all_of=frozenset({"send_sms"}),
    ),
    Rule(
        "If you need to send an email or an sms using compose_new_email, reply_to_email, forward_email, or send_sms "
        "tools, you MUST send it before calling join(), or you WILL BE PENALIZED!",
        any_of=_SENDING,
    ),
    Rule(
        "If you need to create a zoom meeting, you MUST use get_zoom_meeting_link to get the newly created zoom "
        "meeting link.",
        all_of=frozenset({"get_zoom_meeting_link"}),
    ),
    Rule(
        "If you want to send a map location or a zoom link in an email, you MUST put it in the 'context' parameter "
        "of compose_new_email.",
        all_of=frozenset({"compose_new_email"}),
        any_of=frozenset({"maps_open_location", "maps_show_directions", "get_zoom_meeting_link"}),
    ),
    Rule(
        "summarize_pdf needs the path of the PDF: call open_and_get_file_path first and pass its result.",
        all_of=frozenset({"open_and_get_file_path", "summarize_pdf"}),
    ),
    Rule(
        "If you need to append some content to a note, you DON'T HAVE TO call open_note before calling "
        "append_note_content. You can directly use append_note_content to append some content to the specific note.",
        all_of=frozenset({"open_note", "append_note_content"}),
    ),
    Rule(
        "If you need to show directions to a place, you DON'T HAVE TO call maps_open_location before calling "
        "maps_show_directions. You can directly use maps_show_directions to show directions to the specific place.",
        all_of=frozenset({"maps_open_location", "maps_show_directions"}),
    ),
)


#: Words of a request that call for a Mac tool (the plan checker's coverage rules, `tinyplan.Cue`). Conservative on
#: purpose: a cue that matches a request which does not want the tool would push an unwanted action into the plan.
MAC_CUES: tuple[Cue, ...] = (
    Cue(r"\b(text|texts|texting|sms|imessage)\b(?! (of|in|from|to) (the|my|this) note)", frozenset({"send_sms"}),
        "send a text message"),
    Cue(r"\b(e-?mail|mail)\b(?!\s+address)", frozenset({"compose_new_email", "reply_to_email", "forward_email"}),
        "send an email"),
    Cue(r"\bremind", frozenset({"create_reminder"}), "set a reminder"),
    Cue(r"\b(calendar|schedule|invite|invitation)\b", frozenset({"create_calendar_event"}),
        "put an event in the calendar"),
    Cue(r"\bzoom\b", frozenset({"get_zoom_meeting_link"}), "create a Zoom meeting"),
    Cue(r"\b(directions?|route|navigate)\b", frozenset({"maps_show_directions"}), "show directions"),
    Cue(r"\bsummar(y|ies|ize|ise|izing|ising)\b", frozenset({"summarize_pdf"}), "summarize a document"),
    Cue(r"\bnotes?\b", frozenset({"create_note", "append_note_content", "open_note"}), "work with a note"),
)  # fmt: skip

#: Tools a plan may call only when the request has words for them (broad on purpose: a miss forbids a wanted tool).
#: A small model opens the map before showing directions, opens a note before appending to it, and sets reminders
#: nobody asked for.
MAC_NEEDS_CUE: tuple[Cue, ...] = (
    Cue(r"\b(location|locations|map|maps|where|address|place|spot)\b", frozenset({"maps_open_location"}),
        "show a place on the map"),
    Cue(r"\b(open|show|read|see|what|contents?|look|check|display)\b", frozenset({"open_note"}), "open a note"),
    Cue(r"\b(remind\w*|to-?dos?|forget)\b", frozenset({"create_reminder"}), "set a reminder"),
    Cue(r"\b(summar\w*|tl;?dr|gist|overview|key points|digest)\b", frozenset({"summarize_pdf"}),
        "summarize a document"),
)  # fmt: skip


def mac_instructions(tool_names: Iterable[str]) -> list[str]:
    """The planner rules that are about the given tools (in `MAC_RULES` order).

    Args:
        tool_names: The tools offered to the planner, e.g. a ToolRAG subset's ``names``.

    Returns:
        Rule texts, without bullets; empty when none applies.
    """
    names = frozenset(tool_names)
    return [r.text for r in MAC_RULES if r.applies(names)]


def _example(question: str, *lines: str) -> str:
    body = "\n".join(lines)
    return f"Question: {question}\n{body}{END_OF_PLAN}"


#: In-context example plans for the Mac tools: ``(tools used, "Question: ...\\n1. ...\\nN. join()<END_OF_PLAN>")``.
MAC_EXAMPLES: tuple[tuple[frozenset[str], str], ...] = tuple(
    (frozenset(tools), text)
    for tools, text in (
        (
            {"get_phone_number", "send_sms"},
            _example(
                "Notify Lutfi about the upcoming Apple meeting that is going to start at 3PM on Friday.",
                '1. get_phone_number("Lutfi")',
                '2. send_sms(["$1"], "Hey Lutfi, just wanted to let you know about the upcoming Apple meeting. '
                "It's going to be at 3 PM on Friday.\")",
                "Thought: I have successfully found the contact and sent the message.",
                "3. join()",
            ),
        ),
        (
            {"get_email_address", "get_zoom_meeting_link", "create_calendar_event"},
            _example(
                "Create a zoom meeting for the Apple meeting with Maya Chen on 2024-10-14 at 3pm and put it in my "
                "calendar.",
                '1. get_email_address("Maya Chen")',
                '2. get_zoom_meeting_link("Apple Meeting", "2024-10-14 15:00:00", 60, ["$1"])',
                '3. create_calendar_event("Apple Meeting", "2024-10-14 15:00:00", "2024-10-14 16:00:00", "$2", '
                '["$1"], "", None)',
                "Thought: I have successfully created the calendar event.",
                "4. join()",
            ),
        ),
        (
            {"maps_show_directions"},
            _example(
                "Show directions to Apple Park.",
                '1. maps_show_directions("", "Apple Park", "d")',
                "Thought: I have successfully shown the directions.",
                "2. join()",
            ),
        ),
        (
            {"get_email_address", "compose_new_email"},
            _example(
                "Send an email to Amir saying that the meeting is postponed to next week.",
                '1. get_email_address("Amir")',
                '2. compose_new_email(["$1"], [], "Meeting Postponed", "The meeting is postponed to next week.", [])',
                "3. join()",
            ),
        ),
        (
            {"open_and_get_file_path", "summarize_pdf"},
            _example(
                "Summarize 'Apple Demo.pdf'.",
                '1. open_and_get_file_path("Apple Demo")',
                '2. summarize_pdf("$1")',
                "Thought: I have successfully opened the file and summarized it.",
                "3. join()",
            ),
        ),
        (
            {"get_email_address", "open_and_get_file_path", "compose_new_email"},
            _example(
                "Send the quarterly report to Sid and cc Maya.",
                '1. get_email_address("Sid")',
                '2. get_email_address("Maya")',
                '3. open_and_get_file_path("Quarterly Report")',
                '4. compose_new_email(["$1"], ["$2"], "Quarterly Report", "Please find the quarterly report '
                'attached.", ["$3"])',
                "5. join()",
            ),
        ),
        (
            {"create_note"},
            _example(
                "Make a note called Packing List with passport, charger and sunscreen.",
                '1. create_note("Packing List", "passport, charger, sunscreen", "")',
                "2. join()",
            ),
        ),
        (
            {"append_note_content"},
            _example(
                "Add oat milk and eggs to my groceries note.",
                '1. append_note_content("Groceries", "oat milk, eggs", "")',
                "2. join()",
            ),
        ),
        (
            {"open_note"},
            _example(
                "What is in my Project Ideas note in the Work folder?",
                '1. open_note("Project Ideas", "Work")',
                "2. join()",
            ),
        ),
        (
            {"create_reminder"},
            _example(
                "Remind me to call the dentist on June 3rd 2024 at 9am.",
                '1. create_reminder("Call the dentist", "2024-06-03 09:00:00", "", "", 0, False)',
                "2. join()",
            ),
        ),
        (
            {"create_reminder"},
            _example(
                "Add an all-day high-priority reminder to pay rent on 2024-07-01 to my Home list.",
                '1. create_reminder("Pay rent", "2024-07-01", "", "Home", 1, True)',
                "2. join()",
            ),
        ),
        (
            {"reply_to_email"},
            _example(
                "Reply to this email saying thanks and that I will attend the offsite.",
                '1. reply_to_email([], "Thank them and confirm that I will attend the offsite.", [])',
                "2. join()",
            ),
        ),
        (
            {"get_email_address", "forward_email"},
            _example(
                "Forward this email to Jonas.",
                '1. get_email_address("Jonas")',
                '2. forward_email(["$1"], [], "", [])',
                "3. join()",
            ),
        ),
        (
            {"maps_open_location", "get_phone_number", "send_sms"},
            _example(
                "Text Sid the location of Blue Bottle Coffee in Berkeley so we can meet there.",
                '1. maps_open_location("Blue Bottle Coffee, Berkeley")',
                '2. get_phone_number("Sid")',
                '3. send_sms(["$2"], "Let\'s meet here: $1")',
                "4. join()",
            ),
        ),
        (
            {"get_email_address", "create_calendar_event"},
            _example(
                "Schedule a design review with Sid and Lutfi on 2024-07-02 from 10 to 11am in Room 405.",
                '1. get_email_address("Sid")',
                '2. get_email_address("Lutfi")',
                '3. create_calendar_event("Design Review", "2024-07-02 10:00:00", "2024-07-02 11:00:00", '
                '"Room 405", ["$1", "$2"], "", "")',
                "4. join()",
            ),
        ),
        (
            {"get_phone_number", "send_sms"},
            _example(
                "Tell Sid and Lutfi I'm running 10 minutes late.",
                '1. get_phone_number("Sid")',
                '2. get_phone_number("Lutfi")',
                '3. send_sms(["$1", "$2"], "Running 10 minutes late!")',
                "4. join()",
            ),
        ),
        (
            {"open_and_get_file_path", "summarize_pdf", "get_email_address", "compose_new_email"},
            _example(
                "Summarize the quarterly report and email the summary to Maya.",
                '1. open_and_get_file_path("Quarterly Report")',
                '2. summarize_pdf("$1")',
                '3. get_email_address("Maya")',
                '4. compose_new_email(["$3"], [], "Quarterly Report Summary", "$2", [])',
                "5. join()",
            ),
        ),
        (
            {"get_email_address", "get_zoom_meeting_link", "compose_new_email"},
            _example(
                "Set up a 30 minute zoom standup with Sid on 2024-05-20 at 9:30 and email him the link.",
                '1. get_email_address("Sid")',
                '2. get_zoom_meeting_link("Standup", "2024-05-20 09:30:00", 30, ["$1"])',
                '3. compose_new_email(["$1"], [], "Standup Zoom link", "Here is the Zoom link for our standup: $2", '
                "[])",
                "4. join()",
            ),
        ),
    )
)


def mac_examples(tool_names: Iterable[str]) -> list[str]:
    r"""The example plans that use only the given tools.

    Args:
        tool_names: The tools offered to the planner.

    Returns:
        ``"Question: ...\n<plan>"`` texts, each ending with ``join()<END_OF_PLAN>``.
    """
    names = frozenset(tool_names)
    return [text for tools, text in MAC_EXAMPLES if tools <= names]
