"""Whole-plan grammars: a GBNF grammar for a complete LLMCompiler plan, generated from the tools in the prompt.

llama.cpp constrains sampling with GBNF grammars (``grammars/README.md`` in llama.cpp); its own tool-call support
constrains one call at a time. `plan_grammar` writes one grammar for the *whole plan*: optional ``Thought:`` lines,
numbered actions ``N. tool(args)`` that call only the tools of this prompt, and the final ``join()`` with an optional
``<END_OF_PLAN>``, in the exact line shape `tinyplan.PlanParser` reads (LLMCompiler, Kim et al. 2023; TinyAgent,
Erdogan et al. 2024).

Two levels:

``"syntax"``
    Tool names and line shape. Arguments are any literals the parser reads (strings in either quote style, numbers,
    booleans, None/null, lists, dicts, ``$N`` references), positional then keyword, keywords limited to the tool's
    parameter names. Every plan the grammar allows parses; argument counts and types are left to validation.
``"typed"``
    Also the arguments: per tool, its parameters in order, each positionally or as ``name=value``; optional trailing
    parameters may be left out; each value is shaped by the parameter's JSON Schema (string, integer, number, boolean,
    null, enum/const, arrays, tuples, objects, anyOf/oneOf, local ``$ref``). A ``$N`` reference — ``$1``, ``"$1"``,
    ``"${1}"``, with ``.key``/``[0]`` paths — is allowed wherever a value may go.

The first ``checked_actions`` (default 12) actions are numbered ``1.``, ``2.``, ``3.``, … and each may refer only to
earlier ones, in references and in strings (``"$N"``, ``${N}``); GBNF cannot count, so each of these actions gets its
own copy of the argument rules. What is left to the parser: numbering and references after those actions, and a
keyword given twice at the ``"syntax"`` level. Everything the grammar does express, the parser accepts too. See
docs/grammar.md for the design and the measurements behind it.

Rule names are lower-case words joined by hyphens (only the per-action copies add ``-L<k>``), unique even when case
is ignored, so that the same text loads in llama.cpp, xgrammar and llguidance (vLLM, SGLang); `plan_grammar` checks
its output for undefined rules and case twins before returning it.
"""

from __future__ import annotations

import functools
import json
import keyword
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from tinyplan._errors import TinyplanError
from tinyplan._schema import schema_type_name
from tinyplan._tools import Tool, Toolset, as_toolset

__all__ = ["GrammarError", "GrammarLevel", "plan_grammar"]

GrammarLevel = Literal["syntax", "typed"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_INT_DIGITS = 18  # longer integers are garbage a small model loops on, not data

# Rules every grammar shares. Whitespace: never required, one optional space after ',' and ':'; strings in both
# quote styles with any character but an unescaped quote, a backslash or a line break; escapes as Python reads them
# (\x, \u, \U with their hex digits; \N{...} is left out). ``safe-escape`` is an escape that cannot write "$" or
# "{" (no \x24, \u007b, octal, \$ ...): the checked actions' strings use it, so that an escape cannot smuggle a
# reference past the grammar.
_COMMON = r"""
nl ::= "\n" "\n"?
idx ::= [1-9] [0-9]? [0-9]?
sp ::= " "?
kweq ::= " "? "=" " "?
string ::= dq-string | sq-string
dq-string ::= "\"" ( [^"\\\n\r\x00] | escape )* "\""
sq-string ::= "'" ( [^'\\\n\r\x00] | escape )* "'"
escape ::= "\\" ( [^xuUN\n\r\x00] | "x" hex hex | "u" hex hex hex hex | "U" big-hex )
big-hex ::= "000" hex hex hex hex hex | "0010" hex hex hex hex
safe-escape ::= "\\" ( [^0-7xuUN${\n\r\x00] | "x" safe-hex2 | "u" safe-hex4 | "U" safe-big-hex )
safe-big-hex ::= "0000" safe-hex4 | "000" [1-9a-fA-F] hex hex hex hex | "0010" hex hex hex hex
safe-hex4 ::= [1-9a-fA-F] hex hex hex | "0" [1-9a-fA-F] hex hex | "00" safe-hex2
safe-hex2 ::= [013-689a-fA-F] hex | "2" [0-35-9a-fA-F] | "7" [0-9ac-fAC-F]
hex ::= [0-9a-fA-F]
integer ::= "-"? ( "0" | [1-9] [0-9]{0,17} )
number ::= integer ( "." [0-9]{1,17} )? ( [eE] [-+]? [0-9]{1,3} )?
boolean ::= "True" | "False" | "true" | "false"
null ::= "None" | "null"
ref ::= "$" ref-id ref-path | "\"$" ref-id ref-qpath "\"" | "'$" ref-id ref-qpath "'"
ref-id ::= [1-9] [0-9]? [0-9]? | "{" [1-9] [0-9]? [0-9]? "}"
ref-path ::= ( "." py-name | "[" ref-index "]" | "[\"" [^"\]\\\n\r\x00]* "\"]" | "['" [^'\]\\\n\r\x00]* "']" )*
ref-qpath ::= ( "." [A-Za-z_] [A-Za-z0-9_]* | "[" ref-index "]" )*
ref-index ::= "0" | [1-9] [0-9]{0,5}
value ::= string | number | boolean | null | list | dict | ref
list ::= "[" ( value ( "," sp value )* )? "]"
dict ::= "{" ( string ":" sp value ( "," sp string ":" sp value )* )? "}"
"""


class GrammarError(TinyplanError, ValueError):
    """`plan_grammar` was called with a bad option (unknown level, negative ``max_tasks``)."""


#: How many leading actions `plan_grammar` numbers 1, 2, 3, … and lets refer only to earlier actions, by default.
CHECKED_ACTIONS = 12
#: The longest ``Thought:`` text the grammar allows (characters). A small model that starts narrating in a thought
#: may not stop before its token budget runs out, and the plan then never reaches ``join()``.
THOUGHT_CHARS = 240


def plan_grammar(
    tools: Toolset | Iterable[Tool],
    level: GrammarLevel = "typed",
    *,
    thoughts: bool = True,
    max_tasks: int | None = None,
    checked_actions: int = CHECKED_ACTIONS,
    first_action: int = 1,
    join_first: bool = True,
) -> str:
    """The GBNF grammar of a complete plan that calls only ``tools``.

    The output is deterministic: the same tools (in any order) and options give byte-identical text, so a backend
    can cache the compiled grammar by its text.

    The first ``checked_actions`` actions are numbered ``1.``, ``2.``, ``3.``, … and a ``$N`` reference in action
    ``k`` names one of ``1 … k-1``, so a plan of that many actions can neither misnumber nor refer to itself or a
    later task. GBNF cannot count, so this is done by one copy of the argument rules per action (the grammar grows
    about linearly with ``checked_actions``); actions after them are numbered freely and their references are left
    to the parser.

    Args:
        tools: The tools of this prompt (a `Toolset`, `Tool` objects or ``@tool`` functions).
        level: ``"syntax"`` (tool names and line shape) or ``"typed"`` (also argument count and value shapes).
        thoughts: Allow one ``Thought: ...`` line (at most `THOUGHT_CHARS` characters) before each action and
            before ``join()``.
        max_tasks: At most this many actions before ``join()`` (None: no limit).
        checked_actions: How many leading actions get exact numbering and earlier-only references (0: none).
        first_action: The number of the first action the text continues with: a plan whose first
            ``first_action - 1`` actions are already written (in the prompt) and is continued, e.g. when a line is
            written again after a failed check (see `tinyplan.PlanChecker`).
        join_first: Whether the first line written may be ``join()``; False when the plan must go on (a requested
            action is missing).

    Returns:
        GBNF text with the start rule ``root``. It loads as it is in llama.cpp (``LlamaGrammar.from_string``, the
        servers' ``grammar`` field), xgrammar and llguidance (``llguidance.grammar_from("grammar", text)``), the
        engines behind vLLM's ``structured_outputs.grammar`` and SGLang's ``ebnf``: every rule it uses is defined
        and no two rule names differ only in letter case (llguidance's reader folds case).

    Raises:
        GrammarError: ``level`` is not ``"syntax"``/``"typed"``, or ``max_tasks`` or ``checked_actions`` is negative.
        ToolsetError: Two tools share a name.
    """
    if level not in ("syntax", "typed"):
        raise GrammarError(f"unknown grammar level {level!r}: use 'syntax' or 'typed'")
    if max_tasks is not None and not _is_count(max_tasks):
        raise GrammarError(f"max_tasks must be a non-negative integer or None, not {max_tasks!r}")
    if not _is_count(checked_actions):
        raise GrammarError(f"checked_actions must be a non-negative integer, not {checked_actions!r}")
    if not _is_count(first_action) or first_action < 1:
        raise GrammarError(f"first_action must be a positive integer, not {first_action!r}")
    toolset = as_toolset(tools)
    builder = _Builder()
    calls = [builder.call(t, level) for t in sorted(toolset, key=lambda t: t.name)]
    thought = "thought? " if thoughts else ""
    checked = 0 if not calls else checked_actions if max_tasks is None else min(checked_actions, max_tasks)
    free_actions = calls and (max_tasks is None or max_tasks > checked)  # actions after the checked ones

    head: list[str] = []
    if free_actions:
        reps = "*" if max_tasks is None else f"{{0,{max_tasks - checked}}}"
        head.append(f"free-plan ::= ( {thought}action ){reps} {thought}join-line")
        head.append('action ::= idx ". " call nl')
    else:
        head.append(f"free-plan ::= {thought}join-line")
    if thoughts:
        head.append(f'thought ::= "Thought:" [^\\n]{{0,{THOUGHT_CHARS}}} nl')
    head.append('join-line ::= idx ". join()" plan-end')
    head.append('plan-end ::= ( nl? "<END_OF_PLAN>" )? nl?')

    shared = {**_COMMON_RULES, **builder.rules, "call": " | ".join(calls)}
    # every rule with a reference or a string somewhere below it gets one copy per checked action
    copied = [name for name in shared if name in _reaching({"ref", "string"}, shared)]
    per_action: list[str] = []
    first_step: tuple[str, str] | None = None  # the call rule and what follows, of the first action written
    for k in range(1, checked + 1):
        suffix = f"-L{k}"
        special = _action_rules(k)  # ref, ref-id and the string rules of action k
        renamed = {name: name + suffix for name in copied}
        per_action += [
            f"{name}{suffix} ::= {_rename(shared[name], renamed)}"
            for name in copied
            if name not in special and name != "ref"
        ]
        per_action += [f"{name}{suffix} ::= {body}" for name, body in special.items()]
        last = k == checked
        after = "free-plan" if last and free_actions else f"step-L{k + 1}"
        if k == first_action:
            first_step = (renamed.get("call", "call"), after)
        per_action.append(
            f"step-L{k} ::= {thought}( {_lit(f'{k}. ')} {renamed.get('call', 'call')} nl {after}"
            f" | {_lit(f'{k}. join()')} plan-end )"
        )
        if last and not free_actions:
            per_action.append(f"step-L{k + 1} ::= {thought}{_lit(f'{k + 1}. join()')} plan-end")
    # action 1 can refer to nothing: its copies of the rules have no reference alternative
    per_action = [_drop_alternative(line, "ref-L1") for line in per_action]
    if first_step is not None:  # a checked action comes first
        call_rule, after = first_step
        if join_first:
            head.insert(0, f"root ::= step-L{first_action}")
        else:
            head.insert(0, f"root ::= {thought}{_lit(f'{first_action}. ')} {call_rule} nl {after}")
    elif join_first or not free_actions:
        head.insert(0, "root ::= free-plan")
    else:
        head.insert(0, f"root ::= {thought}action free-plan")

    rules = [f"{name} ::= {rule}" for name, rule in builder.rules.items()]
    if free_actions or (checked and "call" not in copied):
        # the free actions call `call`; so do the checked ones when no call can hold a string or a reference (tools
        # without parameters at "typed"): then there is nothing to copy per action
        rules.insert(0, f"call ::= {shared['call']}")
    rules += _py_name_rules()
    text = "\n".join([*head, *per_action]) + "\n" + _COMMON.strip() + "\n" + "\n".join(rules) + "\n"
    _check_rule_names(text)
    return text


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# ------------------------------------------------------------------------------------------------------ internals
def _lit(text: str) -> str:
    """A GBNF string literal matching exactly ``text``."""
    out = []
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _rule_name(hint: str) -> str:
    """A rule name from any text: lower-case ASCII letters and digits, words joined by hyphens, a letter first.

    Generated names are kept in that form so that they are valid in every grammar reader a plan grammar meets:
    llama.cpp's GBNF (``[a-zA-Z0-9-]+``) and llguidance's GBNF-to-Lark converter, which turns ``-`` into ``_``, splits
    ``fooBar`` into ``foo_bar`` and folds case — two names that differ only in case or in ``-``/``_`` collide there.
    Only the per-action copies add an upper-case part, ``-L<k>`` (see `_free_name`).
    """
    name = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = "r-" + name if name else "r"
    return name


def _keywordable(name: str) -> bool:
    """Whether ``name=value`` is valid Python call syntax (an identifier that is not a keyword)."""
    return bool(_IDENT.match(name)) and not keyword.iskeyword(name)


def _char_class(chars: Iterable[str]) -> str:
    """A GBNF character class of exactly ``chars`` (ASCII letters, digits and '_'), ranges merged."""
    codes = sorted({ord(c) for c in chars})
    parts: list[str] = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        parts.append(chr(codes[i]) if i == j else f"{chr(codes[i])}-{chr(codes[j])}")
        i = j + 1
    return "[" + "".join(parts) + "]"


_ID_START = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_ID_CHAR = _ID_START | set("0123456789")


def _py_name_node(prefix: str) -> str:
    """The rule name of the keyword-trie node after ``prefix``, in lower case only.

    ``False``'s ``F`` and ``for``'s ``f`` thus get names that differ in more than letter case (llguidance's reader
    folds case).
    """
    if not prefix:
        return "py-name"
    if prefix[0].isupper():  # False, None, True: only the first letter is upper case
        return "py-cap-" + prefix.lower()
    return "py-name-" + prefix


def _py_name_rules() -> list[str]:
    """Rules for ``py-name``: a Python identifier that is not a keyword (a trie over the keywords, complemented).

    ``$1.key`` outside quotes is read by `ast`, which rejects ``$1.if``: the grammar must not allow it.
    """
    words = set(keyword.kwlist)
    prefixes = sorted({w[:i] for w in words for i in range(len(w))})

    def node(prefix: str) -> str:
        return _py_name_node(prefix)

    rules = ["py-tail ::= [A-Za-z0-9_]*"]
    for prefix in prefixes:
        nexts = sorted({w[len(prefix)] for w in words if w.startswith(prefix) and len(w) > len(prefix)})
        alts: list[str] = []
        for c in nexts:
            child = prefix + c
            if child in prefixes:
                alts.append(f"{_lit(c)} {node(child)}")
            elif child in words:
                alts.append(f"{_lit(c)} [A-Za-z0-9_] py-tail")
            else:  # pragma: no cover - every keyword prefix is in prefixes
                alts.append(f"{_lit(c)} py-tail")
        others = (_ID_CHAR if prefix else _ID_START) - set(nexts)
        alts.append(f"{_char_class(others)} py-tail")
        if prefix and prefix not in words:
            alts.append('""')
        rules.append(f"{node(prefix)} ::= " + " | ".join(alts))
    return rules


class _Builder:
    """Collects named rules; identical rule bodies share one name (so identical schemas share rules)."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {}
        self._by_body: dict[str, str] = {}
        self._defs: dict[str, Any] = {}
        self._def_rules: dict[str, str] = {}

    # ------------------------------------------------------------------------------------------------- rules
    def add(self, hint: str, body: str) -> str:
        """Name ``body`` (reusing the name of an identical body) and return the name."""
        if body in self._by_body:
            return self._by_body[body]
        name = _free_name(hint, self.rules)
        self.rules[name] = body
        self._by_body[body] = name
        return name

    def _reserve(self, hint: str) -> str:
        name = _free_name(hint, self.rules)
        self.rules[name] = ""  # filled in later (recursive $defs)
        return name

    # ------------------------------------------------------------------------------------------------- calls
    def call(self, tool: Tool, level: GrammarLevel) -> str:
        """The rule of one call of ``tool``: ``name(args)``."""
        params = list(tool.parameters)
        schema = tool.json_schema()
        props: Mapping[str, Any] = schema.get("properties") or {}
        self._defs = dict(schema.get("$defs") or schema.get("definitions") or {})
        self._def_rules = {}
        prefix = "t-" + _rule_name(tool.name)
        if level == "syntax":
            args = self._syntax_args(prefix, [p.name for p in params if _keywordable(p.name)])
        else:
            values = [self.value(props.get(p.name, {}), f"{prefix}-{p.name}") for p in params]
            names = [p.name for p in params]
            required = [p.required for p in params]
            args = self._typed_args(prefix, names, required, values)
        body = _lit(tool.name + "(") + (f" {args}" if args else "") + ' ")"'
        return self.add(prefix, body)

    def _syntax_args(self, prefix: str, kw_names: list[str]) -> str:
        positional = 'value ( "," sp value )*'
        if not kw_names:
            return self.add(prefix + "-args", positional) + "?"
        names = " | ".join(_lit(n) for n in sorted(kw_names))
        kwarg = self.add(prefix + "-kwarg", f"( {names} ) kweq value" if len(kw_names) > 1 else f"{names} kweq value")
        kwargs = f'{kwarg} ( "," sp {kwarg} )*'
        return self.add(prefix + "-args", f'value ( "," sp value )* ( "," sp {kwarg} )* | {kwargs}') + "?"

    def _typed_args(self, prefix: str, names: list[str], required: list[bool], values: list[str]) -> str:
        """Parameters in order: a positional prefix, then keywords (in declared order) for the rest.

        Optional parameters may be left out anywhere in the keyword part and at the end of the positional part.
        Returns a rule name, or "" when the only argument list is the empty one.
        """
        n = len(names)
        comma = '"," sp '

        @functools.cache
        def kw(i: int, first: bool) -> str | None:
            if i == n:
                return '""'
            alts: list[str] = []
            rest = kw(i + 1, False)
            if _keywordable(names[i]) and rest is not None:
                alts.append(f"{'' if first else comma}{_lit(names[i])} kweq {values[i]} {rest}")
            if not required[i]:
                skip = kw(i + 1, first)
                if skip is not None:
                    alts.append(skip)
            return self._alts(f"{prefix}-k{i}{'' if first else 'c'}", alts)

        @functools.cache
        def pos(i: int, first: bool) -> str | None:
            if i == n:
                return '""'
            alts: list[str] = []
            rest = pos(i + 1, False)
            if rest is not None:
                alts.append(f"{'' if first else comma}{values[i]} {rest}")
            switch = kw(i, first)
            if switch is not None:
                alts.append(switch)
            return self._alts(f"{prefix}-p{i}{'' if first else 'c'}", alts)

        top = pos(0, True)
        if top is None:  # pragma: no cover - positional arguments always give one way
            raise GrammarError(f"no argument list fits {prefix}")
        return "" if top == '""' else top

    def _alts(self, hint: str, alts: list[str]) -> str | None:
        cleaned = []
        for a in alts:
            a = re.sub(r'(?: "")+$', "", a).strip() or '""'
            if a not in cleaned:
                cleaned.append(a)
        if not cleaned:
            return None
        if cleaned == ['""']:
            return '""'
        return self.add(hint, " | ".join(cleaned))

    # ------------------------------------------------------------------------------------------------ values
    def value(self, schema: Any, hint: str) -> str:
        """The rule of a value shaped by a JSON Schema fragment; always allows a ``$N`` reference."""
        return self._item(schema, hint, -1)

    def _shapes(self, schema: Any, hint: str, depth: int) -> list[str]:
        """Alternatives (without ``ref``) for a schema; ``["value"]`` when anything goes."""
        if not isinstance(schema, Mapping) or depth > 32:
            return ["value"]
        if "$ref" in schema:
            return [self._def(str(schema["$ref"]))]
        if "const" in schema:
            return _literal_shapes([schema["const"]])
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return _literal_shapes(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                out: list[str] = []
                for i, sub in enumerate(schema[key]):
                    for s in self._shapes(sub, f"{hint}-{i}", depth + 1):
                        if s not in out:
                            out.append(s)
                return ["value"] if "value" in out else out
        if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            return self._shapes(schema["allOf"][0], hint, depth + 1)
        kind = schema.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        out = []
        for k in kinds:
            for s in self._type_shapes(k, schema, hint, depth):
                if s not in out:
                    out.append(s)
        return ["value"] if "value" in out or not out else out

    def _type_shapes(self, kind: Any, schema: Mapping[str, Any], hint: str, depth: int) -> list[str]:
        name = schema_type_name(kind)
        if name == "array":
            return [self._array(schema, hint, depth)]
        if name == "object":
            return [self._object(schema, hint, depth)]
        return [name or "value"]  # the scalar shapes' rules are named like their JSON Schema types

    def _item(self, schema: Any, hint: str, depth: int) -> str:
        shapes = self._shapes(schema, hint, depth + 1)
        if "value" in shapes:
            return "value"
        if all(re.fullmatch(r"[a-z0-9-]+", s) for s in shapes):
            hint = "-or-".join([*shapes, "ref"])  # a name that tells the shape: string-or-ref, list-of-...
        return self.add(hint, " | ".join([*shapes, "ref"]))

    def _array(self, schema: Mapping[str, Any], hint: str, depth: int) -> str:
        prefix_items = schema.get("prefixItems")
        if isinstance(prefix_items, list) and prefix_items and schema.get("items") in (None, False):
            items = [self._item(s, f"{hint}-{i}", depth) for i, s in enumerate(prefix_items)]
            return self.add(hint + "-tuple", '"[" ' + ' "," sp '.join(items) + ' "]"')
        if "items" not in schema or schema.get("items") is True:
            return "list"
        item = self._item(schema.get("items"), hint + "-item", depth)
        if item == "value":
            return "list"
        return self.add(f"list-of-{item}", f'"[" ( {item} ( "," sp {item} )* )? "]"')

    def _object(self, schema: Mapping[str, Any], hint: str, depth: int) -> str:
        """A dict literal.

        Declared properties come in declared order, required ones present, each optional one skippable; other keys
        only when ``additionalProperties`` explicitly allows them (then in any order).
        """
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if not (isinstance(props, Mapping) and props):
            if isinstance(extra, Mapping):
                val = self._item(extra, hint + "-v", depth)
                if val != "value":
                    pair = self.add(hint + "-pair", f'string ":" sp {val}')
                    return self.add(hint + "-dict", f'"{{" ( {pair} ( "," sp {pair} )* )? "}}"')
            return "dict"
        required = set(schema.get("required") or [])
        pairs: list[str] = []
        for i, (name, sub) in enumerate(props.items()):
            keys = _string_literals(str(name))
            key = keys[0] if len(keys) == 1 else "( " + " | ".join(keys) + " )"
            pairs.append(f'{key} ":" sp {self._item(sub, f"{hint}-{i}", depth)}')
        if extra is True or isinstance(extra, Mapping):
            val = "value" if extra is True else self._item(extra, hint + "-v", depth)
            pair = self.add(hint + "-pair", " | ".join([*pairs, f'string ":" sp {val}']))
            return self.add(hint + "-dict", f'"{{" ( {pair} ( "," sp {pair} )* )? "}}"')
        flags = [name in required for name in props]
        memo: dict[tuple[int, bool], str | None] = {}

        def seq(i: int, first: bool) -> str | None:
            if (i, first) in memo:
                return memo[(i, first)]
            if i == len(pairs):
                result: str | None = '""'
            else:
                alts = []
                rest = seq(i + 1, False)
                if rest is not None:
                    alts.append(("" if first else '"," sp ') + pairs[i] + " " + rest)
                if not flags[i]:
                    skip = seq(i + 1, first)
                    if skip is not None:
                        alts.append(skip)
                result = self._alts(f"{hint}-o{i}{'' if first else 'c'}", alts)
            memo[(i, first)] = result
            return result

        body = seq(0, True)
        inner = "" if body in (None, '""') else f" {body}"
        return self.add(hint + "-dict", f'"{{"{inner} "}}"')

    def _def(self, ref: str) -> str:
        """The rule of a local ``#/$defs/Name`` reference (recursive definitions allowed)."""
        if ref in self._def_rules:
            return self._def_rules[ref]
        target: Any = None
        for marker in ("#/$defs/", "#/definitions/"):
            if ref.startswith(marker):
                target = self._defs.get(ref[len(marker) :])
        if not isinstance(target, Mapping):
            return "value"
        name = self._reserve("def-" + ref.rsplit("/", 1)[-1])
        self._def_rules[ref] = name
        shapes = self._shapes(target, name, depth=1)
        body = " | ".join(shapes if "value" not in shapes else ["value"])
        self.rules[name] = body
        return name


_COMMON_RULES: dict[str, str] = dict(
    (name, body) for name, body in re.findall(r"^([a-z0-9-]+) ::= (.*)$", _COMMON, flags=re.MULTILINE)
)
# a GBNF body, token by token: string literals, character classes, rule names, anything else
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|([A-Za-z][A-Za-z0-9-]*)|.', re.DOTALL)


def _names(body: str) -> set[str]:
    """The rule names a GBNF body refers to."""
    return {m.group(1) for m in _TOKEN.finditer(body) if m.group(1)}


def _check_rule_names(text: str) -> None:
    """Check that every rule the grammar ``text`` uses is defined, and that no two names differ only in case.

    llguidance's reader folds case; llama.cpp refuses an undefined rule only when sampling starts.

    Raises:
        GrammarError: An internal error: the grammar would not load.
    """
    defined: dict[str, str] = {}
    used: set[str] = set()
    for line in text.splitlines():
        name, _, body = line.partition(" ::= ")
        if name.lower() in defined:
            raise GrammarError(f"internal: rules {defined[name.lower()]!r} and {name!r} differ only in letter case")
        defined[name.lower()] = name
        used |= _names(body)
    missing = used - set(defined.values())
    if missing:
        raise GrammarError(f"internal: rules used but not defined: {', '.join(sorted(missing))}")


def _reaching(targets: set[str], rules: Mapping[str, str]) -> set[str]:
    """The rules from which one of ``targets`` can be reached (``targets`` included)."""
    found = set(targets)
    changed = True
    while changed:
        changed = False
        for name, body in rules.items():
            if name not in found and _names(body) & found:
                found.add(name)
                changed = True
    return found


def _rename(body: str, names: Mapping[str, str]) -> str:
    """``body`` with the rule names in ``names`` replaced (literals and character classes untouched)."""
    return _TOKEN.sub(lambda m: names.get(m.group(1), m.group(0)) if m.group(1) else m.group(0), body)


def _drop_alternative(line: str, name: str) -> str:
    """A rule line without the top-level alternatives that are exactly ``name``.

    Used for action 1, which can refer to no task: a reference is only ever a whole alternative of its rule.

    Raises:
        GrammarError: ``name`` occurs other than as a whole alternative, or it was the rule's only alternative.
    """
    head, _, body = line.partition(" ::= ")
    alternatives: list[str] = []
    depth, start = 0, 0
    tokens = list(_TOKEN.finditer(body))
    for m in tokens:
        text = m.group(0)
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
        elif text == "|" and depth == 0:
            alternatives.append(body[start : m.start()].strip())
            start = m.end()
    alternatives.append(body[start:].strip())
    kept = [a for a in alternatives if a != name]
    if len(kept) == len(alternatives):
        if name in _names(body):
            raise GrammarError(f"internal: {name} is not a whole alternative in {line!r}")
        return line
    if not kept:
        raise GrammarError(f"internal: {name} is the only alternative in {line!r}")
    return f"{head} ::= {' | '.join(kept)}"


def _action_rules(k: int) -> dict[str, str]:
    """The rules that differ in action ``k`` (1-based): references and strings that can only name tasks 1 … k-1.

    The parser reads a string that is exactly ``"$N"`` (with a path) as a reference, and ``${N}`` inside a string as
    an interpolation: both must name an earlier task. ``$N`` elsewhere in prose is text unless N is an earlier task,
    so it is always allowed. To stay context-free the rules are a little stricter than the parser: after ``$`` and
    a number that is not an earlier task comes neither ``{`` nor another ``$``, ``${N}`` always names an earlier
    task, and a string never *starts* with ``$`` and a number that is not an earlier task (``"$5.00 each"`` cannot be
    written; ``"it is $5.00"`` can). For action 1 the rules hold no reference at all (`_drop_alternative` removes
    ``ref-L1``).
    """
    s = f"-L{k}"
    rules: dict[str, str] = {}
    earlier = _int_up_to(k - 1) if k > 1 else None
    if earlier is not None:
        rules["ref"] = _rename(_COMMON_RULES["ref"], {"ref-id": "ref-id" + s})
        rules["ref-id"] = _id_below(k)
    rules["string"] = f"dq-string{s} | sq-string{s}"
    for kind, quote in (("dq", '"'), ("sq", "'")):
        q = _lit(quote)
        bad = f"{quote}\\\\\\n\\r\\x00"  # the quote, backslash, line breaks and NUL: never raw in a string
        plain = f"[^{bad}$]"
        n = f"( {earlier} )" if earlier is not None else None
        group = [
            f'"{{" [^0-9{bad}$]',  # ${name}: not an interpolation
            f"[^{{{bad}$]",  # $x, $5, ...: prose
        ]
        if n is not None:
            group.insert(0, f'"{{" {n} "}}"')  # ${N}: an interpolation of an earlier task
        # no escape right after "$": "\x31" after "$" would write a reference the rules cannot see
        rules[f"{kind}-dollar"] = '"$"+ ( ' + " | ".join(group) + " )"
        rules[f"{kind}-rest"] = f'( {plain} | safe-escape | {kind}-dollar{s} )* "$"*'
        # A string may not start with "$" and a number that is not an earlier task, not even a dollar amount
        # ("$20 each"): when a small model writes a wrong reference ("$3" in task 3), allowing "$3" to go on as prose
        # traps it in the only open path ("$3000000…" until max_tokens); without it, the model's next choice is one
        # of the tasks it can name. "It costs $20" stays allowed.
        start = [
            f'"$" [^0-9{{{bad}$] {kind}-rest{s}',  # $x ...
            f'"${{" [^0-9{bad}$] {kind}-rest{s}',  # ${name} ...
            f'"$" {kind}-dollar{s} {kind}-rest{s}',  # $$...
            '"$"+',  # only dollars
        ]
        if n is not None:
            start = [
                f'"$" {n} ( [^0-9{bad}$] {kind}-rest{s} )?',  # "$1", "$1.phone", "$1 is ..."
                f'"${{" {n} "}}" {kind}-rest{s}',  # "${1}...", exact or interpolated
                *start,
            ]
        rules[f"{kind}-start"] = " | ".join(start)
        rules[f"{kind}-string"] = f"{q} ( ( {plain} | safe-escape ) {kind}-rest{s} | {kind}-start{s} )? {q}"
    return rules


def _id_below(k: int) -> str:
    """GBNF for a reference id naming a task before action ``k`` (1 … k-1), bare or braced, no leading zeros."""
    numbers = _int_up_to(k - 1)
    return f'{numbers} | "{{" {numbers} "}}"' if " | " not in numbers else f'( {numbers} ) | "{{" ( {numbers} ) "}}"'


def _int_up_to(n: int) -> str:
    """GBNF alternatives matching the decimal integers 1 … n (n >= 1) without leading zeros."""
    alts: list[str] = []
    low = 1
    width = 1
    while low <= n:
        high = min(n, 10**width - 1)
        alts += _digits_range(str(low), str(high))
        low, width = 10**width, width + 1
    return " | ".join(alts)


def _digits_range(low: str, high: str) -> list[str]:
    """GBNF sequences for the numbers from ``low`` to ``high`` (same number of digits, low <= high)."""
    if len(low) == 1:
        return [f"[{low}-{high}]" if low != high else _lit(low)]
    if low[0] == high[0]:
        return [f"{_lit(low[0])} {rest}" for rest in _digits_range(low[1:], high[1:])]
    out: list[str] = []
    width = len(low) - 1
    lo_rest_full = low[1:] == "0" * width
    hi_rest_full = high[1:] == "9" * width
    first = low[0] if lo_rest_full else chr(ord(low[0]) + 1)
    last = high[0] if hi_rest_full else chr(ord(high[0]) - 1)
    if not lo_rest_full:
        out += [f"{_lit(low[0])} {rest}" for rest in _digits_range(low[1:], "9" * width)]
    if first <= last:
        out.append(f"[{first}-{last}]" + " [0-9]" * width)
    if not hi_rest_full:
        out += [f"{_lit(high[0])} {rest}" for rest in _digits_range("0" * width, high[1:])]
    return out


def _string_literals(text: str) -> list[str]:
    """GBNF literals for a Python string literal of ``text`` in double quotes and, when simple, single quotes."""
    out = [_lit(json.dumps(text, ensure_ascii=False))]
    if not any(c in text for c in "'\\\n\r") and all(ord(c) >= 0x20 for c in text):
        out.append(_lit("'" + text + "'"))
    return out


def _literal_shapes(values: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for v in values:
        if isinstance(v, bool):
            forms = ["True", "true"] if v else ["False", "false"]
            lits = [_lit(f) for f in forms]
        elif v is None:
            lits = [_lit("None"), _lit("null")]
        elif isinstance(v, int):
            lits = [_lit(str(v))]
        elif isinstance(v, float):
            lits = [_lit(repr(v))] if v == v and v not in (float("inf"), float("-inf")) else []
        elif isinstance(v, str):
            lits = _string_literals(v)
        else:
            return ["value"]
        for lit in lits:
            if lit not in out:
                out.append(lit)
    return out or ["value"]


_HEAD_RULES = ("root", "call", "action", "thought", "join-line", "free-plan", "plan-end", "step")
#: Names the builder must not take: the fixed rules and the bases of the per-action rules (all lower case).
_RESERVED_RULES = frozenset(
    [
        *_COMMON_RULES,
        *_HEAD_RULES,
        *_action_rules(2),
        *(line.partition(" ::= ")[0] for line in _py_name_rules()),
    ]
)
# what a per-action copy appends to a name, compared without case: "-L3" (a builder name never ends like this)
_COPY_SUFFIX = re.compile(r"-l[0-9]+$", flags=re.IGNORECASE)


def _free_name(hint: str, taken: Mapping[str, str]) -> str:
    """A new rule name for ``hint``: not in ``taken``, not reserved, and not ending like a per-action copy.

    Builder names are lower case (`_rule_name`) and never end in ``-l<digits>``, and the per-action copies append
    ``-L<k>`` to them: so all the names of a grammar differ from each other even when letter case is ignored.
    """
    base = _rule_name(hint)
    name, n = base, 2
    while name in taken or name in _RESERVED_RULES or _COPY_SUFFIX.search(name):
        name, n = f"{base}-{n}", n + 1
    return name
