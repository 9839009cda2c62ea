"""tinyplan: LLMCompiler plans from small local language models."""

from tinyplan._backend import (
    Backend,
    Chunk,
    Completion,
    CompletionRequest,
    Message,
    ScriptedBackend,
    ScriptedFailure,
    Usage,
    complete,
)
from tinyplan._errors import (
    BackendError,
    BackendStreamError,
    BackendTimeoutError,
    BackendUnavailableError,
    JoinerError,
    ModelError,
    PlanError,
    PlanParseError,
    PlanValidationError,
    TinyplanError,
    ToolDefinitionError,
    ToolsetError,
)
from tinyplan._events import (
    Event,
    FinalAnswer,
    JoinDecided,
    PlanParseFailed,
    Replanning,
    TaskFinished,
    TaskParsed,
    TaskStarted,
    Token,
)
from tinyplan._executor import TaskFetchingUnit, TaskResult, TaskState, build_graph, observation_text
from tinyplan._grammar import GrammarError, plan_grammar
from tinyplan._joiner import JoinDecision, parse_join
from tinyplan._model import default_model_path, resolve_model, tiny_model_path
from tinyplan._parser import END_OF_PLAN, Interpolated, PlanParser, Ref, Task, parse_plan
from tinyplan._planner import Plan, Planner, PlanResult, Timings
from tinyplan._prompt import PromptParts, PromptRenderer, count_tokens
from tinyplan._relevance import RelevanceVerdict, check_relevance
from tinyplan._tools import Tool, ToolArgumentError, Toolset, get_tool, tool
from tinyplan.backends import LlamaCppBackend, LlamaServerBackend, LlamaServerProcess, OpenAICompatibleBackend

__version__ = "0.1.0"

__all__ = [
    "tiny_model_path",
    "resolve_model",
    "default_model_path",
    "OpenAICompatibleBackend",
    "LlamaServerProcess",
    "LlamaServerBackend",
    "LlamaCppBackend",
    "END_OF_PLAN",
    "Backend",
    "BackendError",
    "BackendStreamError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "Chunk",
    "Completion",
    "CompletionRequest",
    "Event",
    "GrammarError",
    "FinalAnswer",
    "Interpolated",
    "JoinDecided",
    "JoinDecision",
    "JoinerError",
    "Message",
    "ModelError",
    "PlanError",
    "Plan",
    "PlanParseError",
    "PlanParseFailed",
    "PlanParser",
    "PlanResult",
    "PlanValidationError",
    "Planner",
    "check_relevance",
    "PromptParts",
    "PromptRenderer",
    "Ref",
    "RelevanceVerdict",
    "Replanning",
    "ScriptedBackend",
    "ScriptedFailure",
    "Task",
    "TaskFetchingUnit",
    "TaskFinished",
    "TaskParsed",
    "TaskResult",
    "TaskStarted",
    "TaskState",
    "TinyplanError",
    "Token",
    "Timings",
    "Tool",
    "ToolArgumentError",
    "ToolDefinitionError",
    "Toolset",
    "ToolsetError",
    "Usage",
    "build_graph",
    "complete",
    "count_tokens",
    "get_tool",
    "observation_text",
    "parse_join",
    "parse_plan",
    "plan_grammar",
    "tool",
]
