"""Property tests of the streaming plan parser (hypothesis).

* Chunk invariance: any split of a plan text into chunks gives exactly the same tasks, or exactly the same error.
* Generated valid plans parse to the expected tasks (literals, references with paths, money in prose, thoughts).
* Random text and mutations of valid plans raise only `PlanParseError`, never another exception.
"""

from __future__ import annotations

import itertools
import string
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tinyplan import Interpolated, PlanParseError, PlanParser, Ref, Task, parse_plan

TOOLS = ["search", "get_phone_number", "send_sms", "compute", "f", "tool_2", "_private", "joinx"]
KWARG_NAMES = ["query", "recipients", "message", "n", "x", "data", "limit_2"]


# ----------------------------------------------------------------------------------------------- chunk helpers
def run_chunks(text: str, chunks: list[str], tools: list[str] | None = None) -> tuple[str, Any]:
    """Feed ``chunks`` (which join to ``text``); return ("ok", tasks) or ("error", message, line_no)."""
    assert "".join(chunks) == text
    parser = PlanParser(tools)
    tasks: list[Task] = []
    error: PlanParseError | None = None
    try:
        for c in chunks:
            tasks += parser.feed(c)
        tasks += parser.close()
    except PlanParseError as exc:
        error = exc
    if error is not None:
        assert parser.error is error
        assert tasks == parser.tasks[: len(tasks)]  # every task returned once, in order, none invented
        return ("error", (str(error), error.line_no, repr(parser.tasks)))
    assert parser.error is None
    assert tasks == parser.tasks
    return ("ok", repr(tasks))


def split_at(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c for c in cuts if 0 < c < len(text)})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def special_chunkings(text: str) -> list[list[str]]:
    """One character at a time, whole text, lines with their newline, newline-led tokens, and word-like tokens."""
    lines = text.splitlines(keepends=True)
    newline_led: list[str] = []  # "\n\n" / "\n  2" style tokens, as llama.cpp tokenizers emit
    buf = ""
    for ch in text:
        if ch == "\n" and buf and not buf.endswith("\n"):
            newline_led.append(buf)
            buf = ""
        buf += ch
    if buf:
        newline_led.append(buf)
    words: list[str] = []
    cur = ""
    for ch in text:
        if ch.isspace() and cur and not cur[-1].isspace():
            words.append(cur)
            cur = ""
        cur += ch
    if cur:
        words.append(cur)
    return [list(text), [text], lines, newline_led, words]


def assert_chunk_invariant(text: str, cuts: list[int], tools: list[str] | None = None) -> tuple[str, Any]:
    reference = run_chunks(text, [text] if text else [], tools)
    for chunks in [*special_chunkings(text), split_at(text, cuts)]:
        assert run_chunks(text, chunks, tools) == reference, chunks
    return reference


# ---------------------------------------------------------------------------------------------- plan strategy
MONEY = st.builds(
    lambda d, c, sep: f"${d}.{c:02d}" if sep == "." else f"${d},{c:03d}",
    st.integers(0, 999),
    st.integers(0, 99),
    st.sampled_from(".,"),
)
PLAIN_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="$"), max_size=12
) | st.sampled_from(["f(x)", "a)b", "((", '"', "'", "\\", "\\n", "'''", '"""', "#", "1. foo(", "join()", "é€😀"])


@st.composite
def prose_strings(draw: st.DrawFn) -> str:
    """Strings that contain no reference: text with parens, quotes, escapes, unicode and dollar amounts."""
    parts = draw(st.lists(PLAIN_TEXT | MONEY, max_size=4))
    return " ".join(parts)


LITERALS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | prose_strings(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(string.ascii_letters + " $()'\"", max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@dataclass
class Arg:
    source: str
    expected: Any


@st.composite
def path_strategy(draw: st.DrawFn) -> tuple[tuple[str | int, ...], str]:
    steps = draw(
        st.lists(
            st.one_of(
                st.sampled_from(["key", "sub", "name", "_x1"]).map(lambda k: (k, f".{k}")),
                st.integers(-3, 12).map(lambda i: (i, f"[{i}]")),
                st.sampled_from(["a b", "k-1", ""]).map(lambda k: (k, f'["{k}"]')),
            ),
            max_size=3,
        )
    )
    return tuple(s for s, _ in steps), "".join(t for _, t in steps)


@st.composite
def argument(draw: st.DrawFn, earlier: list[int]) -> Arg:
    kinds = ["literal"] + (["exact", "unquoted", "prose", "nested"] if earlier else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "literal":
        value = draw(LITERALS)
        return Arg(repr(value), value)
    n = draw(st.sampled_from(earlier))
    path, path_text = draw(path_strategy())
    braces = draw(st.booleans())
    head = f"${{{n}}}" if braces else f"${n}"
    if kind == "exact":
        # quoted, the path stays inside the string; '"' in a key needs the other quote style
        body = head + path_text
        return Arg(repr(body), Ref(n, path))
    if kind == "unquoted":
        return Arg(head + path_text, Ref(n, path))
    if kind == "prose":
        before = draw(st.sampled_from(["Total: ", "see ", "(", "a\n"]))
        after = draw(st.sampled_from([" and $5.00", "!", ")", " costs $1,000", " 'q'"]))
        return Arg(repr(before + f"${{{n}}}" + after), Interpolated((before, Ref(n), after)))
    inner = draw(argument(earlier))
    return Arg("[" + inner.source + ", 1]", [inner.expected, 1])


@dataclass
class Plan:
    text: str
    expected: list[tuple[int, str, tuple[Any, ...], dict[str, Any], tuple[int, ...], str | None]] = field(
        default_factory=list
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    n_tasks = draw(st.integers(0, 6))
    idx = 0
    lines: list[str] = []
    plan = Plan("")
    done: list[int] = []
    for _ in range(n_tasks):
        idx += draw(st.integers(1, 3))
        thought_text = draw(st.none() | st.text(string.ascii_letters + " ,.$()'\"", min_size=1, max_size=20))
        if thought_text is not None and thought_text.strip():
            lines.append(draw(st.sampled_from(["", "  "])) + "Thought: " + thought_text)
            thought: str | None = thought_text.strip()
        else:
            thought = None
        name = draw(st.sampled_from(TOOLS))
        args = draw(st.lists(argument(done), max_size=3))
        kw_names = draw(st.lists(st.sampled_from(KWARG_NAMES), unique=True, max_size=2))
        kwargs = {k: draw(argument(done)) for k in kw_names}
        sources = [a.source for a in args] + [f"{k}={v.source}" for k, v in kwargs.items()]
        sep = draw(st.sampled_from([", ", ",", ",\n    "]))
        lead = draw(st.sampled_from(["", " ", "  ", "\t"]))
        dot = draw(st.sampled_from([". ", ".", " . "]))
        lines.append(f"{lead}{idx}{dot}{name}({sep.join(sources)})")
        for _ in range(draw(st.integers(0, 2))):
            lines.append(draw(st.sampled_from(["", "   "])))
        expected_args = tuple(a.expected for a in args)
        expected_kwargs = {k: v.expected for k, v in kwargs.items()}
        refs = _refs(expected_args) | _refs(expected_kwargs)
        plan.expected.append((idx, name, expected_args, expected_kwargs, tuple(sorted(refs)), thought))
        done.append(idx)
    if draw(st.booleans()) or n_tasks == 0:
        idx += 1
        lines.append(f"{idx}. join()" + draw(st.sampled_from(["", "<END_OF_PLAN>", "\n<END_OF_PLAN>", "\n\n"])))
        plan.expected.append((idx, "join", (), {}, tuple(done), None))
    plan.text = "\n".join(lines) + draw(st.sampled_from(["", "\n"]))
    return plan


def _refs(value: Any) -> set[int]:
    if isinstance(value, Ref):
        return {value.task}
    if isinstance(value, Interpolated):
        return {p.task for p in value.parts if isinstance(p, Ref)}
    if isinstance(value, (list, tuple)):
        return set().union(*(_refs(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    return set()


def _norm(value: Any) -> Any:
    """A comparable form that tells True from 1 and 0.0 from -0.0 apart."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_norm(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(_norm(k), _norm(v)) for k, v in value.items()])
    if isinstance(value, Interpolated):
        return ("interp", [_norm(p) for p in value.parts])
    return (type(value).__name__, repr(value))


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------------------ tests
@SETTINGS
@given(plans(), st.lists(st.integers(0, 2000), max_size=30))
def test_valid_plans_parse_to_the_expected_tasks_under_any_chunking(plan: Plan, cuts: list[int]) -> None:
    outcome = assert_chunk_invariant(plan.text, cuts, TOOLS)
    assert outcome[0] == "ok", (plan.text, outcome)
    tasks = parse_plan(plan.text, TOOLS)
    assert len(tasks) == len(plan.expected)
    for task, (idx, name, args, kwargs, deps, thought) in zip(tasks, plan.expected, strict=True):
        assert (task.idx, task.name, task.dependencies, task.thought) == (idx, name, deps, thought)
        assert _norm(task.args) == _norm(args), plan.text
        assert _norm(dict(task.kwargs)) == _norm(kwargs), plan.text
        assert str(task).startswith(f"{idx}. {name}(")


@SETTINGS
@given(plans(), st.data())
def test_mutated_plans_give_tasks_or_plan_parse_error_the_same_under_any_chunking(
    plan: Plan, data: st.DataObject
) -> None:
    text = plan.text
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace", "duplicate_line"]))
        piece = data.draw(st.sampled_from([*list("()[]{}\"'$,.\\#\n ="), "$1", "${2}", "join()", "1. f(", "\n3. g()"]))
        if op == "insert":
            text = text[:pos] + piece + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + 1 :]
        elif op == "replace":
            text = text[:pos] + piece + text[pos + 1 :]
        else:
            lines = text.split("\n")
            k = pos % max(1, len(lines))
            lines.insert(k, lines[k] if lines else "")
            text = "\n".join(lines)
    cuts = data.draw(st.lists(st.integers(0, len(text) + 1), max_size=20))
    assert_chunk_invariant(text, cuts, TOOLS)


@SETTINGS
@given(st.text(max_size=200), st.lists(st.integers(0, 200), max_size=20))
def test_random_text_raises_only_plan_parse_error(text: str, cuts: list[int]) -> None:
    outcome = assert_chunk_invariant(text, cuts)
    if outcome[0] == "error":
        message, line_no, _ = outcome[1]
        assert message
        assert line_no >= 1 or "after close" in message


@SETTINGS
@given(
    st.text(alphabet="0123456789. ()[]{}\"'$,\\#\nabfjoinThought:=<>_END", max_size=120),
    st.lists(st.integers(0, 120), max_size=20),
)
def test_plan_like_random_text_raises_only_plan_parse_error(text: str, cuts: list[int]) -> None:
    assert_chunk_invariant(text, cuts)


@SETTINGS
@given(plans(), st.sampled_from(TOOLS[:3]))
def test_unknown_tool_is_an_error_whatever_the_chunking(plan: Plan, removed: str) -> None:
    assume(any(name == removed for _, name, *_ in plan.expected))
    allowed = [t for t in TOOLS if t != removed]
    outcome = assert_chunk_invariant(plan.text, [], allowed)
    assert outcome[0] == "error"
    assert f"unknown tool {removed!r}" in outcome[1][0]
