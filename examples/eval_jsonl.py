"""Evaluate a planner on your own cases: a JSONL file of {request, tools, plan} scored with TinyAgent's DAG metric.

Runs offline with a scripted backend that answers each request with a fixed plan (swap in a real backend, e.g.
``tinyplan.backends.LlamaCppBackend("default")``, to measure a model). Prints the per-case scores and the summary table.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from tinyplan import CompletionRequest, ScriptedBackend
from tinyplan.eval import TinyplanSystem, evaluate, load_dataset, markdown_table

CASES = Path(__file__).parent / "data" / "eval_cases.jsonl"

# What our pretend model writes for each request: right, right but renumbered, and one with a missing dependency.
ANSWERS = {
    "Text Sid": '1. get_phone_number("Lutfi")\n2. get_phone_number("Sid")\n'
    '3. send_sms(["$2", "$1"], "The meeting moved to 3pm")\n4. join()<END_OF_PLAN>',
    "warmer in Paris": '1. get_weather("Paris")\n2. get_weather("Rome")\n3. compare_numbers(20, "$2")\n'
    "4. join()<END_OF_PLAN>",
    "Hello!": "1. join()<END_OF_PLAN>",
}


def answer(request: CompletionRequest) -> str:
    question = request.messages[-1].content if request.messages else request.prompt or ""
    return next(plan for key, plan in ANSWERS.items() if key in question)


async def main() -> None:
    cases = load_dataset(f"jsonl:{CASES}")
    backend = ScriptedBackend([answer] * len(cases))
    report = await evaluate(cases, TinyplanSystem(backend), progress=False)
    for record in report.records:
        s = record.score
        print(
            f"{record.case.id:16} DAG {'ok ' if s.dag_success else 'bad'} strict {'ok ' if s.strict_success else 'bad'}"
        )
    print(markdown_table([report]))


if __name__ == "__main__":
    anyio.run(main)
