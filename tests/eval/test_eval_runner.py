"""The runner, results files, the llama.cpp function-calling baseline and the ``eval`` CLI command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tinyplan import BackendStreamError, BackendUnavailableError, CompletionRequest, ScriptedBackend
from tinyplan.eval import (
    EvalDataError,
    LlamaFunctionCallingBaseline,
    TinyplanSystem,
    default_root,
    evaluate,
    load_dataset,
    markdown_table,
    tasks_from_tool_calls,
    write_results,
)
from tinyplan.eval._cli import eval_command

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "examples" / "data" / "eval_cases.jsonl"


def by_question(answers: dict[str, Any]):  # type: ignore[no-untyped-def]
    def answer(request: CompletionRequest) -> Any:
        text = request.text
        for key, value in answers.items():
            if key in text.rsplit("Question:", 1)[-1]:
                if isinstance(value, BaseException):
                    raise value
                return value
        raise AssertionError(f"no scripted answer for {text[-200:]!r}")

    return answer


@pytest.mark.anyio
async def test_evaluate_scores_parses_failures_and_backend_errors() -> None:
    cases = load_dataset(f"jsonl:{CASES}")
    answer = by_question(
        {
            "Text Sid": '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
            '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()<END_OF_PLAN>',
            "warmer in Paris": '1. get_weather("Paris")\n2. fetch_everything()\n3. join()<END_OF_PLAN>',
            "Hello!": BackendStreamError("the server hung up"),
        }
    )
    backend = ScriptedBackend([answer] * 3)
    seen: list[str] = []
    report = await evaluate(
        cases, TinyplanSystem(backend), concurrency=2, progress=False, on_record=lambda r: seen.append(r.case.id)
    )
    assert [r.case.id for r in report.records] == ["sms-two", "weather-compare", "greeting"]
    assert sorted(seen) == sorted(["sms-two", "weather-compare", "greeting"])
    sms, weather, greeting = report.records
    assert sms.score.strict_success and sms.prediction.error is None
    assert sms.prediction.timings["total"] is not None and sms.prediction.tools_shown == [
        "get_phone_number",
        "send_sms",
    ]
    assert not weather.score.parsed and weather.prediction.error_kind == "parse"
    assert "unknown tool 'fetch_everything'" in (weather.prediction.error or "")
    assert weather.prediction.text.startswith('1. get_weather("Paris")')
    assert greeting.prediction.error_kind == "backend" and "hung up" in (greeting.prediction.error or "")
    s = report.summary
    assert s.cases == 3 and s.dag_success == pytest.approx(1 / 3) and s.failure_rate == pytest.approx(2 / 3)
    table = markdown_table([report])
    assert "| tinyplan | jsonl:eval_cases.jsonl | 3 | 33.3 | 33.3 |" in table
    assert "| parse failures % | invalid % |" in table and "| 66.7 | 66.7 |" in table


@pytest.mark.anyio
async def test_plan_without_join_is_a_failure() -> None:
    case = load_dataset(f"jsonl:{CASES}", limit=1)[0]
    backend = ScriptedBackend(['1. get_phone_number("Sid")\n'])
    report = await evaluate([case], TinyplanSystem(backend), progress=False)
    rec = report.records[0]
    assert not rec.score.parsed and "join()" in (rec.prediction.error or "")


@pytest.mark.anyio
async def test_a_case_too_long_for_the_context_is_a_failed_case_and_the_run_goes_on() -> None:
    cases = load_dataset(f"jsonl:{CASES}", limit=2)
    plan = '1. get_phone_number("Sid")\n2. join()'
    report = await evaluate(cases, TinyplanSystem(ScriptedBackend([plan] * 2, context_length=64)), progress=False)
    assert [r.prediction.error_kind for r in report.records] == ["request", "request"]
    assert all("too long" in (r.prediction.error or "") and not r.score.parsed for r in report.records)


@pytest.mark.anyio
async def test_unreachable_backend_stops_the_run() -> None:
    case = load_dataset(f"jsonl:{CASES}", limit=1)[0]
    with pytest.raises(BackendUnavailableError):
        await evaluate([case], TinyplanSystem(ScriptedBackend([BackendUnavailableError("down")])), progress=False)
    with pytest.raises(EvalDataError, match="concurrency"):
        await evaluate([case], TinyplanSystem(ScriptedBackend([])), concurrency=0, progress=False)


@pytest.mark.anyio
async def test_write_results(tmp_path: Path) -> None:
    cases = load_dataset(f"jsonl:{CASES}", limit=1)
    plan = '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n3. send_sms(["$1", "$2"], "x")\n4. join()'
    report = await evaluate(cases, TinyplanSystem(ScriptedBackend([plan]), grammar="syntax"), progress=False)
    paths = write_results([report], tmp_path / "out")
    assert [p.name for p in paths] == ["tinyplan_syntax__jsonl_eval_cases_jsonl.jsonl", "summary.json", "summary.md"]
    line = json.loads(paths[0].read_text().splitlines()[0])
    assert line["id"] == "sms-two" and line["system"] == "tinyplan[syntax]"
    assert line["predicted_plan"].startswith('1. get_phone_number("Sid")')
    assert line["gold_plan"].endswith("4. join()<END_OF_PLAN>")
    assert line["scores"]["dag_success"] is True and line["scores"]["strict_success"] is False  # message differs
    summary = json.loads(paths[1].read_text())
    assert summary[0]["dag_success"] == 1.0 and summary[0]["strict_success"] == 0.0
    assert "| tinyplan[syntax] |" in paths[2].read_text()


def test_tool_calls_become_a_plan_without_dependencies() -> None:
    calls = [
        {"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
    ]
    tasks, text = tasks_from_tool_calls(calls)
    assert [(t.idx, t.name, dict(t.kwargs), t.dependencies) for t in tasks] == [
        (1, "get_weather", {"city": "Paris"}, ()),
        (2, "get_weather", {"city": "Rome"}, ()),
        (3, "join", {}, (1, 2)),
    ]
    assert text == '1. get_weather(city="Paris")\n2. get_weather(city="Rome")\n3. join()'
    assert [t.name for t in tasks_from_tool_calls(None)[0]] == ["join"]
    with pytest.raises(ValueError, match="not JSON"):
        tasks_from_tool_calls([{"function": {"name": "f", "arguments": "{oops"}}])
    with pytest.raises(ValueError, match="not a JSON object"):
        tasks_from_tool_calls([{"function": {"name": "f", "arguments": "[1]"}}])
    with pytest.raises(ValueError, match="no function name"):
        tasks_from_tool_calls([{"function": {}}])


@pytest.mark.anyio
async def test_baseline_without_model_file_is_unavailable(tmp_path: Path) -> None:
    case = load_dataset(f"jsonl:{CASES}", limit=1)[0]
    with pytest.raises(BackendUnavailableError, match="not found"):
        await LlamaFunctionCallingBaseline(tmp_path / "missing.gguf").predict(case)


def test_cli_reports_bad_dataset_and_unreachable_server(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(eval_command, ["--dataset", "nope", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "unknown dataset spec" in res.output
    res = runner.invoke(
        eval_command,
        ["--dataset", f"jsonl:{CASES}", "--backend-url", "http://127.0.0.1:9", "--no-progress", "--out", str(tmp_path)],
    )
    assert res.exit_code != 0 and "Error" in res.output
    assert not (tmp_path / "summary.md").exists()


@pytest.mark.slow
@pytest.mark.skipif(not (default_root() / "bfcl").is_dir(), reason=f"evaluation data not found at {default_root()}")
def test_cli_with_real_tiny_model(tmp_path: Path) -> None:
    """The whole path with a real (tiny, useless-for-planning) model: planner and baseline on two BFCL cases."""
    from tinyplan.backends._gguf import tiny_model_path

    try:
        model = str(tiny_model_path())
    except Exception as exc:  # the tiny model package is not installed
        pytest.skip(str(exc))
    res = CliRunner().invoke(
        eval_command,
        [
            "--dataset",
            "bfcl:parallel",
            "--limit",
            "6",
            "--sample",
            "2",
            "--model",
            model,
            "--baseline",
            "--no-progress",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [s["system"] for s in summary] == ["tinyplan", "llama-cpp function calling"]
    assert all(s["cases"] == 2 for s in summary)
    lines = (tmp_path / "llama-cpp_function_calling__bfcl_parallel.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all("scores" in json.loads(x) for x in lines)
    assert [json.loads(x)["id"] for x in lines] == ["parallel_0", "parallel_3"]  # spread over the first 6


@pytest.mark.anyio
async def test_relevance_check_scores_a_request_no_tool_fits_as_a_plan_without_calls() -> None:
    cases = load_dataset(f"jsonl:{CASES}")
    sms, greeting = cases[0], cases[2]
    plans = by_question(
        {
            "Text Sid": '1. get_phone_number("Sid")\n2. get_phone_number("Lutfi")\n'
            '3. send_sms(["$1", "$2"], "The meeting moved to 3pm")\n4. join()<END_OF_PLAN>',
            "Hello!": '1. get_weather("here")\n2. join()<END_OF_PLAN>',  # what the grammar would force
        }
    )
    free = by_question({"Text Sid": "1. get_phone_number(", "Hello!": "1. say_hello("})

    def answer(request: CompletionRequest) -> Any:
        return free(request) if request.stop == ("(",) else plans(request)

    system = TinyplanSystem(ScriptedBackend([answer] * 4), grammar="typed", relevance_check=True)
    assert system.name == "tinyplan[typed]+relevance"
    report = await evaluate([sms, greeting], system, progress=False)
    sms_rec, greeting_rec = report.records
    assert sms_rec.score.dag_success and sms_rec.prediction.text.startswith('1. get_phone_number("Sid")')
    assert greeting_rec.score.dag_success and greeting_rec.prediction.text == "1. join()"
    without = await evaluate([greeting], TinyplanSystem(ScriptedBackend([plans]), grammar="typed"), progress=False)
    assert not without.records[0].score.dag_success  # the forced call is wrong: no tool was needed
