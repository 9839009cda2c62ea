"""Evaluation harness: dataset adapters, plan metrics, a runner and a llama.cpp function-calling baseline.

TinyAgent (Erdogan et al. 2024) judges a plan by its DAG; `tinyplan.eval` measures that (and stricter scores) for
any model, toolset and dataset. See docs/eval.md.
"""

from tinyplan.eval._baseline import LlamaFunctionCallingBaseline, tasks_from_tool_calls
from tinyplan.eval._metrics import (
    CaseScore,
    Summary,
    args_match,
    dag_success,
    edge_counts,
    plan_graph,
    score_plan,
    strict_success,
    summarize,
    tool_counts,
    value_matches,
)
from tinyplan.eval._runner import (
    CaseRecord,
    EvalReport,
    EvalSystem,
    Prediction,
    TinyplanSystem,
    evaluate,
    markdown_table,
    write_results,
)
from tinyplan.eval.datasets import (
    BFCL_CATEGORIES,
    EvalCase,
    EvalDataError,
    GoldCall,
    default_root,
    load_dataset,
    normalize_schema,
    render_plan,
    sanitize_name,
    sanitize_param,
    spread,
    teval_reads_from_request,
    with_examples,
)

__all__ = [
    "BFCL_CATEGORIES",
    "CaseRecord",
    "CaseScore",
    "EvalCase",
    "EvalDataError",
    "EvalReport",
    "EvalSystem",
    "GoldCall",
    "LlamaFunctionCallingBaseline",
    "Prediction",
    "Summary",
    "TinyplanSystem",
    "args_match",
    "dag_success",
    "default_root",
    "edge_counts",
    "evaluate",
    "load_dataset",
    "markdown_table",
    "normalize_schema",
    "plan_graph",
    "render_plan",
    "sanitize_name",
    "sanitize_param",
    "score_plan",
    "spread",
    "strict_success",
    "summarize",
    "tasks_from_tool_calls",
    "teval_reads_from_request",
    "tool_counts",
    "value_matches",
    "with_examples",
    "write_results",
]
