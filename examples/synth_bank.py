"""Synthesize a small example bank for the quick start's tools, then plan with it.

Run: python examples/synth_bank.py [--model default|tiny|FILE] [-n N]

The pipeline of docs/data.md on two tools: plan skeletons (look up numbers, then text them) are filled from value
pools, the local model writes the request each plan fulfils, the sanity checks (including a run against the tools
themselves, the sandbox) keep the good ones, and the planner then shows the closest of them with each request.
Needs the llama extra and a model (the default one, or `--model tiny` for a quick smoke run that keeps little).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import anyio

from tinyplan import Planner, Toolset, tool
from tinyplan.backends import LlamaCppBackend
from tinyplan.data import ExampleBank, ValuePools, profile_for, read_examples, synthesize

CONTACTS = {
    "Sid": "+1 555 0101",
    "Lutfi": "+1 555 0102",
    "Maya": "+1 555 0103",
    "Omar": "+1 555 0104",
    "Elena": "+1 555 0105",
}


@tool
def get_phone_number(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's name.
    """
    return CONTACTS[name]


@tool(side_effects=True)
def send_sms(recipients: list[str], message: str) -> str:
    """Send a text message.

    Args:
        recipients: Phone numbers, as get_phone_number returns them.
        message: The text to send.
    """
    if not recipients or not all(r in CONTACTS.values() for r in recipients):
        raise ValueError(f"unknown numbers: {recipients}")
    return f"Sent to {len(recipients)} recipient(s)."


TOOLS = Toolset([get_phone_number, send_sms])


class ToolsSandbox:
    """These tools only read and write memory, so they are their own sandbox."""

    def toolset(self) -> Toolset:
        return TOOLS


async def main(model: str, n: int, out: Path) -> None:
    profile = profile_for(TOOLS, name="quickstart", sandbox=ToolsSandbox())
    profile.pools = ValuePools().update({"contact name": list(CONTACTS)})
    backend = LlamaCppBackend(model, n_ctx=2048, prompt_cache=False)
    try:
        report = await synthesize(TOOLS, backend, n, out=out, profile=profile, seed=1, max_attempts=3 * n)
        print(report.summary())
        for record in read_examples(out):
            print(f"kept     {record['request']!r} [{record['shape']}, {record['split']}]")
        # a tiny model may keep nothing: the bank is then empty and the planner shows no retrieved example
        exists = await anyio.Path(out).exists()
        bank = ExampleBank.load(out, k=2, method="bm25") if exists else ExampleBank([], k=2)
        planner = Planner(backend, TOOLS, bank=bank, grammar="typed", join="observations")
        request = "Text Maya and Omar that the train is delayed"
        shown = bank.examples_for(request, TOOLS.names)
        print(f"bank     {len(bank)} examples, {len(shown)} shown for {request!r}")
        plan = await planner.plan(request)
        print("plan")
        print(plan.text.strip())
    finally:
        await backend.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="GGUF file, 'default' or 'tiny'")
    parser.add_argument("-n", type=int, default=6, help="examples to keep")
    parser.add_argument("--out", type=Path, default=None, help="JSONL file (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(main, args.model, args.n, args.out or Path(tmp) / "quickstart-bank.jsonl")
