"""Plan data for any toolset (TinyAgent's data pipeline): synthesize, check, retrieve and export.

* `synthesize` (``tinyplan synth``): checked ``(request, plan)`` examples, plan-first (skeleton → values → the model
  writes the request) or request-first (a generator writes requests, the planner plans them), appended to a
  resumable JSONL file and split by skeleton.
* `ExampleChecker`: the sanity checks, each a named rejection reason (`REASONS`).
* `SkeletonSampler`, `find_links`: which outputs can feed which inputs, and compositions of them.
* `ExampleBank` (``Planner(bank=...)``, ``tinyplan run --bank``): the examples closest to a request, BM25 or MiniLM.
* `export_sft` (``tinyplan synth export``): the planner's exact prompts with the plans, for fine-tuning.

See docs/data.md.
"""

from tinyplan.data._bank import BM25, MAC_BANK_PATH, BankExample, ExampleBank, mac_bank
from tinyplan.data._evalcases import bank_cases
from tinyplan.data._export import export_sft, sft_record
from tinyplan.data._profile import MacSandbox, SynthProfile, mac_profile, profile_for, text_pdf
from tinyplan.data._sanity import REASONS, ExampleChecker, Rejection, Sandbox, asks_for, content_words, stated
from tinyplan.data._skeleton import (
    Call,
    Link,
    Skeleton,
    SkeletonCall,
    SkeletonSampler,
    Slot,
    fill,
    find_links,
    render_plan,
    skeleton_shape,
    skeleton_signature,
    split_of,
)
from tinyplan.data._store import ExampleStore, StoreState, read_examples, rejected_path
from tinyplan.data._synth import (
    STYLES,
    SynthReport,
    recheck,
    request_prompt,
    synthesize,
    write_request,
    writer_view,
)
from tinyplan.data._values import Scenario, ValuePools, default_pools, parameter_kind

__all__ = [
    "BM25",
    "MAC_BANK_PATH",
    "REASONS",
    "STYLES",
    "BankExample",
    "Call",
    "ExampleBank",
    "ExampleChecker",
    "ExampleStore",
    "Link",
    "MacSandbox",
    "Rejection",
    "Sandbox",
    "Scenario",
    "Skeleton",
    "SkeletonCall",
    "SkeletonSampler",
    "Slot",
    "StoreState",
    "SynthProfile",
    "SynthReport",
    "ValuePools",
    "asks_for",
    "bank_cases",
    "content_words",
    "default_pools",
    "export_sft",
    "fill",
    "find_links",
    "mac_bank",
    "mac_profile",
    "parameter_kind",
    "profile_for",
    "read_examples",
    "recheck",
    "rejected_path",
    "render_plan",
    "request_prompt",
    "sft_record",
    "skeleton_shape",
    "skeleton_signature",
    "split_of",
    "stated",
    "synthesize",
    "text_pdf",
    "write_request",
    "writer_view",
]
