"""``tinyplan run``, ``tinyplan model`` and ``tinyplan eval --examples``: the live view, --json, --dry-run, own
toolsets, the Mac toolset's files, and every error as one line with a non-zero exit code. A scripted llama.cpp server
stands in for the model in the fast tests; the slow test runs the README's main job with the default model."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from backend_fakes import FakeHandler, FakeServer
from click.testing import CliRunner

from tinyplan.cli import main

OWN_TOOLS = '''
from tinyplan import tool


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def double(x: int) -> int:
    """Double an integer."""
    return 2 * x


tools = [add, double]
'''


def scripted_llama_server(
    server: FakeServer, plan: str, join: str = "Thought: done.\nAction: Finish(the sum doubled is 10)"
) -> list[str]:
    """Answer like llama-server: the chat template, token counts, the plan, then the joiner's Finish."""
    prompts: list[str] = []

    def respond(h: FakeHandler, body: Any) -> None:
        if h.path == "/apply-template":
            h.send_json(200, {"prompt": "".join(f"<{m['role']}>{m['content']}\n" for m in body["messages"])})
        elif h.path == "/tokenize":
            h.send_json(200, {"tokens": list(range(len(body["content"].split())))})
        elif h.path == "/completion":
            prompts.append(body["prompt"])
            joiner = "Action: Finish(" in body["prompt"]
            text = join + "<END_OF_RESPONSE>" if joiner else plan
            h.start_sse()
            for i in range(0, len(text), 7):
                h.send_event({"content": text[i : i + 7], "stop": False})
            h.send_event({"content": "", "stop": True, "tokens_predicted": 9, "tokens_evaluated": 50})
            h.end_sse()
        else:
            h.send_json(404, {"error": "no script"})

    server.respond = respond
    return prompts


@pytest.fixture
def own_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_cli_tools.py").write_text(OWN_TOOLS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_cli_tools", raising=False)
    return "my_cli_tools:tools"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def one_line_error(result: Any, code: int = 1) -> str:
    """The run failed with ``code`` and said why in one ``tinyplan: error:`` line on stderr, no traceback."""
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("tinyplan: error: ")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    return errors[0]


# ---------------------------------------------------------------------------------------------------- own tools
def test_run_own_toolset_json(fake_server: FakeServer, own_tools: str) -> None:
    prompts = scripted_llama_server(fake_server, "1. add(2, 3)\n2. double($1)\n3. join()<END_OF_PLAN>")
    res = invoke("run", "Add 2 and 3, then double it", "--server", fake_server.url, "--toolset", own_tools, "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["answer"] == "the sum doubled is 10" and data["status"] == "answered"
    tasks = data["plans"][0]["tasks"]
    assert [(t["tool"], t["state"], t["observation"]) for t in tasks[:2]] == [
        ("add", "succeeded", 5),
        ("double", "succeeded", 10),
    ]
    assert data["tools"] == ["add", "double"]
    assert "add(a: int, b: int) -> int" in prompts[0]  # the planner prompt showed the user's tools
    assert "Add 2 and 3, then double it" in prompts[-1]  # the joiner saw the question


def test_run_live_view_shows_plan_tasks_and_answer(fake_server: FakeServer, own_tools: str) -> None:
    scripted_llama_server(fake_server, "1. add(2, 3)\n2. double($1)\n3. join()<END_OF_PLAN>")
    res = invoke("run", "Add 2 and 3, then double it", "--server", fake_server.url, "--toolset", own_tools, "-v")
    assert res.exit_code == 0, res.output
    out = res.output
    for shown in ("plan", "1. add(2, 3)", "double($1)", "done", "answer", "the sum doubled is 10", "first token"):
        assert shown in out, out


def test_dry_run_writes_the_plan_and_runs_nothing(fake_server: FakeServer, own_tools: str) -> None:
    prompts = scripted_llama_server(fake_server, "1. add(2, 3)\n2. double($1)\n3. join()<END_OF_PLAN>")
    res = invoke("run", "q", "--server", fake_server.url, "--toolset", own_tools, "--dry-run", "--json")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    assert [(t["tool"], t["dependencies"]) for t in plan["tasks"]] == [("add", []), ("double", [1]), ("join", [1, 2])]
    assert plan["parse_error"] is None and len(prompts) == 1  # no joiner: nothing ran


def test_relevance_check_calls_no_tool_for_a_request_no_tool_fits(fake_server: FakeServer, own_tools: str) -> None:
    plan_text = '1. get_stock_price(ticker="ACME")\n2. join()<END_OF_PLAN>'
    prompts = scripted_llama_server(fake_server, plan_text, join="Action: Finish(no tool for that)")
    res = invoke(
        "run", "ACME share price: add the numbers?", "--server", fake_server.url, "--toolset", own_tools,
        "--relevance-check", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    plan = data["plans"][0]
    assert plan["text"] == "1. join()" and plan["relevance"]["unlisted"] == "get_stock_price"
    assert [t["tool"] for t in plan["tasks"]] == ["join"] and data["answer"] == "no tool for that"
    assert len(prompts) == 2  # the free first action, then the joiner: no grammar-constrained plan was asked for

    # a request that shares no word with any tool: no tool, and not even the first action is asked for
    prompts.clear()
    res = invoke(
        "run", "ACME share price?", "--server", fake_server.url, "--toolset", own_tools, "--relevance-check", "--json"
    )
    plan = json.loads(res.output)["plans"][0]
    assert plan["text"] == "1. join()" and plan["relevance"]["unrelated"] is True
    assert len(prompts) == 1  # the joiner only


def test_a_plan_that_does_not_parse_is_one_error_line(fake_server: FakeServer, own_tools: str) -> None:
    scripted_llama_server(fake_server, "1. add(2, 3)\n2. launch_rockets()\n3. join()<END_OF_PLAN>")
    res = invoke("run", "q", "--server", fake_server.url, "--toolset", own_tools, "--dry-run", "--grammar", "none")
    assert "unknown tool 'launch_rockets'" in one_line_error(res)


def test_replan_limit_exits_1_after_showing_the_result(fake_server: FakeServer, own_tools: str) -> None:
    # an invalid argument every time, and a joiner that still wants a replan after the last one
    scripted_llama_server(
        fake_server, "1. add(2, 'three')\n2. join()<END_OF_PLAN>", join="Thought: no.\nAction: Replan(add failed)"
    )
    res = invoke("run", "q", "--server", fake_server.url, "--toolset", own_tools, "--json", "--max-replans", "1")
    assert res.exit_code == 1
    data = json.loads(res.output)
    assert data["status"] == "replan_limit" and len(data["plans"]) == 2 and "add failed" in data["error"]
    assert "valid integer" in data["plans"][0]["tasks"][0]["error"]


# ------------------------------------------------------------------------------------------------ Mac toolset
def test_mac_toolset_writes_the_sms_draft_into_a_new_home(fake_server: FakeServer, tmp_path: Path) -> None:
    plan = (
        '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
        '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()<END_OF_PLAN>'
    )
    prompts = scripted_llama_server(fake_server, plan)
    home = tmp_path / "my-home"
    res = CliRunner().invoke(
        main,
        [
            "run",
            "Text Sid and Lutfi that the meeting moved to 3pm",
            "--server",
            fake_server.url,
            "--home",
            str(home),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert f"created {home} from the sample home" in res.stderr
    data = json.loads(res.stdout)
    assert data["status"] == "answered"
    assert data["answer"].startswith(
        "Drafted a text to Sid Jha (+1 510 555 0101) and Lutfi Eren Erdogan (+1 510 555 0102): “The meeting moved"
    )
    drafts = [json.loads(p.read_text()) for p in (home / "messages" / "outbox").glob("*.json")]
    assert len(drafts) == 1 and drafts[0]["message"] == "The meeting moved to 3pm"
    assert {"".join(c for c in r if c.isdigit()) for r in drafts[0]["to"]} == {"15105550101", "15105550102"}
    assert len(prompts) == 1  # join="auto": the action reported what it did, no joiner call


# ------------------------------------------------------------------------------------------------------ errors
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--server", "http://127.0.0.1:{port}", "--toolset", "{tools}"], 1, "127.0.0.1"),
        (["--openai", "http://127.0.0.1:{port}/v1", "--toolset", "{tools}"], 1, "127.0.0.1"),
        (["--model", "/nonexistent/model.gguf", "--toolset", "{tools}"], 1, "model.gguf"),
    ],
    ids=["server-down", "openai-down", "missing-model"],
)
def test_backend_problems_are_one_line(own_tools: str, args: list[str], code: int, says: str) -> None:
    port = _closed_port()
    filled = [a.format(port=port, tools=own_tools) for a in args]
    assert says in one_line_error(invoke("run", "q", *filled), code)


@pytest.mark.parametrize(
    ("toolset", "says"),
    [
        ("no_colon", "expected module:attribute"),
        ("no_such_module_xyz:tools", "cannot import 'no_such_module_xyz'"),
        ("my_cli_tools:missing", "has no attribute 'missing'"),
    ],
)
def test_bad_toolset_option_is_a_usage_error(own_tools: str, toolset: str, says: str) -> None:
    res = invoke("run", "q", "--toolset", toolset)
    assert res.exit_code == 2 and says in res.output and "Traceback" not in res.output


def test_server_and_openai_together_is_a_usage_error(own_tools: str) -> None:
    res = invoke("run", "q", "--server", "http://a", "--openai", "http://b/v1", "--toolset", own_tools)
    assert res.exit_code == 2 and "not both" in res.output


def test_debug_shows_the_traceback(own_tools: str) -> None:
    res = invoke("run", "q", "--server", f"http://127.0.0.1:{_closed_port()}", "--toolset", own_tools, "--debug")
    assert res.exit_code == 1 and res.exception is not None  # raised, not turned into one line


def test_model_path_honours_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setenv("TINYPLAN_MODEL", str(gguf))
    res = invoke("model", "path")
    assert res.exit_code == 0 and res.output.strip() == str(gguf)
    monkeypatch.setenv("TINYPLAN_MODEL", str(tmp_path / "missing.gguf"))
    assert "missing.gguf" in one_line_error(invoke("model", "path"))


# ------------------------------------------------------------------------------------------- real model, slow
@pytest.mark.slow
def test_readme_main_job_with_the_default_model(tmp_path: Path) -> None:
    """README's first command after setup: the default model plans the request, the plan runs on a new home."""
    home = tmp_path / "my-home"
    env = {k: v for k, v in os.environ.items() if k != "TINYPLAN_MODEL"}  # the bundled default model
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyplan",
            "run",
            "Text Sid and Lutfi that the meeting moved to 3pm",
            "--home",
            str(home),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert data["status"] == "answered", data
    drafts = [json.loads(p.read_text()) for p in (home / "messages" / "outbox").glob("*.json")]
    recipients = {"".join(c for c in r if c.isdigit()) for d in drafts for r in d["to"]}
    assert {"15105550101", "15105550102"} <= recipients, drafts
    assert data["timings"]["time_to_first_tool_start"] is not None
    assert data["usage"]["prompt_tokens"] > 1000 and data["usage"]["completion_tokens"] > 10


@pytest.mark.slow
def test_rag_flag_shows_fewer_examples(fake_server: FakeServer, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="the rag extra is not installed")
    prompts = scripted_llama_server(fake_server, '1. get_phone_number("Sid")\n2. join()<END_OF_PLAN>')
    args = ["run", "What is Sid's number?", "--server", fake_server.url, "--home", str(tmp_path / "h"), "--json"]
    full = CliRunner().invoke(main, args)
    rag = CliRunner().invoke(main, [*args, "--rag"])
    assert full.exit_code == 0 and rag.exit_code == 0, rag.output
    assert prompts[1].count("Question:") < prompts[0].count("Question:")  # ToolRAG kept the closest examples only
    assert json.loads(rag.stdout)["timings"]["retrieval"] > 0


# ----------------------------------------------------------------------------------------------------------- eval
def test_eval_with_examples_from_the_dataset(fake_server: FakeServer, tmp_path: Path) -> None:
    """``tinyplan eval --examples 1``: each case's prompt shows the most similar other case's plan, not its own."""
    cases = Path(__file__).resolve().parents[2] / "examples" / "data" / "eval_cases.jsonl"
    pool = tmp_path / "cases.jsonl"
    lines = cases.read_text().splitlines()
    sms = json.loads(lines[0])  # "Text Sid and Lutfi that the meeting moved to 3pm"
    other = {**sms, "id": "sms-ana", "request": "Text Ana that the meeting moved to noon"}
    other["plan"] = '1. get_phone_number("Ana")\n2. send_sms(["$1"], "The meeting moved to noon")\n3. join()'
    pool.write_text(json.dumps(sms) + "\n" + json.dumps(other) + "\n")
    prompts = scripted_llama_server(fake_server, '1. get_phone_number("Sid")\n2. join()<END_OF_PLAN>')
    out = tmp_path / "results"
    res = invoke(
        "eval", "--dataset", f"jsonl:{pool}", "--limit", "1", "--examples", "1",
        "--backend-url", fake_server.url, "--no-progress", "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(prompts) == 1  # --limit 1: only the first case is evaluated, the pool is the whole file
    assert 'Question: Text Ana that the meeting moved to noon\n1. get_phone_number(name="Ana")\n' in prompts[0]
    assert "Question: Text Sid and Lutfi that the meeting moved to 3pm\n1." not in prompts[0]  # never itself
    assert "Tell me a joke about cats" not in prompts[0]  # the generic examples are replaced
    record = json.loads((out / "tinyplan__jsonl_cases_jsonl.jsonl").read_text())
    assert record["id"] == "sms-two" and record["scores"]["tool_predicted"] == 1
