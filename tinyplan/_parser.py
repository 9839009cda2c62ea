"""The streaming LLMCompiler plan parser: text chunks in, `Task` objects out, the moment each call closes.

Plan syntax (LLMCompiler, Kim et al. 2023; TinyAgent, Erdogan et al. 2024)::

    Thought: optional reasoning, attached to the next action
    1. get_phone_number("Sid")
    2. get_phone_number("Lutfi")
    3. send_sms(["$1", "$2"], "The meeting moved to 3pm")
    4. join()<END_OF_PLAN>

Rules (also in docs/plan-syntax.md):

* An action is ``N. tool(args)``; ``N`` strictly increases. A call may span lines while brackets are open.
  It is emitted as soon as its closing parenthesis is read. After it, the line may hold only ``<END_OF_PLAN>``.
* Arguments are Python literals (strings, numbers, True/False/None, lists, tuples, dicts; JSON's true/false/null too),
  positional then keyword. They are read with `ast` and converted node by node: nothing is evaluated.
* References to task outputs:
    - a string that is exactly ``"$N"`` or ``"${N}"`` (optionally with a path ``.key``, ``[0]``, ``["key"]``) passes
      task N's output as the Python object;
    - ``$N`` unquoted (``send_sms([$1], ...)``), with the same paths, does the same;
    - ``${N}`` inside a longer string is replaced by the output's text;
    - ``$N`` inside a longer string is a reference only when N is an earlier task of this plan and it is not followed
      by ``.`` + digit or ``,`` + digit, so ``"costs $5.00"``/``"$1,000"`` stay prose.
* Exact and unquoted references (and ``${N}``) must name an earlier task, else `PlanParseError`.
* ``join()`` takes no arguments and depends on every earlier task; anything after it but ``<END_OF_PLAN>``, blank
  lines and code fences is an error. Lines of markdown code fences (```` ``` ````) are ignored; any other text is an
  error.
"""

from __future__ import annotations

import ast
import json
import math
import re
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tinyplan._errors import PlanParseError, UnknownToolError
from tinyplan._syntax import ACTION_HEAD, END_OF_PLAN, JOIN
from tinyplan._types import Interpolated, Ref, Task

__all__ = ["END_OF_PLAN", "Interpolated", "PlanParser", "Ref", "Task", "parse_plan", "references_in"]


_THOUGHT = re.compile(r"[ \t]*Thought[ \t]*:(.*)$", re.DOTALL)
_FENCE = re.compile(r"[ \t]*```[A-Za-z0-9_-]*[ \t]*$")
_PATH = r"(?:\.[A-Za-z_][A-Za-z0-9_]*|\[-?[0-9]+\]|\[\"[^\"\]]*\"\]|\['[^'\]]*'\])*"
_EXACT_REF = re.compile(r"\$(?:\{([0-9]+)\}|([0-9]+))(" + _PATH + r")")
_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(-?[0-9]+)\]|\[\"([^\"\]]*)\"\]|\['([^'\]]*)'\]")
# inside prose: ${N} always, $N unless it looks like money ($5.00, $1,000)
_PROSE_REF = re.compile(r"\$\{([0-9]+)\}|\$([0-9]+)(?![0-9])(?![.,][0-9])")
_PLACEHOLDER_PREFIX = "__tinyplan_ref_"
_PLACEHOLDER = _PLACEHOLDER_PREFIX + "{}__"
_DOLLAR_REF = re.compile(r"\$(?:\{([0-9]+)\}|([0-9]+))")
_REF_PREFIX = re.compile(r"\$(?:\{[0-9]*)?")  # what may still grow into ${N} at the end of the buffer
_PLACEHOLDER_RE = re.compile(r"^__tinyplan_ref_([0-9]+)__$")
_CLOSER = {"(": ")", "[": "]", "{": "}"}
_UNKNOWN = "unknown tool"  # _head_problem's marker for an unknown tool name (raised as UnknownToolError)
_SPECIAL = frozenset("\"'$()[]{}#\n")
_PLAIN_RUN = re.compile(r"[^\"'$()\[\]{}#\n]+")
# runs of characters that cannot end (or escape inside) a string: keyed by (quote, triple)
_STRING_RUN = {
    ('"', False): re.compile(r'[^"\\\n]+'),
    ("'", False): re.compile(r"[^'\\\n]+"),
    ('"', True): re.compile(r'[^"\\]+'),
    ("'", True): re.compile(r"[^'\\]+"),
}


def references_in(value: Any) -> set[int]:
    """Task numbers referenced anywhere inside an argument value."""
    found: set[int] = set()

    def walk(v: Any) -> None:
        if isinstance(v, Ref):
            found.add(v.task)
        elif isinstance(v, Interpolated):
            for part in v.parts:
                walk(part)
        elif isinstance(v, (list, tuple, set, frozenset)):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)

    walk(value)
    return found


class _Scan:
    """Resumable scanner over a call's argument text: tracks strings and bracket depth to find the closing paren.

    Also rewrites unquoted ``$N``/``${N}`` (outside strings) to placeholder identifiers for `ast`.
    """

    __slots__ = ("escape", "out", "pos", "quote", "run", "stack", "triple")

    def __init__(self) -> None:
        self.pos = 0  # next index to read in the text after "("
        self.stack = [")"]  # closing brackets expected, innermost last; the first is the call's own ")"
        self.quote = ""  # current string delimiter char, "" outside strings
        self.triple = False
        self.escape = False
        self.run = 0  # consecutive closing quotes seen inside a triple-quoted string
        self.out: list[str] = []  # rewritten argument text (without the final ")")


@dataclass
class _Pending:
    idx: int
    name: str
    line_no: int
    head: str  # text from line start up to and including "("
    scan: _Scan


class PlanParser:
    """Incremental parser of LLMCompiler plans.

    ``feed`` returns each task the moment its call closes; the same text split into any chunks yields the same tasks
    and the same error. Unknown tools are rejected when ``tools`` is given.

    Args:
        tools: Names the plan may call (a `Toolset` works: anything supporting ``in``). None accepts any name.

    Attributes:
        tasks: Every task emitted so far, in order.
        error: The `PlanParseError` met so far, or None (it is raised by every call after it was met).
        done: True once ``join()`` has been read.
        text: All text fed so far.
    """

    def __init__(self, tools: Collection[str] | None = None) -> None:
        self._tools = tools
        self._reset()

    def _reset(self) -> None:
        self._buf = ""  # text not yet consumed
        self._line_no = 1  # line number of the start of _buf
        self._pending: _Pending | None = None
        self._after_action = False  # consuming the rest of the line after a closed call
        self._thought: list[str] = []
        self._seen_end = False
        self.tasks: list[Task] = []
        self.done = False
        self.text = ""
        self._indices: set[int] = set()
        self._error: PlanParseError | None = None
        self._closed = False

    # --------------------------------------------------------------------------------------------------- public
    @property
    def error(self) -> PlanParseError | None:
        """The error met so far, or None."""
        return self._error

    def rewind(self, text: str) -> list[Task]:
        """Start again from ``text``: afterwards the parser is as if only ``text`` had been fed.

        The planner uses it to cut a plan back to the start of a line that failed a check, and to write that line
        again (``text`` is then the plan before the line, plus a ``Thought:`` line saying what to do instead).

        Returns:
            The tasks ``text`` completes (all of them, from the first).

        Raises:
            PlanParseError: ``text`` is not a valid plan prefix.
        """
        self._reset()
        return self.feed(text)

    def feed(self, chunk: str) -> list[Task]:
        """Add text; return the tasks completed by it (possibly none).

        If the text completes some tasks and then turns out invalid, those tasks are returned and the error is
        raised by the next `feed` or `close`: no task is ever lost, and every task is returned exactly once.

        Raises:
            PlanParseError: The text so far is not a valid plan prefix (the error stays: every later call raises it).
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            raise PlanParseError("text fed after close(): the plan was already complete", line_no=self._line_no)
        self.text += chunk
        self._buf += chunk
        out: list[Task] = []
        try:
            while self._step(out, final=False):
                pass
        except PlanParseError as exc:
            self._error = exc  # a parser that failed stays failed: every later call raises the same error
            if not out:
                raise
        return out

    def close(self) -> list[Task]:
        """Flush the end of the text; return the last tasks.

        Calling it again returns no tasks. A missing ``join()`` is not an error here: check `done`. If the last
        text completes a task and then fails, the error is raised and the task is found in `tasks`.

        Raises:
            PlanParseError: The text ends inside a call (a line that does not close), or any error of the last line.
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            return []
        out: list[Task] = []
        try:
            while self._step(out, final=True):
                pass
            if self._pending is not None:
                p = self._pending
                raise PlanParseError(
                    "the call does not close (missing ')' or an unterminated string)",
                    line_no=p.line_no,
                    line=p.head + self._buf,
                )
        except PlanParseError as exc:
            self._error = exc
            raise
        self._closed = True
        return out

    # ---------------------------------------------------------------------------------------------- internals
    def _fail(self, reason: str, line: str, line_no: int | None = None) -> PlanParseError:
        return PlanParseError(reason, line_no=self._line_no if line_no is None else line_no, line=line)

    def _consume(self, n: int) -> str:
        taken, self._buf = self._buf[:n], self._buf[n:]
        self._line_no += taken.count("\n")
        return taken

    def _step(self, out: list[Task], *, final: bool) -> bool:
        """Make one unit of progress; return False when more text is needed."""
        if self._pending is not None:
            return self._continue_call(out, final=final)
        if self._after_action:
            return self._rest_of_line(final=final)
        if not self._buf:
            return False
        nl = self._buf.find("\n")
        line = self._buf if nl < 0 else self._buf[:nl]
        complete = nl >= 0 or final
        head = ACTION_HEAD.match(line)
        if head:
            problem = self._head_problem(head)
            if problem is None:
                self._start_call(head)
                return True
            if not complete:
                return False  # report the whole line, whatever the chunking
            if problem == _UNKNOWN:
                raise UnknownToolError(head.group(2), line_no=self._line_no, line=line)
            raise self._fail(problem, line)
        if not complete:
            return False  # wait for the end of the line (errors never depend on chunking)
        # a complete non-action line
        self._classify_line(line)
        self._consume(len(line) + (1 if nl >= 0 else 0))
        return True

    def _classify_line(self, line: str) -> None:
        stripped = line.strip()
        if not stripped:
            return
        if self.done or self._seen_end:
            if stripped == END_OF_PLAN:
                self._seen_end = True
                return
            if _FENCE.match(line):
                return  # the closing fence of a plan written as a markdown code block
            raise self._fail("text after join(): the plan must end with join()", line)
        thought = _THOUGHT.match(line)
        if thought:
            self._thought.append(thought.group(1).strip())
            return
        if stripped == END_OF_PLAN:
            raise self._fail("<END_OF_PLAN> before join(): the plan must end with join()", line)
        if _FENCE.match(line):
            return
        raise self._fail("not a plan line (expected 'N. tool(...)' or 'Thought: ...')", line)

    def _head_problem(self, head: re.Match[str]) -> str | None:
        """What is wrong with an action's ``N. name(`` head, or None."""
        idx, name = int(head.group(1)), head.group(2)
        if self.done or self._seen_end:
            return "text after join(): the plan must end with join()"
        if idx in self._indices:
            return f"duplicate task index {idx}"
        if self.tasks and idx <= self.tasks[-1].idx:
            return f"task index {idx} does not increase (previous: {self.tasks[-1].idx})"
        if idx < 1:
            return "task indices start at 1"
        if name != JOIN and self._tools is not None and name not in self._tools:
            return _UNKNOWN
        return None

    def _start_call(self, head: re.Match[str]) -> None:
        idx, name = int(head.group(1)), head.group(2)
        text = self._consume(head.end())
        self._pending = _Pending(idx=idx, name=name, line_no=self._line_no - text.count("\n"), head=text, scan=_Scan())

    def _continue_call(self, out: list[Task], *, final: bool) -> bool:  # noqa: C901 -- the hot loop: one flat scanner
        p = self._pending
        assert p is not None
        s = p.scan
        buf = self._buf
        n = len(buf)
        i = s.pos
        while i < n:
            c = buf[i]
            if s.quote:
                if not s.escape:  # copy a run of ordinary string characters at once
                    m = _STRING_RUN[s.quote, s.triple].match(buf, i)
                    if m is not None:
                        s.out.append(m.group())
                        s.run = 0
                        i = m.end()
                        continue
                s.out.append(c)
                if s.escape:
                    s.escape = False
                    s.run = 0
                elif c == "\\":
                    s.escape = True
                    s.run = 0
                elif c == s.quote:
                    s.run += 1
                    if not s.triple or s.run == 3:
                        s.quote = ""
                        s.run = 0
                else:
                    s.run = 0
                    if c == "\n" and not s.triple:
                        raise PlanParseError(
                            "the line does not close: unterminated string", line_no=p.line_no, line=p.head + buf[:i]
                        )
                i += 1
                continue
            if c not in _SPECIAL:  # copy a run of ordinary characters outside strings at once
                m = _PLAIN_RUN.match(buf, i)
                assert m is not None
                s.out.append(m.group())
                i = m.end()
                continue
            if c in "\"'":
                ahead = buf[i : i + 3]
                if len(ahead) < 3 and ahead == c * len(ahead) and not final:
                    break  # wait: this may open a triple-quoted string
                s.quote = c
                s.triple = ahead == c * 3
                s.run = 0
                s.out.append(ahead if s.triple else c)
                i += 3 if s.triple else 1
                continue
            if c == "$":
                m = _DOLLAR_REF.match(buf, i)
                if m is None:
                    if not final and _REF_PREFIX.fullmatch(buf, i):
                        break  # "$" or "${12" at the end of the text so far: wait for the rest
                    s.out.append(c)  # not a reference: ast rejects it with a clear message
                    i += 1
                    continue
                if m.group(2) is not None and m.end() >= n and not final:
                    break  # "$12" at the end of the text so far: the number may go on
                s.out.append(_PLACEHOLDER.format(m.group(1) or m.group(2)))
                i = m.end()
                continue
            if c in "([{":
                s.stack.append(_CLOSER[c])
            elif c in ")]}":
                expected = s.stack.pop()
                if c != expected:
                    raise PlanParseError(
                        f"mismatched bracket: {c!r} where {expected!r} was expected",
                        line_no=p.line_no,
                        line=p.head + buf[: i + 1],
                    )
                if not s.stack:
                    self._finish_call(out, i)
                    return True
            elif c == "#":
                raise PlanParseError(
                    "comments (#) are not allowed inside a call", line_no=p.line_no, line=p.head + buf[: i + 1]
                )
            elif c == "\n":
                # implicit line joining inside brackets, unless the next line starts a new action or thought
                rest = buf[i + 1 :]
                nl = rest.find("\n")
                if nl < 0 and not final:
                    break
                nxt = rest if nl < 0 else rest[:nl]
                if ACTION_HEAD.match(nxt) or _THOUGHT.match(nxt) or nxt.strip() == END_OF_PLAN:
                    raise PlanParseError(
                        "the line does not close (missing ')')", line_no=p.line_no, line=p.head + buf[:i]
                    )
            s.out.append(c)
            i += 1
        s.pos = i
        return False

    def _finish_call(self, out: list[Task], close_at: int) -> None:
        p = self._pending
        assert p is not None
        raw_args = self._buf[:close_at]
        text = (p.head + raw_args + ")").strip()
        line_text = p.head + raw_args + ")"
        arg_text = "".join(p.scan.out)
        self._consume(close_at + 1)
        self._pending = None
        self._after_action = True
        call_text = text[text.index(".") + 1 :].strip()
        if _PLACEHOLDER_PREFIX in raw_args:
            raise PlanParseError(f"{_PLACEHOLDER_PREFIX!r} is a reserved name", line_no=p.line_no, line=line_text)
        args, kwargs = _parse_arguments(arg_text, p, line_text)
        earlier = self._indices
        if p.name == JOIN:
            if args or kwargs:
                raise PlanParseError("join() takes no arguments", line_no=p.line_no, line=line_text)
            deps: tuple[int, ...] = tuple(t.idx for t in self.tasks)
        else:
            args = tuple(_resolve_strings(a, p, line_text, earlier) for a in args)
            kwargs = {k: _resolve_strings(v, p, line_text, earlier) for k, v in kwargs.items()}
            refs = references_in(args) | references_in(kwargs)
            for r in sorted(refs):
                if r not in earlier:
                    what = "a later task" if r >= p.idx else "a task that does not exist"
                    raise PlanParseError(
                        f"${r} refers to {what}: only outputs of earlier tasks can be used",
                        line_no=p.line_no,
                        line=line_text,
                    )
            deps = tuple(sorted(refs))
        thought = " ".join(t for t in self._thought if t) or None
        self._thought = []
        task = Task(
            idx=p.idx,
            name=p.name,
            args=args,
            kwargs=kwargs,
            dependencies=deps,
            thought=thought,
            line_no=p.line_no,
            text=call_text,
        )
        self._indices.add(p.idx)
        self.tasks.append(task)
        if task.is_join:
            self.done = True
        out.append(task)

    def _rest_of_line(self, *, final: bool) -> bool:
        nl = self._buf.find("\n")
        rest = self._buf if nl < 0 else self._buf[:nl]
        stripped = rest.strip()
        if nl < 0 and not final:
            return False
        if stripped == END_OF_PLAN:
            if not self.done:
                raise self._fail("<END_OF_PLAN> before join(): the plan must end with join()", rest)
            self._seen_end = True
        elif stripped:
            raise self._fail("unexpected text after the call", self.tasks[-1].text + rest)
        self._consume(len(rest) + (1 if nl >= 0 else 0))
        self._after_action = False
        return True


def _parse_arguments(arg_text: str, p: _Pending, line: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    source = "f(" + arg_text + ")"
    try:
        if "\\" in arg_text:
            # An unknown escape such as "C:\data" keeps its backslash, whatever the warning filters say (Python
            # warns about it, and `-W error` would otherwise turn the plan into a parse error).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                tree = ast.parse(source, mode="eval")
        else:
            tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        hint = ""
        if "$" in arg_text:
            hint = " (a reference is written $N or ${N} with N a task number)"
        raise PlanParseError(
            f"arguments are not valid literals: {exc.msg}{hint}", line_no=p.line_no, line=line
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. an integer literal beyond 4300 digits
        raise PlanParseError(f"arguments are not valid literals: {exc}", line_no=p.line_no, line=line) from None
    call = tree.body
    assert isinstance(call, ast.Call)
    args: list[Any] = []
    for node in call.args:
        if isinstance(node, ast.Starred):
            raise PlanParseError("*arguments are not allowed", line_no=p.line_no, line=line)
        args.append(_literal(node, p, line))
    kwargs: dict[str, Any] = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise PlanParseError("**arguments are not allowed", line_no=p.line_no, line=line)
        if kw.arg in kwargs:
            raise PlanParseError(f"keyword argument {kw.arg!r} repeated", line_no=p.line_no, line=line)
        kwargs[kw.arg] = _literal(kw.value, p, line)
    return tuple(args), kwargs


_NAMED_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None, "none": None}


def _literal(node: ast.AST, p: _Pending, line: str) -> Any:
    """Convert an AST node holding a literal; references become `Ref`. Never evaluates anything."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, int, float, bool, type(None))):
            return node.value
        raise PlanParseError(f"unsupported literal {ast.unparse(node)!r}", line_no=p.line_no, line=line)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal(node.operand, p, line)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_literal(e, p, line) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                raise PlanParseError("**mapping inside a dict is not allowed", line_no=p.line_no, line=line)
            key = _literal(k, p, line)
            if not isinstance(key, (str, int, float, bool, type(None))):
                raise PlanParseError("dict keys must be plain literals", line_no=p.line_no, line=line)
            out[key] = _literal(v, p, line)
        return out
    ref = _ref_from_node(node)
    if ref is not None:
        return ref
    if isinstance(node, ast.Name) and node.id.lower() in _NAMED_CONSTANTS:
        return _NAMED_CONSTANTS[node.id.lower()]
    shown = ast.unparse(node)
    shown = re.sub(r"__tinyplan_ref_(\d+)__", r"$\1", shown)
    raise PlanParseError(
        f"{shown!r} is not a literal: arguments must be strings, numbers, booleans, None, lists, dicts or $N "
        "references (put text in quotes)",
        line_no=p.line_no,
        line=line,
    )


def _ref_from_node(node: ast.AST) -> Ref | None:
    path: list[str | int] = []
    while True:
        if isinstance(node, ast.Attribute):
            path.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript) and (key := _index_of(node.slice)) is not None:
            path.append(key)
            node = node.value
        else:
            break
    if isinstance(node, ast.Name):
        m = _PLACEHOLDER_RE.match(node.id)
        if m:
            return Ref(int(m.group(1)), tuple(reversed(path)))
    return None


def _index_of(node: ast.expr) -> str | int | None:
    """The key of a ``[...]`` path step: a string, an int or a negative int literal; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)) and not isinstance(node.value, bool):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def _path_from_text(text: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for m in _PATH_PART.finditer(text):
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
        else:
            parts.append(m.group(3) if m.group(3) is not None else m.group(4))
    return tuple(parts)


def _resolve_strings(value: Any, p: _Pending, line: str, earlier: Collection[int]) -> Any:
    """Turn strings holding references into `Ref` (exact) or `Interpolated` (inside prose), recursively."""
    if isinstance(value, str):
        exact = _EXACT_REF.fullmatch(value.strip())
        if exact:
            return Ref(int(exact.group(1) or exact.group(2)), _path_from_text(exact.group(3)))
        parts: list[str | Ref] = []
        last = 0
        for m in _PROSE_REF.finditer(value):
            n = int(m.group(1) or m.group(2))
            if m.group(2) is not None and n not in earlier:
                continue  # "$7" in prose that is not a task reference: leave as text
            if m.start() > last:
                parts.append(value[last : m.start()])
            parts.append(Ref(n))
            last = m.end()
        if not parts:
            return value
        if last < len(value):
            parts.append(value[last:])
        return Interpolated(tuple(parts))
    if isinstance(value, list):
        return [_resolve_strings(v, p, line, earlier) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve_strings(v, p, line, earlier) for v in value)
    if isinstance(value, dict):
        return {k: _resolve_strings(v, p, line, earlier) for k, v in value.items()}
    return value


def plan_literal(
    value: Any,
    *,
    quote_refs: bool = False,
    max_chars: int | None = None,
    default: Callable[[Any], Any] | None = None,
) -> str:
    """Write ``value`` as a literal of the plan syntax (what `PlanParser` reads back), recursively.

    Strings are double-quoted (JSON escapes); None and booleans as Python writes them; a `Ref` as ``$N...`` (quoted
    with ``quote_refs``) and an `Interpolated` string with its references in place. ``max_chars`` cuts longer
    strings with "…". Other values are written as ``repr`` writes them, or, with ``default``, as the literal of
    what ``default`` turns them into (it must return JSON-compatible data).
    """

    def lit(v: Any) -> str:
        if isinstance(v, Ref):
            return json.dumps(str(v)) if quote_refs else str(v)
        if isinstance(v, Interpolated):
            return lit("".join(str(p) if isinstance(p, Ref) else p for p in v.parts))
        if isinstance(v, bool) or v is None:
            return repr(v)
        if isinstance(v, str):
            if max_chars is not None and len(v) > max_chars:
                v = v[: max_chars - 1] + "…"
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, (int, float)):
            return repr(v) if math.isfinite(v) else f'"{v}"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(lit(x) for x in v) + "]"
        if isinstance(v, Mapping):
            return "{" + ", ".join(f"{lit(k)}: {lit(x)}" for k, x in v.items()) + "}"
        return repr(v) if default is None else lit(default(v))

    return lit(value)


def parse_plan(text: str, tools: Collection[str] | None = None) -> list[Task]:
    """Parse a whole plan text at once (the same result as feeding it in any chunks).

    Raises:
        PlanParseError: The text is not a valid plan.
    """
    parser = PlanParser(tools)
    tasks = parser.feed(text)
    tasks += parser.close()
    return tasks


def iter_tasks(chunks: Iterable[str], tools: Collection[str] | None = None) -> Iterable[Task]:
    """Parse a plan from an iterable of text chunks, yielding tasks as they complete."""
    parser = PlanParser(tools)
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()
