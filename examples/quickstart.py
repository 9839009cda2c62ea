"""Quick start: declare tools, plan with a (scripted) model, watch the plan run in parallel.

Run: python examples/quickstart.py

`ScriptedBackend` replays a fixed plan so this runs anywhere in a blink; swap in a real backend
(`tinyplan.backends.LlamaCppBackend`) to let a local model write the plan.
"""

from __future__ import annotations

import anyio

from tinyplan import FinalAnswer, Planner, ScriptedBackend, TaskFinished, TaskParsed, TaskStarted, tool

CONTACTS = {"Sid": "+1 555 0101", "Lutfi": "+1 555 0102"}
OUTBOX: list[str] = []


@tool
async def get_phone_number(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's name.
    """
    await anyio.sleep(0.1)  # pretend to query an address book
    return CONTACTS[name]


@tool(side_effects=True)
def send_sms(recipients: list[str], message: str) -> str:
    """Send a text message.

    Args:
        recipients: Phone numbers, as get_phone_number returns them.
        message: The text to send.
    """
    OUTBOX.append(f"{recipients}: {message}")
    return f"Sent to {len(recipients)} recipient(s)."


PLAN = """1. get_phone_number("Sid")
2. get_phone_number("Lutfi")
3. send_sms(["$1", "$2"], "The meeting moved to 3pm")
4. join()<END_OF_PLAN>"""
JOIN = "Thought: Both numbers were found and the message was sent.\nAction: Finish(I texted Sid and Lutfi.)"


async def main() -> None:
    backend = ScriptedBackend([PLAN, JOIN], delay=0.01)  # streams token-sized chunks, 10 ms apart
    planner = Planner(backend, [get_phone_number, send_sms])
    async for event in planner.stream("Text Sid and Lutfi that the meeting moved to 3pm"):
        if isinstance(event, TaskParsed):
            print(f"parsed   {event.task}")
        elif isinstance(event, TaskStarted):
            print(f"started  {event.result.task.idx}. {event.result.task.name}")
        elif isinstance(event, TaskFinished):
            print(f"finished {event.result.task.idx}. -> {event.result.state.value}: {event.result.observation!r}")
        elif isinstance(event, FinalAnswer):
            print(f"answer   {event.result.answer}")
            print(f"outbox   {OUTBOX}")


if __name__ == "__main__":
    anyio.run(main)
