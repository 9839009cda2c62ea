"""TinyAgent's Mac assistant on any machine: a plan run against a copy of the sample home folder.

The "model" is a ScriptedBackend streaming the plan a TinyAgent model writes for
"Set up a sync with Sid tomorrow at 10 and text Lutfi about it". The plan is parsed while it streams and its tasks
run as a DAG (the two contact lookups in parallel). The portable driver writes a real iCalendar event and an SMS
draft into the temporary home folder; the script reads both back.

Run: python examples/mac_assistant.py
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import icalendar

from tinyplan import CompletionRequest, PlanParser, ScriptedBackend, Task, TaskFetchingUnit
from tinyplan.toolsets.mac import copy_sample_home, mac_toolset

PLAN = """\
1. get_email_address("Sid")
2. get_phone_number("Lutfi")
3. create_calendar_event("Sync", "2024-06-04 10:00:00", "2024-06-04 10:30:00", "", ["$1"], "Weekly sync", "")
4. send_sms(["$2"], "Hi Lutfi, I set up a sync with Sid tomorrow at 10am.")
5. join()<END_OF_PLAN>
"""


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = copy_sample_home(Path(tmp) / "home")
        tools = mac_toolset(home, driver="portable")
        backend = ScriptedBackend([PLAN])

        async def tasks() -> AsyncIterator[Task]:
            parser = PlanParser(tools)
            request = CompletionRequest(prompt="Set up a sync with Sid tomorrow at 10 and text Lutfi about it.")
            async for chunk in backend.stream(request):
                for task in parser.feed(chunk.text):
                    yield task
            for task in parser.close():
                yield task

        results = await TaskFetchingUnit(tools).run(tasks())
        for idx in sorted(results):
            print(results[idx].render().replace(str(home), "<home>"))

        calendar = icalendar.Calendar.from_ical((home / "calendar" / "Calendar.ics").read_bytes())
        for event in calendar.walk("VEVENT"):
            attendees = event.get("attendee")
            attendees = attendees if isinstance(attendees, list) else [attendees]
            print(f"calendar {event['summary']} at {event.decoded('dtstart'):%Y-%m-%d %H:%M}, attendees:", end=" ")
            print(", ".join(str(a) for a in attendees))
        for draft in sorted((home / "messages" / "outbox").glob("*.json")):
            data = json.loads(draft.read_text(encoding="utf-8"))
            print(f"sms to {', '.join(data['to'])}: {data['message']}")


if __name__ == "__main__":
    anyio.run(main)
