"""TinyAgent's Mac assistant toolset: 16 tools over contacts, calendar, files, mail, maps, notes, reminders, SMS, Zoom.

TinyAgent (Erdogan et al. 2024) drives a MacBook through these tools; models fine-tuned on its data emit plans with
exactly these names and argument orders. Two drivers run them: `MacOSDriver` (AppleScript, Spotlight, Maps URLs) on
a Mac, and `PortableDriver` (vCard, iCalendar, .eml, Markdown and JSON files in a "home" folder) anywhere. Files
are read and attached only from the home folder and the folders allowed with ``allow=`` (`FileSandbox`).
The tools are the `@tool` methods of `MacTools`; `mac_toolset` builds them over a driver with TinyAgent's planner
rules and examples.

Example::

    from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

    tools = mac_toolset(copy_sample_home("/tmp/home"), driver="portable")
"""

from __future__ import annotations

from tinyplan._extras import require_extra

require_extra("tinyplan.toolsets.mac", "mac", ("icalendar", "vobject", "pypdf"))

from tinyplan.toolsets.mac._coerce import ensure_emails, ensure_phone_numbers, event_times, parse_date
from tinyplan.toolsets.mac._driver import CalendarEvent, ContactValue, EmailDraft, MacDriver, Note, Reminder
from tinyplan.toolsets.mac._errors import (
    AppleScriptError,
    AppleScriptValueError,
    ContactNotFoundError,
    DateFormatError,
    MacToolError,
    NoteNotFoundError,
    ToolFileNotFoundError,
    ToolInputError,
    ZoomError,
)
from tinyplan.toolsets.mac._home import copy_sample_home, default_home, sample_home_path
from tinyplan.toolsets.mac._sandbox import FileSandbox
from tinyplan.toolsets.mac._toolset import (
    SIDE_EFFECT_TOOLS,
    MacTools,
    mac_tools,
    mac_toolset,
    pdf_text,
    select_driver,
)
from tinyplan.toolsets.mac.applescript import (
    CommandResult,
    Runner,
    SubprocessRunner,
    applescript_list,
    applescript_string,
)
from tinyplan.toolsets.mac.guidance import MAC_EXAMPLES, MAC_RULES, MAC_TOOL_NAMES, mac_examples, mac_instructions
from tinyplan.toolsets.mac.macos import MacOSDriver
from tinyplan.toolsets.mac.portable import PortableDriver
from tinyplan.toolsets.mac.subagents import EmailMode, SubAgent, trim_to_budget
from tinyplan.toolsets.mac.zoom import ZoomClient

__all__ = [
    "MAC_EXAMPLES",
    "MAC_RULES",
    "MAC_TOOL_NAMES",
    "SIDE_EFFECT_TOOLS",
    "AppleScriptError",
    "AppleScriptValueError",
    "CalendarEvent",
    "CommandResult",
    "ContactNotFoundError",
    "ContactValue",
    "DateFormatError",
    "EmailDraft",
    "EmailMode",
    "FileSandbox",
    "MacDriver",
    "MacOSDriver",
    "MacToolError",
    "MacTools",
    "Note",
    "NoteNotFoundError",
    "PortableDriver",
    "Reminder",
    "Runner",
    "SubAgent",
    "SubprocessRunner",
    "ToolFileNotFoundError",
    "ToolInputError",
    "ZoomClient",
    "ZoomError",
    "applescript_list",
    "applescript_string",
    "copy_sample_home",
    "default_home",
    "ensure_emails",
    "ensure_phone_numbers",
    "event_times",
    "mac_examples",
    "mac_instructions",
    "mac_tools",
    "mac_toolset",
    "parse_date",
    "pdf_text",
    "sample_home_path",
    "select_driver",
    "trim_to_budget",
]
