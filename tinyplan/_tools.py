"""Tools and toolsets: `@tool`, `Tool`, `Toolset`, `get_tool`.

A tool is a Python function (sync or async) that a plan may call. Its argument schema comes from the function's type
hints (validated with pydantic) and its descriptions from a Google-style docstring. The schema is exported in the
OpenAI tool format, rendered as a signature line for the planner prompt, and used to build the plan grammar.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import keyword
import re
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

import anyio.to_thread
import docstring_parser
import pydantic

from tinyplan._errors import TinyplanError, ToolDefinitionError, ToolsetError

__all__ = ["RESERVED_NAMES", "Tool", "ToolArgumentError", "Toolset", "get_tool", "tool"]

F = TypeVar("F", bound=Callable[..., Any])

#: Names a tool may not take: ``join`` ends every plan (LLMCompiler).
RESERVED_NAMES = frozenset({"join"})
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ATTRIBUTE = "__tinyplan_tool__"


class ToolArgumentError(TinyplanError, ValueError):
    """A tool call's arguments do not fit the tool's signature or types.

    Raised by `Tool.validate`; the task fetching unit turns it into an error observation, never a crash.
    """


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name) or keyword.iskeyword(name):
        raise ToolsetError(f"invalid tool name {name!r}: a tool name must be a Python identifier (letters, digits, _)")
    if name in RESERVED_NAMES:
        raise ToolsetError(f"tool name {name!r} is reserved: join() ends every plan")


@dataclass(frozen=True)
class Parameter:
    """One parameter of a tool.

    Attributes:
        name: The parameter name.
        annotation: The Python type (for function tools) or a type derived from JSON Schema.
        required: Whether a call must give it.
        default: The default value when not required.
        description: From the docstring's ``Args:`` section (or the schema), may be empty.
    """

    name: str
    annotation: Any
    required: bool
    default: Any = None
    description: str = ""


@dataclass(eq=False)
class Tool:
    """A callable the planner may use, with its schema.

    Build one with `@tool` (from a function) or `Tool.from_schema` (from an OpenAI function schema).

    Attributes:
        name: The name plans call it by.
        description: One paragraph for the planner prompt.
        function: The original function (sync or async).
        parameters: The parameters in call order.
        returns: A short type name of the result for the signature line, e.g. ``"str"``.
        timeout: Seconds a call may take before it is stopped (None: the executor's default).
        side_effects: Whether a call changes the world (sending, writing). Such calls are asked for approval and are
            never repeated by a replan once they succeeded.
    """

    name: str
    description: str
    function: Callable[..., Any]
    parameters: tuple[Parameter, ...]
    returns: str = "Any"
    timeout: float | None = None
    side_effects: bool = False
    _model: type[pydantic.BaseModel] = field(init=False, repr=False)
    _fields: tuple[str, ...] = field(init=False, repr=False)
    _is_async: bool = field(init=False, repr=False)
    _schema_override: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            _check_name(self.name)
        except ToolsetError as exc:
            raise ToolDefinitionError(str(exc)) from None
        if self.timeout is not None and not self.timeout > 0:
            raise ToolDefinitionError(f"tool {self.name!r}: timeout must be a positive number of seconds")
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ToolDefinitionError(f"tool {self.name!r}: duplicate parameter names {names}")
        # Fields get neutral internal names and the parameter name as alias, so parameters called ``json``,
        # ``model_config`` or ``_private`` work (pydantic reserves or hides those as attribute names).
        fields: dict[str, Any] = {}
        for i, p in enumerate(self.parameters):
            if p.required:
                info = pydantic.Field(alias=p.name, description=p.description or None)
            else:
                info = pydantic.Field(default=p.default, alias=p.name, description=p.description or None)
            fields[f"p{i}"] = (p.annotation, info)
        try:
            self._model = pydantic.create_model(
                f"{self.name}_arguments",
                __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
                **fields,
            )
        except (TypeError, pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
            raise ToolDefinitionError(f"tool {self.name!r}: unsupported parameter types: {exc}") from exc
        self._fields = tuple(f"p{i}" for i in range(len(self.parameters)))
        self._is_async = _is_async_callable(self.function)

    # ----------------------------------------------------------------------------------------------- construction
    @classmethod
    def from_function(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        side_effects: bool = False,
    ) -> Tool:
        """Build a tool from a type-hinted function.

        Args:
            function: A sync or async function. Every parameter needs a type hint; ``*args``/``**kwargs`` and
                positional-only parameters are not supported.
            name: Defaults to the function's ``__name__``.
            description: Defaults to the docstring's summary and long description.
            timeout: Seconds a call may take.
            side_effects: Marks calls that change the world.

        Raises:
            ToolDefinitionError: The signature is unsupported or a parameter lacks a type hint.
            ToolsetError: The name is invalid or reserved.
        """
        tool_name = name if name is not None else getattr(function, "__name__", "")
        if not isinstance(tool_name, str):
            raise ToolDefinitionError(f"cannot name a tool after {function!r}: pass name=")
        try:
            _check_name(tool_name)
        except ToolsetError as exc:
            raise ToolDefinitionError(str(exc)) from None
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError) as exc:
            raise ToolDefinitionError(f"tool {tool_name!r}: cannot read the signature: {exc}") from exc
        try:
            hints = typing.get_type_hints(function, include_extras=True)
        except Exception as exc:  # NameError for unresolved forward references, and friends
            raise ToolDefinitionError(f"tool {tool_name!r}: cannot resolve type hints: {exc}") from exc
        doc = docstring_parser.parse(inspect.getdoc(function) or "", style=docstring_parser.DocstringStyle.GOOGLE)
        param_docs = {p.arg_name: " ".join((p.description or "").split()) for p in doc.params}
        params: list[Parameter] = []
        for p in signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                star = "*" if p.kind is p.VAR_POSITIONAL else "**"
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: {star}{p.name} is not supported: a plan calls tools with named, typed "
                    "parameters; use a list or dict parameter instead"
                )
            if p.kind is p.POSITIONAL_ONLY:
                raise ToolDefinitionError(f"tool {tool_name!r}: positional-only parameter {p.name!r} is not supported")
            if p.name not in hints:
                raise ToolDefinitionError(
                    f"tool {tool_name!r}: parameter {p.name!r} has no type hint; tinyplan validates arguments "
                    "from type hints, so every parameter needs one"
                )
            required = p.default is inspect.Parameter.empty
            params.append(
                Parameter(
                    name=p.name,
                    annotation=hints[p.name],
                    required=required,
                    default=None if required else p.default,
                    description=param_docs.get(p.name, ""),
                )
            )
        if description is None:
            parts = [doc.short_description or "", doc.long_description or ""]
            description = "\n".join(x.strip() for x in parts if x and x.strip())
            if doc.returns and doc.returns.description:
                description += ("\n" if description else "") + "Returns " + " ".join(doc.returns.description.split())
        returns = _type_name(hints["return"]) if "return" in hints else "Any"
        return cls(
            name=tool_name,
            description=description.strip(),
            function=function,
            parameters=tuple(params),
            returns=returns,
            timeout=timeout,
            side_effects=side_effects,
        )

    @classmethod
    def from_schema(
        cls,
        schema: Mapping[str, Any],
        function: Callable[..., Any] | None = None,
        *,
        timeout: float | None = None,
        side_effects: bool = False,
    ) -> Tool:
        """Build a tool from an OpenAI function schema (``{"name", "description", "parameters"}``).

        Either the bare function object or the ``{"type": "function", "function": {...}}`` wrapper is accepted.
        Parameter types map from JSON Schema (string, integer, number, boolean, array, object, enum, null) to Python
        types for validation. Without ``function`` the tool echoes its validated arguments as a dict (a stand-in
        used by the evaluation harness).

        Raises:
            ToolDefinitionError: The schema is not an object with a valid name.
        """
        if schema.get("type") == "function" and isinstance(schema.get("function"), Mapping):
            schema = schema["function"]
        if not isinstance(schema, Mapping):
            raise ToolDefinitionError(f"a tool schema must be a mapping, not {type(schema).__name__}")
        name = schema.get("name")
        if not isinstance(name, str):
            raise ToolDefinitionError(f"tool schema without a name: {schema!r:.200}")
        spec = schema.get("parameters") or {}
        if not isinstance(spec, Mapping):
            raise ToolDefinitionError(f"tool {name!r}: 'parameters' must be a JSON Schema object")
        props = spec.get("properties")
        props = {} if props is None else props
        if not isinstance(props, Mapping):
            raise ToolDefinitionError(f"tool {name!r}: 'parameters.properties' must be an object")
        required_list = spec.get("required")
        required_list = [] if required_list is None else required_list
        if not isinstance(required_list, list) or not all(isinstance(r, str) for r in required_list):
            raise ToolDefinitionError(f"tool {name!r}: 'parameters.required' must be a list of names")
        required = set(required_list)
        params = tuple(
            Parameter(
                name=pname,
                annotation=_json_schema_type(pschema) if pname in required else _json_schema_type(pschema) | None,
                required=pname in required,
                default=pschema.get("default") if isinstance(pschema, Mapping) else None,
                description=str(pschema.get("description", "")) if isinstance(pschema, Mapping) else "",
            )
            for pname, pschema in props.items()
        )
        if function is None:

            def echo(**kwargs: Any) -> dict[str, Any]:
                return {"tool": name, "arguments": kwargs}

            function = echo
        tool_ = cls(
            name=name,
            description=str(schema.get("description", "")),
            function=function,
            parameters=params,
            returns="Any",
            timeout=timeout,
            side_effects=side_effects,
        )
        tool_._schema_override = copy.deepcopy(dict(spec)) if spec else None
        return tool_

    # ------------------------------------------------------------------------------------------------- schemas
    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments (an ``object`` with ``properties`` and ``required``)."""
        if self._schema_override is not None:
            return copy.deepcopy(self._schema_override)
        schema = self._model.model_json_schema(by_alias=True)
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        return schema

    def openai_schema(self) -> dict[str, Any]:
        """The tool in OpenAI's tool format: ``{"type": "function", "function": {name, description, parameters}}``."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.json_schema()},
        }

    def signature(self) -> str:
        """The signature line for the planner prompt, e.g. ``send_sms(recipients: list[str], message: str) -> str``."""
        parts = []
        for p in self.parameters:
            text = f"{p.name}: {_type_name(p.annotation)}"
            if not p.required:
                text += f" = {p.default!r}"
            parts.append(text)
        return f"{self.name}({', '.join(parts)}) -> {self.returns}"

    # ------------------------------------------------------------------------------------------------- calling
    def validate(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Bind positional and keyword arguments to parameters and validate them with pydantic.

        Returns:
            The validated arguments by parameter name (defaults filled in).

        Raises:
            ToolArgumentError: Too many positional arguments, an unknown or repeated keyword, a missing required
                argument, or a value of the wrong type. The message is written for the model to read.
        """
        bound = self.bind(args, kwargs)
        try:
            model = self._model.model_validate(bound)
        except pydantic.ValidationError as exc:
            raise ToolArgumentError(self._problems(exc.errors())) from None
        return {p.name: getattr(model, f) for p, f in zip(self.parameters, self._fields, strict=True)}

    def check(self, args: Sequence[Any], kwargs: Mapping[str, Any], *, defer: Callable[[Any], bool]) -> None:
        """Check a call before its values are known: like `validate`, but values for which ``defer(value)`` is true
        (e.g. ones holding a ``$N`` reference) are only bound, not type-checked.

        Used to judge a plan statically (the evaluation harness's validation rate) without running it.

        Raises:
            ToolArgumentError: As `validate`, for everything but the deferred values' types.
        """
        bound = self.bind(args, kwargs)
        try:
            self._model.model_validate(bound)
        except pydantic.ValidationError as exc:
            errors = [e for e in exc.errors() if not (e["loc"] and e["loc"][0] in bound and defer(bound[e["loc"][0]]))]
            if errors:
                raise ToolArgumentError(self._problems(errors)) from None

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Map positional and keyword arguments to parameter names, without validating the values.

        Raises:
            ToolArgumentError: Too many positional arguments, or a parameter given twice.
        """
        if len(args) > len(self.parameters):
            raise ToolArgumentError(
                f"{self.name}() takes {len(self.parameters)} argument(s) but {len(args)} were given; "
                f"signature: {self.signature()}"
            )
        bound: dict[str, Any] = {}
        for p, value in zip(self.parameters, args, strict=False):
            bound[p.name] = value
        for key, value in kwargs.items():
            if key in bound:
                raise ToolArgumentError(f"{self.name}() got multiple values for argument {key!r}")
            bound[key] = value
        return bound

    def _problems(self, errors: Sequence[Any]) -> str:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc']) or 'arguments'}: {err['msg']}" for err in errors)
        return f"invalid arguments for {self.signature()}: {problems}"

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function (runs on the event loop; sync ones run in a thread)."""
        return self._is_async

    async def call(self, arguments: Mapping[str, Any]) -> Any:
        """Call the function with validated arguments: async tools on the loop, sync tools in a worker thread.

        A sync tool that hangs cannot be interrupted (Python threads cannot be killed): on timeout or cancellation
        its thread is abandoned and finishes on its own.
        """
        if self._is_async:
            return await self.function(**arguments)
        result = await anyio.to_thread.run_sync(functools.partial(self.function, **arguments), abandon_on_cancel=True)
        if inspect.isawaitable(result):  # a sync wrapper that returns a coroutine
            result = await result
        return result

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the original function directly, bypassing validation."""
        return self.function(*args, **kwargs)


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(type(fn), "__call__", None)  # noqa: B004  (an object whose __call__ is async)
    return call is not None and inspect.iscoroutinefunction(call)


def _json_schema_type(schema: Any) -> Any:
    """Map a JSON Schema fragment to a Python type pydantic can validate with."""
    if not isinstance(schema, Mapping):
        return Any
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        values = tuple(v for v in schema["enum"] if isinstance(v, (str, int, float, bool)) or v is None)
        if values:
            return Literal[values]  # type: ignore[valid-type]
    kind = schema.get("type")
    if isinstance(kind, list):
        members = [_json_schema_type({**schema, "type": k}) for k in kind]
        result: Any = members[0]
        for m in members[1:]:
            result = result | m
        return result
    if kind in ("string", "str"):
        return str
    if kind in ("integer", "int"):
        return int
    if kind in ("number", "float"):
        return float
    if kind in ("boolean", "bool"):
        return bool
    if kind == "null":
        return type(None)
    if kind in ("array", "list", "tuple"):
        return list[_json_schema_type(schema.get("items"))]  # type: ignore[misc]
    if kind in ("object", "dict"):
        return dict[str, Any]
    return Any


def _type_name(annotation: Any) -> str:
    """A short, model-friendly name of a type: ``str``, ``list[str]``, ``int | None``."""
    if annotation is type(None) or annotation is None:
        return "None"
    if annotation is Any:
        return "Any"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is Literal:
        return "Literal[" + ", ".join(repr(a) for a in typing.get_args(annotation)) + "]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = typing.get_args(annotation)
        base = getattr(origin, "__name__", str(origin))
        return f"{base}[{', '.join(_type_name(a) for a in args)}]" if args else base
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


# ------------------------------------------------------------------------------------------------------- decorator
@overload
def tool(function: F, /) -> F: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    side_effects: bool = False,
) -> Callable[[F], F]: ...
def tool(
    function: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    side_effects: bool = False,
) -> F | Callable[[F], F]:
    """Declare a function as a tool, bare (``@tool``) or called (``@tool(name=..., side_effects=True)``).

    The function is returned unchanged and stays callable as before; its `Tool` is attached and found with
    `get_tool`. (Style from pydantic-ai's ``@agent.tool``.)

    Args:
        function: The function, when used bare.
        name: The name plans call it by (default: the function name).
        description: Overrides the docstring.
        timeout: Seconds a call may take before it is stopped with an error observation.
        side_effects: The call changes the world: ask for approval, never repeat it in a replan.

    Raises:
        ToolDefinitionError: At decoration time, for ``*args``, ``**kwargs``, untyped parameters or a bad name.
    """

    def decorate(fn: F) -> F:
        built = Tool.from_function(fn, name=name, description=description, timeout=timeout, side_effects=side_effects)
        try:
            setattr(fn, _ATTRIBUTE, built)
        except (AttributeError, TypeError) as exc:
            raise ToolDefinitionError(f"cannot attach tool metadata to {fn!r}: {exc}") from exc
        return fn

    if function is not None:
        return decorate(function)
    return decorate


def get_tool(obj: Any) -> Tool:
    """The `Tool` of a function decorated with `@tool` (or a `Tool` itself).

    Raises:
        ToolDefinitionError: ``obj`` is neither a tool nor a decorated function.
    """
    if isinstance(obj, Tool):
        return obj
    found = getattr(obj, _ATTRIBUTE, None)
    if isinstance(found, Tool):
        return found
    raise ToolDefinitionError(f"{obj!r} is not a tool: decorate it with @tinyplan.tool")


# --------------------------------------------------------------------------------------------------------- toolset
ToolLike = Tool | Callable[..., Any]


class Toolset:
    """A registry of tools by name, with optional planner guidance and in-context example plans.

    Args:
        tools: Tools or `@tool`-decorated functions (plain functions are turned into tools with defaults).
        instructions: Extra rules for the planner prompt (e.g. "look up an email address before composing").
        examples: In-context example plans: texts in the form ``Question: ...`` followed by a plan.

    Raises:
        ToolsetError: A duplicate, reserved or invalid name.
    """

    def __init__(
        self,
        tools: Iterable[ToolLike] = (),
        *,
        instructions: Sequence[str] = (),
        examples: Sequence[str] = (),
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self.instructions: list[str] = list(instructions)
        self.examples: list[str] = list(examples)
        for t in tools:
            self.add(t)

    def add(self, obj: ToolLike) -> Tool:
        """Add a tool (or decorated/plain function) and return its `Tool`.

        Raises:
            ToolsetError: The name is taken, reserved or invalid.
        """
        try:
            built = get_tool(obj)
        except ToolDefinitionError:
            if not callable(obj):
                raise ToolsetError(f"{obj!r} is not a tool or a function") from None
            _check_name(getattr(obj, "__name__", ""))
            built = Tool.from_function(obj)
        _check_name(built.name)
        if built.name in self._tools:
            raise ToolsetError(f"duplicate tool name {built.name!r}")
        self._tools[built.name] = built
        return built

    def subset(self, names: Iterable[str]) -> Toolset:
        """A new toolset with only the named tools (in this toolset's order), same instructions and examples.

        Raises:
            ToolsetError: A name is not in this toolset.
        """
        wanted = set(names)
        unknown = sorted(wanted - self._tools.keys())
        if unknown:
            raise ToolsetError(f"not in the toolset: {unknown}; tools: {self.names}")
        sub = Toolset(instructions=self.instructions, examples=self.examples)
        sub._tools = {n: t for n, t in self._tools.items() if n in wanted}
        return sub

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def get(self, name: str) -> Tool | None:
        """The tool named ``name``, or None."""
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        """Tool names in registration order."""
        return list(self._tools)

    def openai_schemas(self) -> list[dict[str, Any]]:
        """All tools in OpenAI's tool format."""
        return [t.openai_schema() for t in self._tools.values()]

    def __repr__(self) -> str:
        return f"Toolset({self.names!r})"


def as_toolset(tools: Toolset | Iterable[ToolLike] | None) -> Toolset:
    """Coerce a toolset or an iterable of tools/functions into a `Toolset`."""
    if tools is None:
        return Toolset()
    if isinstance(tools, Toolset):
        return tools
    return Toolset(tools)


def canonical_arguments(name: str, arguments: Mapping[str, Any]) -> str:
    """A stable text key for a call (tool name + validated arguments), used to recognise repeated side effects."""
    return name + json.dumps(arguments, sort_keys=True, default=repr)


AsyncFn = Callable[..., Awaitable[Any]]
