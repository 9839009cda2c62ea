"""The streaming plan parser: syntax, references, money, safety, incremental emission and every error path."""

from __future__ import annotations

import pytest

from tinyplan import END_OF_PLAN, Interpolated, PlanParseError, PlanParser, Ref, Task, parse_plan
from tinyplan._parser import iter_tasks, references_in

TOOLS = ["get_phone_number", "send_sms", "search", "f", "g"]


def parse(text: str) -> list[Task]:
    return parse_plan(text, TOOLS)


def error_of(text: str) -> PlanParseError:
    with pytest.raises(PlanParseError) as info:
        parse(text)
    return info.value


# ------------------------------------------------------------------------------------------------ the syntax
def test_the_paper_example() -> None:
    tasks = parse(
        'Thought: I need both numbers first.\n1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
        'Thought: now send\n3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()<END_OF_PLAN>'
    )
    assert [t.idx for t in tasks] == [1, 2, 3, 4]
    assert tasks[0] == Task(
        1, "get_phone_number", ("Sid",), {}, (), "I need both numbers first.", 2, 'get_phone_number("Sid")'
    )
    assert tasks[2].args == ([Ref(1), Ref(2)], "The meeting moved to 3pm")
    assert tasks[2].dependencies == (1, 2) and tasks[2].thought == "now send"
    assert tasks[3].is_join and tasks[3].dependencies == (1, 2, 3) and tasks[3].line_no == 6
    assert str(tasks[2]) == '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")'


def test_literals_positional_and_keyword() -> None:
    [task] = parse(
        "1. f(1, -2.5, 'a\\'b', \"(x)\", True, false, None, null, [1, [2]], {'k': {'n': 1}}, (3, 4), {5}, "
        "x=1e3, y=-7, z='$5.00')"
    )
    assert task.args == (1, -2.5, "a'b", "(x)", True, False, None, None, [1, [2]], {"k": {"n": 1}}, (3, 4), [5])
    assert task.kwargs == {"x": 1000.0, "y": -7, "z": "$5.00"}


def test_calls_may_span_lines_while_brackets_are_open_and_blank_lines_are_ignored() -> None:
    tasks = parse('\n\n  1. f(\n    [1,\n\n     2],\n    """multi\nline""")\n\n2. join()\n\n')
    assert tasks[0].args == ([1, 2], "multi\nline") and tasks[0].line_no == 3
    assert tasks[1].line_no == 10


def test_markdown_fences_are_ignored_and_end_of_plan_may_follow_on_its_own_line() -> None:
    tasks = parse("```python\n1. f()\n2. join()\n```\n" + END_OF_PLAN + "\n")
    assert [t.name for t in tasks] == ["f", "join"]


def test_a_plan_without_join_parses_but_is_not_done() -> None:
    parser = PlanParser(TOOLS)
    assert parser.feed("1. f()\n") == [Task(1, "f", line_no=1, text="f()")]
    assert parser.close() == []
    assert not parser.done and len(parser.tasks) == 1
    assert parser.close() == []  # idempotent


# ----------------------------------------------------------------------------------------------- references
def test_reference_forms() -> None:
    tasks = parse(
        '1. f()\n2. g($1, ${1}, "$1", "${1}", $1.key, "$1.key.sub", ${1}.key.sub, $1[0], "$1[-1]", $1["a b"], '
        'x=[$1], y={"k": $1})'
    )
    a = tasks[1].args
    assert a[:4] == (Ref(1), Ref(1), Ref(1), Ref(1))
    assert a[4:] == (
        Ref(1, ("key",)),
        Ref(1, ("key", "sub")),
        Ref(1, ("key", "sub")),
        Ref(1, (0,)),
        Ref(1, (-1,)),
        Ref(1, ("a b",)),
    )
    assert tasks[1].kwargs == {"x": [Ref(1)], "y": {"k": Ref(1)}}
    assert tasks[1].dependencies == (1,)
    assert str(Ref(1, ("key", 0))) == "$1.key[0]"


def test_references_inside_longer_strings_become_text_and_money_stays_prose() -> None:
    tasks = parse(
        '1. f()\n2. f()\n3. g("Numbers: $1 and ${2}!", "costs $5.00", "$1,000 raised", "pay $7 now", "$2.50 or $2")'
    )
    a = tasks[2].args
    assert a[0] == Interpolated(("Numbers: ", Ref(1), " and ", Ref(2), "!"))
    assert a[1] == "costs $5.00"
    assert a[2] == "$1,000 raised"  # "$1," + digit: money, although task 1 exists
    assert a[3] == "pay $7 now"  # no task 7: prose
    assert a[4] == Interpolated(("$2.50 or ", Ref(2)))
    assert tasks[2].dependencies == (1, 2)
    assert references_in(a) == {1, 2}


@pytest.mark.parametrize(
    ("text", "reason", "line_no"),
    [
        ('1. f("$1")', "$1 refers to a later task", 1),
        ("1. f()\n2. g($3)", "$3 refers to a later task", 2),
        ("1. f()\n3. g($2)", "$2 refers to a task that does not exist", 2),
        ('1. f()\n2. g("see ${5}")', "$5 refers to a later task", 2),
        ("1. f()\n2. g($0)", "$0 refers to a task that does not exist", 2),
    ],
)
def test_references_to_missing_or_later_tasks_are_errors(text: str, reason: str, line_no: int) -> None:
    err = error_of(text)
    assert reason in err.reason and err.line_no == line_no


# ------------------------------------------------------------------------------------------ nothing evaluated
@pytest.mark.parametrize(
    "args",
    [
        '__import__("os").system("echo pwned")',
        '"abc".upper()',
        "$1.upper()",
        "lambda: 1",
        'f"{1+1}"',
        "[x for x in [1]]",
        "{k: 1 for k in 'ab'}",
        "(x for x in [1])",
        "1 + 1",
        "-True",
        "open",
        "x := 1",
        "*[1]",
        "**{'a': 1}",
        "b'bytes'",
        "1j",
        "...",
        "[1][0]",
        "{[1]: 2}",
        "{$1: 2}",
        "__tinyplan_ref_1__",
        "$",
        "$x",
        "${x}",
        "$1.0",
    ],
)
def test_arguments_that_are_not_literals_are_rejected(args: str) -> None:
    err = error_of(f"1. f()\n2. g({args})")
    assert err.line_no == 2
    assert err.line.startswith("2. g(")


def test_nested_brackets_deeper_than_python_allows_are_an_error_not_a_crash() -> None:
    err = error_of("1. f(" + "[" * 300 + "]" * 300 + ")")
    assert "not valid literals" in err.reason
    assert "not valid literals" in error_of("1. f(" + "9" * 5000 + ")").reason


# ---------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("text", "reason", "line_no", "line"),
    [
        ('1. f("abc)\n2. join()', "unterminated string", 1, '1. f("abc)'),
        ("1. f([1, 2)\n2. join()", "mismatched bracket", 1, "1. f([1, 2)"),
        ('1. f("x"]', "mismatched bracket", 1, '1. f("x"]'),
        ("1. f(1\n2. join()", "does not close", 1, "1. f(1"),
        ("1. f(1", "does not close", 1, "1. f(1"),
        ("1. f(1,\nThought: oops", "does not close", 1, "1. f(1,"),
        ("1. mail(1)", "unknown tool 'mail'", 1, "1. mail(1)"),
        ("1. f()\n1. g()", "duplicate task index 1", 2, "1. g()"),
        ("2. f()\n1. g()", "task index 1 does not increase (previous: 2)", 2, "1. g()"),
        ("0. f()", "task indices start at 1", 1, "0. f()"),
        ("1. f()\n2. join()\n3. g()", "text after join()", 3, "3. g()"),
        ("1. f()\n2. join()\nThanks!", "text after join()", 3, "Thanks!"),
        ("1. f()\n2. join()<END_OF_PLAN>\nmore", "text after join()", 3, "more"),
        ("1. f() 2. g()", "unexpected text after the call", 1, "f() 2. g()"),
        ("1. f()<END_OF_PLAN>", "<END_OF_PLAN> before join()", 1, "<END_OF_PLAN>"),
        ("1. f()\n<END_OF_PLAN>", "<END_OF_PLAN> before join()", 2, "<END_OF_PLAN>"),
        ("Here is the plan:\n1. f()", "not a plan line", 1, "Here is the plan:"),
        ("1. f()\n2 g()", "not a plan line", 2, "2 g()"),
        ("1. f()\n2. join(1)", "join() takes no arguments", 2, "2. join(1)"),
        ("1. f(a=1, a=2)", "keyword argument 'a' repeated", 1, "1. f(a=1, a=2)"),
        ("1. f(1, # note\n2)", "comments (#) are not allowed", 1, "1. f(1, #"),
        ("1. f(x=1, 2)", "not valid literals", 1, "1. f(x=1, 2)"),
    ],
)
def test_plan_errors_carry_reason_line_number_and_line(text: str, reason: str, line_no: int, line: str) -> None:
    err = error_of(text)
    assert reason in err.reason
    assert err.line_no == line_no
    assert err.line.strip() == line
    assert str(err).startswith(f"line {line_no}: ")


def test_an_error_is_sticky_and_tasks_before_it_are_not_lost() -> None:
    parser = PlanParser(TOOLS)
    # one chunk holds a complete task and then an error on the same line: the task is returned now ...
    assert [t.idx for t in parser.feed("1. f() trailing junk\n")] == [1]
    assert parser.error is not None and "unexpected text" in parser.error.reason
    # ... and the error is raised by the next call, and every call after it
    with pytest.raises(PlanParseError, match="unexpected text"):
        parser.feed("2. g()\n")
    with pytest.raises(PlanParseError, match="unexpected text"):
        parser.close()
    assert [t.idx for t in parser.tasks] == [1]


def test_feeding_after_close_is_an_error() -> None:
    parser = PlanParser()
    parser.feed("1. f()")
    parser.close()
    with pytest.raises(PlanParseError, match="after close"):
        parser.feed("2. g()")


# ---------------------------------------------------------------------------------------------- incremental
def test_each_task_is_emitted_the_moment_its_call_closes() -> None:
    parser = PlanParser(TOOLS)
    assert parser.feed("Thought: go\n1. f(") == []
    assert parser.feed('"a"') == []
    [t1] = parser.feed(")")  # before the newline arrives
    assert t1.args == ("a",) and t1.thought == "go"
    assert parser.feed("\n2. g($1") == []  # "$1" might still become "$12"
    [t2] = parser.feed(")")
    assert t2.dependencies == (1,)
    [join] = parser.feed("\n3. join()")
    assert join.is_join and parser.done
    assert parser.feed("<END_OF_PLAN>") == []
    assert parser.close() == []
    assert parser.text == 'Thought: go\n1. f("a")\n2. g($1)\n3. join()<END_OF_PLAN>'


def test_a_whole_plan_in_one_chunk_and_iter_tasks() -> None:
    text = '1. f()\n2. g("$1")\n3. join()'
    assert [t.idx for t in PlanParser(TOOLS).feed(text)] == [1, 2, 3]
    assert list(iter_tasks(list(text), TOOLS)) == parse(text)


def test_tools_none_accepts_any_name() -> None:
    assert parse_plan("1. anything_at_all()")[0].name == "anything_at_all"


def test_an_unknown_escape_keeps_its_backslash_even_with_warnings_as_errors() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (task, _) = parse_plan('1. open_and_get_file_path("C:\\data\\plans.pdf")\n2. join()')
    assert task.args == ("C:\\data\\plans.pdf",)


def _feed_all(parser: PlanParser, chunks: list[str]) -> None:
    for chunk in chunks:
        parser.feed(chunk)
    parser.close()


def test_an_unknown_tool_is_a_typed_parse_error_naming_the_tool() -> None:
    from tinyplan import PlanParseError, UnknownToolError

    for chunks in (
        ["1. get_phone_number('Sid')\n2. send_mail(['$1'])\n"],
        ["1. get_phone_number('Sid')\n2. se", "nd_mail(['$1'])\n"],
    ):
        parser = PlanParser({"get_phone_number", "send_sms"})
        with pytest.raises(UnknownToolError) as info:
            _feed_all(parser, chunks)
        assert isinstance(info.value, PlanParseError)
        assert (info.value.tool, info.value.line_no) == ("send_mail", 2)
        assert "unknown tool 'send_mail'" in str(info.value)
        assert [t.name for t in parser.tasks] == ["get_phone_number"]  # what came before it is kept
