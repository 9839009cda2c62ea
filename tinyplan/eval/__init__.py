"""Evaluation harness: dataset adapters, plan metrics, a runner and a llama.cpp function-calling baseline.

TinyAgent (Erdogan et al. 2024) judges a plan by its DAG; `tinyplan.eval` measures that (and stricter scores) for
any model, toolset and dataset. See docs/eval.md.
"""

from tinyplan.eval._datasets import (
    BFCL_CATEGORIES,
    EvalCase,
    EvalDataError,
    GoldCall,
    default_root,
    load_dataset,
    normalize_schema,
    render_plan,
    sanitize_name,
)

__all__ = [
    "BFCL_CATEGORIES",
    "EvalCase",
    "EvalDataError",
    "GoldCall",
    "default_root",
    "load_dataset",
    "normalize_schema",
    "render_plan",
    "sanitize_name",
]
