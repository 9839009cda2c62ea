"""ToolRAG: choose the tools and in-context example plans a request needs before planning (TinyAgent).

Install the optional extra: ``pip install 'tinyplan[rag]'``. See docs/toolrag.md.

* `ToolRetriever` (protocol), `Selection`, `apply_selection`: what the planner calls and how it uses the answer.
* `EmbeddingRetriever`: rank tools by embedding similarity (all-MiniLM-L6-v2, offline), keep the top ones.
* `ClassifierRetriever`: TinyAgent's design, a trained multi-label classifier (one sigmoid per tool, > 0.5).
"""

from tinyplan._extras import require_extra

require_extra("tinyplan.rag", "rag", ("numpy",))

from tinyplan._retriever import (
    ExamplePlan,
    RetrieverError,
    RetrieverModelError,
    RetrieverUnavailableError,
    ScoredExample,
    ScoredTool,
    Selection,
    ToolRetriever,
    apply_selection,
    parse_example,
    select_examples,
)
from tinyplan.rag._classifier import ClassifierRetriever, TrainingPair, pairs_from_examples
from tinyplan.rag._embedding import (
    MINILM_NAME,
    Embedder,
    EmbeddingRetriever,
    MiniLMEmbedder,
    ToolIndex,
    default_embedder,
    request_views,
    tool_text,
)

__all__ = [
    "MINILM_NAME",
    "ClassifierRetriever",
    "Embedder",
    "EmbeddingRetriever",
    "ExamplePlan",
    "MiniLMEmbedder",
    "RetrieverError",
    "RetrieverModelError",
    "RetrieverUnavailableError",
    "ScoredExample",
    "ScoredTool",
    "Selection",
    "ToolIndex",
    "ToolRetriever",
    "TrainingPair",
    "apply_selection",
    "default_embedder",
    "pairs_from_examples",
    "parse_example",
    "request_views",
    "select_examples",
    "tool_text",
]
