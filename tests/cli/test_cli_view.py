"""``tinyplan run``: requests refused before anything loads, and the live view at 80 and 120 columns."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from backend_fakes import FakeServer
from click.testing import CliRunner
from test_cli import one_line_error, scripted_llama_server

from tinyplan.cli import main

REPORTING_TOOLS = '''
from tinyplan import tool


@tool
def lookup(name: str) -> str:
    """Find a contact's phone number.

    Args:
        name: The contact's name.
    """
    return {"Sid": "+1 510 555 0101", "Lutfi": "+1 510 555 0102"}[name]


@tool(side_effects=True)
def draft_text(first: str, second: str, message: str) -> str:
    """Draft a text message to two numbers.

    Args:
        first: A phone number.
        second: Another phone number.
        message: The text.
    """
    return (
        f"Drafted a text to Sid ({first}) and Lutfi ({second}): “{message}” (not sent; saved as "
        "/home/someone/my-home/messages/outbox/20261128-072220-sms.json)."
    )


tools = [lookup, draft_text]
'''

PLAN = (
    '1. lookup("Sid")\n2. lookup("Lutfi")\n'
    '3. draft_text("$1", "$2", "The meeting moved to 3pm and the budget review is now on Thursday")\n'
    "4. join()<END_OF_PLAN>"
)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


@pytest.fixture
def reporting_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "reporting_tools.py").write_text(REPORTING_TOOLS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "reporting_tools", raising=False)
    return "reporting_tools:tools"


def run_view(server: FakeServer, tools: str, columns: int, *, terminal: bool) -> Any:
    env = {"COLUMNS": str(columns), "LINES": "60"}
    if terminal:
        env["TTY_COMPATIBLE"] = "1"  # rich treats the output as a terminal: the Live view redraws
    return CliRunner().invoke(main, ["run", "Text Sid and Lutfi", "--server", server.url, "--toolset", tools], env=env)


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
@pytest.mark.parametrize("columns", [80, 120])
def test_live_view_fits_the_width_and_the_answer_starts_on_its_own_line(
    fake_server: FakeServer, reporting_tools: str, columns: int, terminal: bool
) -> None:
    prompts = scripted_llama_server(fake_server, PLAN)
    res = run_view(fake_server, reporting_tools, columns, terminal=terminal)
    assert res.exit_code == 0, res.output
    raw = res.stdout
    if terminal:  # Live redraws by moving the cursor up and erasing lines: keep the last frame, drawn after that
        assert "\x1b[2K" in raw
        raw = raw[raw.rindex("\x1b[2K") :]
    out = ANSI.sub("", raw)
    lines = out.splitlines()
    assert all(len(ln) <= columns for ln in lines), [ln for ln in lines if len(ln) > columns]
    answer_tops = [ln for ln in lines if "─ answer ─" in ln]
    assert answer_tops and all(ln.startswith("╭─ answer ─") for ln in answer_tops), out
    # the last frame of the view: the plan as parsed (nothing after join()), every task done, then the answer
    last_plan = out.rfind("╭─ plan ─")
    frame = out[last_plan:]
    assert "4. join()" in frame and "<END" not in frame
    assert frame.count(" done ") >= 3
    answer = frame[frame.index("╭─ answer ─") :]
    flat = " ".join(part.strip("│ ") for part in answer.splitlines())
    assert "Drafted a text to Sid (+1 510 555 0101) and Lutfi (+1 510 555 0102)" in flat
    assert len(prompts) == 1  # join=auto: the action's report is the answer, no joiner call


def test_a_question_is_answered_by_the_model_in_auto_mode(fake_server: FakeServer, reporting_tools: str) -> None:
    prompts = scripted_llama_server(
        fake_server, '1. lookup("Sid")\n2. join()<END_OF_PLAN>', join="Thought: found.\nAction: Finish(+1 510 555 0101)"
    )
    res = CliRunner().invoke(
        main, ["run", "What is Sid's number?", "--server", fake_server.url, "--toolset", reporting_tools, "--json"]
    )
    assert res.exit_code == 0, res.output
    assert '"answer": "+1 510 555 0101"' in res.stdout
    assert len(prompts) == 2  # the plan, then the joiner


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_an_empty_request_is_one_line_before_anything_loads(tmp_path: Path, query: str) -> None:
    home = tmp_path / "never-created"
    missing_model = tmp_path / "no-such-model.gguf"
    res = CliRunner().invoke(main, ["run", query, "--model", str(missing_model), "--home", str(home), "--dry-run"])
    line = one_line_error(res)
    assert "the request is empty" in line
    assert not home.exists()  # nothing was created (a model error would have come after the home was made)


@pytest.mark.slow
def test_an_over_long_request_is_refused_before_the_weights_load(monkeypatch: pytest.MonkeyPatch) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    loads: list[dict[str, Any]] = []
    real = llama_cpp.Llama

    def recording(*args: Any, **kwargs: Any) -> Any:
        loads.append(kwargs)
        return real(*args, **kwargs)

    from tinyplan.backends import _llama_cpp

    _llama_cpp._close_slot()  # an earlier test may have left a model or a vocabulary loaded in this process
    _llama_cpp._close_vocab()
    monkeypatch.setattr(llama_cpp, "Llama", recording)
    query = "Text Sid that " + "the meeting moved again and " * 1500
    res = CliRunner().invoke(main, ["run", query, "--dry-run"])
    line = one_line_error(res)
    assert "too long" in line and "8192" in line
    assert all(kw.get("vocab_only") for kw in loads)  # no weights were loaded: at most the vocabulary was read


def test_grammar_format_sends_the_grammar_where_the_server_reads_it(
    fake_server: FakeServer, reporting_tools: str
) -> None:
    bodies: list[Any] = []

    def respond(h: Any, body: Any) -> None:
        bodies.append(body)
        h.start_sse()
        text = '1. lookup("Sid")\n2. join()'
        h.send_event({"choices": [{"index": 0, "text": text, "finish_reason": "stop"}]})
        h.send_event("[DONE]")
        h.end_sse()

    fake_server.respond = respond
    url = fake_server.url + "/v1"
    res = CliRunner().invoke(
        main,
        ["run", "Sid?", "--openai", url, "--toolset", reporting_tools, "--grammar-format", "sglang", "--dry-run"],
    )
    assert res.exit_code == 0, res.output
    assert "ebnf" in bodies[0] and "root ::=" in bodies[0]["ebnf"] and "grammar" not in bodies[0]
    res = CliRunner().invoke(main, ["run", "q", "--toolset", reporting_tools, "--grammar-format", "vllm", "--dry-run"])
    assert res.exit_code == 2 and "--grammar-format is an option of --openai" in res.output
