"""The exception tree: every error tinyplan raises on purpose is a `TinyplanError`.

```
TinyplanError
├── ToolDefinitionError           a function cannot become a tool (decoration time)
├── ToolsetError                  duplicate, reserved or invalid tool names in a toolset
├── ToolArgumentError             a call's arguments do not fit the tool (also a ValueError; _tools)
├── GrammarError                  plan_grammar got a bad option (also a ValueError; _grammar)
├── PlanError                     a plan is wrong
│   ├── PlanParseError            the plan text does not parse (line number and text attached)
│   │   └── UnknownToolError      it calls a tool the prompt did not list
│   ├── PlanValidationError       the task graph is invalid (cycle, dangling reference)
│   └── ResolveError              a $N path names a field the output lacks; becomes the task's error (_resolve)
├── BackendError                  a language-model backend failed
│   ├── BackendUnavailableError   it cannot be reached or loaded (connection refused, missing extra)
│   ├── BackendTimeoutError       it did not answer in time
│   └── BackendStreamError        it failed mid-stream (cut stream, malformed event, HTTP error)
├── UsageError                    tinyplan used wrongly: a bad option or combination (also a ValueError)
├── JoinerError                   the joiner's reply fits neither Finish nor Replan
├── RequestError                  the request cannot be planned: empty, or too long for the model's context (also a
│                                 ValueError)
├── ModelError                    the default model cannot be found, assembled or verified
├── RetrieverError                a ToolRAG retriever cannot do what it was asked (_retriever)
│   ├── RetrieverUnavailableError its extra or model package is missing
│   └── RetrieverModelError       a saved retriever file is damaged or does not fit
├── EvalDataError                 an evaluation dataset cannot be read (eval)
├── MCPToolError                  an imported MCP tool answered with isError (mcp)
├── FinetuneError                 fine-tuning cannot start or finish (finetune)
│   ├── TrainingDataError         a training data file does not parse: file and line (also a ValueError)
│   ├── BaseModelError            the base model is missing, unreadable or not a causal LM
│   └── AdapterExportError        the LoRA adapter cannot be converted to GGUF
├── VoiceError                    speech input failed (voice)
│   ├── AudioError                the audio cannot be read
│   ├── TranscriberUnavailableError   the transcriber or its model is missing
│   ├── TranscriptionError        the transcriber failed
│   └── SoundDeviceError          the microphone cannot be opened
└── MacToolError                  a Mac tool refused or failed; written for the model (toolsets.mac)
    ├── ToolInputError            a bad argument, e.g. a path outside the sandbox
    │   └── DateFormatError       a date that is not 'YYYY-MM-DD HH:MM:SS'
    ├── ContactNotFoundError
    ├── ToolFileNotFoundError
    ├── NoteNotFoundError
    ├── AppleScriptValueError
    ├── AppleScriptError
    └── ZoomError

Warnings (UserWarning): PromptCacheWarning (a damaged prompt-cache file, rebuilt), MCPToolSkippedWarning (an MCP
tool that cannot be imported, left out).
```

Classes outside this module are defined where they are raised (the module in parentheses) and drawn here;
``tests/test_errors_tree.py`` checks that every exception and warning class of the package is in this drawing
under its real base class. Errors that *your* tools raise are not in this tree: they become error observations
(see `TaskResult`); the Mac tools' and MCP tools' errors are raised on purpose for the same route.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendStreamError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "JoinerError",
    "ModelError",
    "PlanError",
    "PlanParseError",
    "PlanValidationError",
    "RequestError",
    "TinyplanError",
    "ToolDefinitionError",
    "ToolsetError",
    "UnknownToolError",
    "UsageError",
]


class TinyplanError(Exception):
    """Base class of every error tinyplan raises on purpose."""


class ToolDefinitionError(TinyplanError):
    """A function cannot be turned into a tool (unsupported signature, bad name, bad options)."""


class ToolsetError(TinyplanError):
    """A toolset rejects a tool: duplicate name, reserved name (``join``) or invalid identifier."""


class PlanError(TinyplanError):
    """A plan is wrong. Base of `PlanParseError` and `PlanValidationError`."""


class PlanParseError(PlanError):
    """The plan text does not parse.

    Attributes:
        reason: What is wrong, without location, e.g. ``"unknown tool 'send_mail'"``.
        line_no: 1-based line number in the plan text where the faulty line starts (0 if unknown).
        line: The text of the faulty line as the model wrote it.
    """

    def __init__(self, reason: str, *, line_no: int = 0, line: str = "") -> None:
        self.reason = reason
        self.line_no = line_no
        self.line = line
        where = f"line {line_no}: " if line_no else ""
        shown = f": {line.strip()!r}" if line.strip() else ""
        super().__init__(f"{where}{reason}{shown}")


class UnknownToolError(PlanParseError):
    """The plan calls a tool that the prompt did not list (with ToolRAG: one the retriever left out).

    Attributes:
        tool: The unknown tool's name as the model wrote it.
    """

    def __init__(self, tool: str, *, line_no: int = 0, line: str = "") -> None:
        self.tool = tool
        super().__init__(f"unknown tool {tool!r}: the plan may only call the listed tools", line_no=line_no, line=line)


class PlanValidationError(PlanError):
    """The task graph is invalid: a dependency cycle, a reference to a task that does not exist, a duplicate index."""


class BackendError(TinyplanError):
    """A language-model backend failed."""


class BackendUnavailableError(BackendError):
    """The backend cannot be reached or loaded (connection refused, missing optional extra, model file missing)."""


class BackendTimeoutError(BackendError):
    """The backend did not answer within its timeout."""


class BackendStreamError(BackendError):
    """The backend failed while streaming: cut stream, malformed event, HTTP error status."""


class JoinerError(TinyplanError):
    """The joiner's reply fits neither ``Action: Finish(...)`` nor ``Action: Replan(...)``.

    Attributes:
        reply: The joiner's full reply text.
    """

    def __init__(self, message: str, *, reply: str) -> None:
        self.reply = reply
        super().__init__(message)


class UsageError(TinyplanError, ValueError):
    """tinyplan was used wrongly: an option out of range, or a combination the given parts cannot do.

    Raised at construction time (e.g. ``Planner(grammar="typed")`` with a backend that takes no grammar), never
    because of what a model wrote. Also a `ValueError`, so ``except ValueError`` keeps working.
    """


class RequestError(TinyplanError, ValueError):
    """The request cannot be planned; raised before anything is sent to the model.

    It is empty (or only whitespace), or with the planner's prompt and the plan's token budget it does not fit the
    model's context.
    """


class ModelError(TinyplanError):
    """The default model cannot be found, assembled from its part packages, or verified."""
