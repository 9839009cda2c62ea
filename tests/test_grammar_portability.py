"""Portability of the plan and joiner grammars: they load and mean the same in every engine a plan meets.

* **Rule names** (no engine needed): every rule a grammar uses is defined, and no two names differ only in letter case
  or in ``-``/``_`` — llguidance's GBNF reader (``llguidance.gbnf_to_lark``, used by vLLM's and SGLang's llguidance
  backends and by llama.cpp built with ``LLAMA_LLGUIDANCE``) folds both. Checked by hypothesis over random toolsets:
  tools without parameters, nested objects, arrays, tuples, enums, ``$defs`` (recursive too), optional parameters,
  adversarial names.
* **llguidance** (skipped when it is not installed): the grammar goes through ``llguidance.grammar_from("grammar",
  ...)`` exactly as vLLM's guidance backend sends it and is validated with ``LLMatcher.validate_grammar``; sentences
  are checked with a byte-level tokenizer (every byte a token), so acceptance is compared with llama.cpp's engine at
  the level of text, and with a real model's tokenizer (from the GGUF's vocabulary) for the natural tokenization.
* **llama.cpp's sampler**: ``llama_sampler_init_grammar`` with a model's vocabulary — what llama.cpp runs when
  sampling starts; it returns NULL on an undefined rule (``LlamaGrammar.from_string`` only stores the text), and a
  real generation with SmolLM2-135M (slow).

Toolsets: the Mac toolset, zero-argument toolsets, the corpus of ``tests/test_grammar.py``, and the BFCL/T-Eval
toolsets when the evaluation data is on the machine.
"""

from __future__ import annotations

import functools
import json
import keyword
import random
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyplan._grammar import plan_grammar
from tinyplan._joiner import joiner_grammar
from tinyplan._parser import parse_plan
from tinyplan._tools import Tool, Toolset, tool
from tinyplan.backends._gguf import tiny_model_path

try:
    import llguidance
except ImportError:  # pragma: no cover - llguidance is in the dev extra
    llguidance = None

try:  # the corpus, its tools and llama.cpp's grammar engine; test_grammar skips itself without llama-cpp-python
    import test_grammar as corpus
except pytest.skip.Exception:  # pragma: no cover
    corpus = None

needs_llguidance = pytest.mark.skipif(llguidance is None, reason="llguidance is not installed (pip install llguidance)")
needs_corpus = pytest.mark.skipif(corpus is None, reason="llama-cpp-python is not installed: no llama.cpp engine")
LEVELS: tuple[Literal["syntax", "typed"], ...] = ("syntax", "typed")


# ------------------------------------------------------------------------------------------------ toolsets
@tool
def get_time() -> str:
    """The time now."""
    return "12:00"


@tool
def get_date() -> str:
    """Today's date."""
    return "2026-01-01"


def _no_args_tool(name: str) -> Tool:
    return Tool.from_schema(
        {"name": name, "description": "No arguments.", "parameters": {"type": "object", "properties": {}}}
    )


ZERO_ARG_TOOLSETS: dict[str, list[Tool]] = {
    "two @tool functions": [get_time, get_date],
    "one @tool function": [get_time],
    "empty properties": [_no_args_tool("ping"), _no_args_tool("Ping_L1")],
    "no parameters key": [Tool.from_schema({"name": "beep", "description": "Beep."})],
}


def _mac_tools(tmp_path_factory: pytest.TempPathFactory) -> Toolset:
    mac = pytest.importorskip("tinyplan.toolsets.mac", reason="the Mac toolset needs the mac extra")
    toolset: Toolset = mac.mac_toolset(tmp_path_factory.mktemp("mac-home"))
    return toolset


def _eval_root() -> Path | None:
    try:
        from tinyplan.eval import default_root
    except ImportError:  # pragma: no cover
        return None
    root = default_root()
    return root if (root / "bfcl").is_dir() else None


EVAL_ROOT = _eval_root()
needs_eval_data = pytest.mark.skipif(EVAL_ROOT is None, reason="evaluation data not found (BFCL in shared/evaldata)")


def _eval_cases(spec: str) -> list[Any]:
    from tinyplan.eval import load_dataset

    return load_dataset(spec)


def _eval_specs() -> list[str]:
    from tinyplan.eval import BFCL_CATEGORIES

    return [f"bfcl:{c}" for c in sorted(set(BFCL_CATEGORIES.values())) if c != "multi_turn_base"] + ["teval"]


@functools.cache
def _distinct_tool_chunks(size: int) -> list[Toolset]:
    """Every distinct tool schema of BFCL and T-Eval, in toolsets of ``size`` (names made unique by a suffix)."""
    schemas: dict[str, dict[str, Any]] = {}
    for spec in _eval_specs():
        for case in _eval_cases(spec):
            for schema in case.tools:
                schemas.setdefault(json.dumps(schema, sort_keys=True), schema)
    tools: list[Tool] = []
    seen: dict[str, int] = {}
    for schema in schemas.values():
        fn = dict(schema.get("function", schema))
        n = seen[fn["name"]] = seen.get(fn["name"], 0) + 1
        if n > 1:
            fn["name"] = f"{fn['name']}_{n}"
        tools.append(Tool.from_schema(fn))
    return [Toolset(tools[i : i + size]) for i in range(0, len(tools), size)]


# ------------------------------------------------------------------------------------------- rule names
# A GBNF body token by token: literals, character classes, repetition counts, rule names, anything else. Written
# apart from tinyplan's own scanner, so the two check each other.
_GBNF = re.compile(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|\{[0-9, ]*\}|([A-Za-z_][A-Za-z0-9_-]*)|.', re.DOTALL)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def _rules(grammar: str) -> tuple[list[str], set[str]]:
    """The names a grammar defines (in order) and the names its bodies use (one rule per line)."""
    defined: list[str] = []
    used: set[str] = set()
    for line in grammar.splitlines():
        if not line.strip():
            continue
        name, sep, body = line.partition("::=")
        assert sep, f"not a rule line: {line!r}"
        defined.append(name.strip())
        used |= {m.group(1) for m in _GBNF.finditer(body) if m.group(1)}
    return defined, used


def _lark_name(name: str) -> str:
    """The name llguidance's GBNF reader gives a rule (``gbnf_to_lark.resolve``): ``-`` → ``_``, camelCase split,
    case folded (upper case for terminals, which a fold covers too)."""
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name.replace("-", "_")).lower()


def assert_portable_names(grammar: str) -> None:
    defined, used = _rules(grammar)
    assert defined and defined[0] == "root"
    assert len(set(defined)) == len(defined), "a rule is defined twice"
    bad = [n for n in defined if not _NAME.fullmatch(n)]
    assert not bad, f"names llama.cpp's GBNF does not allow: {bad[:5]}"
    undefined = used - set(defined)
    assert not undefined, f"rules used but never defined: {sorted(undefined)[:10]}"
    for fold in (str.lower, _lark_name):
        seen: dict[str, str] = {}
        for name in defined:
            other = seen.setdefault(fold(name), name)
            assert other == name, f"{other!r} and {name!r} collide as {fold(name)!r}"


# ------------------------------------------------------------------------ (a) hypothesis: random toolsets
_ADVERSARIAL_NAMES = [
    *("False", "None", "True", "false", "none", "true", "For", "Nonlocal"),  # the keyword trie: F/f, N/n, T/t
    *("py_name_f", "py_cap_f", "py_name", "py_tail", "call", "root", "value", "string", "ref_id", "thought"),
    *("step_L1", "call_L1", "value_L2", "get_time_L1", "get_time", "getTime", "GET_TIME", "x_l1", "x", "X", "_x"),
    *("t_x", "t_x_2", "list_of_string_or_ref", "string_or_ref", "def_node", "dq_string_L1", "L1", "l1", "A1b"),
]
_tool_names = st.one_of(
    st.sampled_from(_ADVERSARIAL_NAMES),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
).filter(lambda n: not keyword.iskeyword(n) and n != "join")
_param_names = st.one_of(
    st.sampled_from(["from", "class", "depart-date", "a b", "L1", "ref", "value", "Value", "x_L2", "id", "None"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
)
_DEF_NAMES = ["Node", "node", "NODE", "Item", "item_L1", "Leaf"]
_literals = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
    st.integers(-1000, 1000),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
_leaf_schemas = st.one_of(
    st.sampled_from(
        [
            {"type": "string"},
            {"type": "integer"},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
            {},
            {"type": ["string", "null"]},
            {"type": "array"},
            {"type": "object"},
            {"description": "anything"},
        ]
    ),
    st.lists(_literals, min_size=1, max_size=4).map(lambda v: {"enum": v}),
    _literals.map(lambda v: {"const": v}),
    st.sampled_from([*_DEF_NAMES, "Missing"]).map(lambda d: {"$ref": f"#/$defs/{d}"}),
)


def _object_schema(props: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda required, extra: {
            "type": "object",
            "properties": props,
            **({"required": required} if required else {}),
            **({"additionalProperties": extra} if extra is not None else {}),
        },
        st.lists(st.sampled_from(sorted(props)), unique=True) if props else st.just([]),
        st.sampled_from([None, True, False, {"type": "integer"}]),
    )


def _extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        inner.map(lambda s: {"type": "array", "items": s}),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"type": "array", "prefixItems": xs}),
        st.dictionaries(_param_names, inner, max_size=3).flatmap(_object_schema),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"anyOf": xs}),
        st.lists(inner, min_size=1, max_size=2).map(lambda xs: {"oneOf": xs}),
        inner.map(lambda s: {"allOf": [s]}),
        st.just({"type": "object", "additionalProperties": {"type": "string"}}),
    )


_schemas = st.recursive(_leaf_schemas, _extend, max_leaves=8)


@st.composite
def _tools(draw: st.DrawFn, name: str) -> Tool:
    if draw(st.integers(0, 3)) == 0:  # a tool without arguments, in each of the ways a schema can say so
        parameters: dict[str, Any] = draw(
            st.sampled_from([{}, {"type": "object"}, {"type": "object", "properties": {}, "required": []}])
        )
        return Tool.from_schema({"name": name, "description": "", "parameters": parameters})
    props = draw(st.dictionaries(_param_names, _schemas, min_size=1, max_size=4))
    required = draw(st.lists(st.sampled_from(sorted(props)), unique=True))
    defs = draw(st.dictionaries(st.sampled_from(_DEF_NAMES), _schemas, max_size=3))
    parameters = {"type": "object", "properties": props, "required": required}
    if defs:
        parameters["$defs"] = defs
    return Tool.from_schema({"name": name, "description": "", "parameters": parameters})


@st.composite
def _toolsets(draw: st.DrawFn) -> list[Tool]:
    names = draw(st.lists(_tool_names, max_size=5, unique=True))
    return [draw(_tools(name)) for name in names]


_options = st.fixed_dictionaries(
    {
        "level": st.sampled_from(LEVELS),
        "thoughts": st.booleans(),
        "max_tasks": st.sampled_from([None, 0, 1, 3]),
        "checked_actions": st.sampled_from([0, 1, 2, 3, 12]),
    }
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tools=_toolsets(), options=_options)
def test_every_rule_is_defined_and_names_differ_beyond_letter_case(tools: list[Tool], options: dict[str, Any]) -> None:
    assert_portable_names(plan_grammar(tools, **options))


@pytest.mark.parametrize("can_replan", [True, False])
@pytest.mark.parametrize("thought_prompted", [True, False])
def test_joiner_grammar_names(can_replan: bool, thought_prompted: bool) -> None:
    assert_portable_names(joiner_grammar(can_replan=can_replan, thought_prompted=thought_prompted))


@pytest.mark.parametrize("name", sorted(ZERO_ARG_TOOLSETS))
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("max_tasks", [None, 0, 2])
def test_tools_without_parameters_give_a_complete_grammar(
    name: str, level: Literal["syntax", "typed"], max_tasks: int | None
) -> None:
    """The typed grammar of tools without parameters used `call-L1` … without defining them (issue 15, item 4)."""
    grammar = plan_grammar(ZERO_ARG_TOOLSETS[name], level, max_tasks=max_tasks)
    assert_portable_names(grammar)
    defined, _ = _rules(grammar)
    assert max_tasks == 0 or "call" in defined or "call-L1" in defined


def test_case_twins_of_keywords_and_copies_get_different_names() -> None:
    """The keyword trie (False/for, None/nonlocal, True/try) and tools whose names end like a per-action copy."""
    grammar = plan_grammar([_no_args_tool("t_x"), _tool_with_string("x"), _tool_with_string("x_l1")], "typed")
    assert_portable_names(grammar)
    defined, _ = _rules(grammar)
    assert {"py-name-f", "py-cap-f", "py-name-n", "py-cap-n", "py-name-t", "py-cap-t"} <= set(defined)
    assert {"t-x-L1", "t-x-l1-2"} <= set(defined)  # the tool x_l1 is t-x-l1-2, not a case twin of t-x-L1


def _tool_with_string(name: str) -> Tool:
    return Tool.from_schema(
        {
            "name": name,
            "description": "",
            "parameters": {"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]},
        }
    )


# --------------------------------------------------------------------------------------- (b) llguidance
class _ByteTokenizer:
    """Every byte a token, plus an end-of-sequence token: acceptance at the level of text."""

    eos_token_id = 256
    bos_token_id = None

    def __init__(self) -> None:
        self.tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
        self.special_token_ids = [256]

    def __call__(self, text: bytes | str) -> list[int]:
        return list(text if isinstance(text, bytes) else text.encode())


@pytest.fixture(scope="module")
def byte_tokenizer() -> Any:
    if llguidance is None:
        pytest.skip("llguidance is not installed (pip install llguidance)")
    return llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteTokenizer()), slices=[])


def llg_grammar(gbnf: str) -> str:
    """What vLLM's guidance backend does with a ``grammar`` (SGLang's llguidance backend with ``ebnf`` is the same
    call under another name): GBNF converted by llguidance's reader, ready for ``LLMatcher``."""
    assert llguidance is not None
    return str(llguidance.grammar_from("grammar", gbnf))


def assert_loads_in_llguidance(gbnf: str, tokenizer: Any) -> str:
    grammar = llg_grammar(gbnf)
    error = llguidance.LLMatcher.validate_grammar(grammar, tokenizer)
    assert error == "", error
    return grammar


def llg_accepts(tokenizer: Any, grammar: str, text: str) -> bool:
    matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
    assert not matcher.is_error(), matcher.get_error()
    tokens = list(text.encode()) if tokenizer.vocab_size == 257 else tokenizer.tokenize_str(text)
    return bool(matcher.consume_tokens(tokens) and matcher.is_accepting())


@needs_llguidance
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(tools=_toolsets(), options=_options)
def test_random_toolsets_load_in_llguidance(tools: list[Tool], options: dict[str, Any]) -> None:
    assert_loads_in_llguidance(plan_grammar(tools, **options), _BYTE_TOKENIZER())


_BYTE_CACHE: list[Any] = []


def _BYTE_TOKENIZER() -> Any:  # hypothesis tests cannot take function-scoped fixtures
    if not _BYTE_CACHE:
        _BYTE_CACHE.append(llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteTokenizer()), slices=[]))
    return _BYTE_CACHE[0]


@needs_llguidance
@pytest.mark.parametrize("level", LEVELS)
def test_mac_and_zero_argument_grammars_load_in_llguidance(
    byte_tokenizer: Any, tmp_path_factory: pytest.TempPathFactory, level: Literal["syntax", "typed"]
) -> None:
    assert_loads_in_llguidance(plan_grammar(_mac_tools(tmp_path_factory), level), byte_tokenizer)
    for tools in ZERO_ARG_TOOLSETS.values():
        grammar = assert_loads_in_llguidance(plan_grammar(tools, level), byte_tokenizer)
        assert llg_accepts(byte_tokenizer, grammar, "1. get_time()\n2. get_date()\n3. join()<END_OF_PLAN>") is (
            tools == ZERO_ARG_TOOLSETS["two @tool functions"]
        )


@needs_llguidance
@pytest.mark.parametrize("can_replan", [True, False])
@pytest.mark.parametrize("thought_prompted", [True, False])
def test_joiner_grammar_loads_and_means_the_same_in_llguidance(
    byte_tokenizer: Any, can_replan: bool, thought_prompted: bool
) -> None:
    grammar = assert_loads_in_llguidance(
        joiner_grammar(can_replan=can_replan, thought_prompted=thought_prompted), byte_tokenizer
    )
    start = "" if thought_prompted else "Thought:"
    assert llg_accepts(byte_tokenizer, grammar, start + " ok\nAction: Finish(Room 103 (the first free one) is booked.)")
    assert llg_accepts(byte_tokenizer, grammar, start + " failed\nAction: Replan(ask again)") is can_replan
    assert not llg_accepts(byte_tokenizer, grammar, start + " ok\nAction: Finish(done) and more")


@needs_llguidance
@needs_eval_data
def test_bfcl_and_teval_tools_load_in_llguidance(byte_tokenizer: Any) -> None:
    """Distinct tools of BFCL and T-Eval in toolsets of 25 (more tools per grammar: more names to collide); every
    8th toolset here, all of them in the slow test below."""
    for toolset in _distinct_tool_chunks(25)[::8]:
        for level in LEVELS:
            assert_loads_in_llguidance(plan_grammar(toolset, level), byte_tokenizer)


# ------------------------------------------------------- (b) + (c) the same language in llguidance and llama.cpp
@pytest.fixture(scope="module")
def engine() -> Any:
    if corpus is None:
        pytest.skip("llama-cpp-python is not installed: no llama.cpp engine")
    return corpus.GrammarEngine()


# the options test_grammar.py builds its grammars with
_CORPUS_GRAMMARS: list[dict[str, Any]] = [
    *(
        {"level": level, "thoughts": thoughts, "max_tasks": max_tasks}
        for level in LEVELS
        for thoughts in (True, False)
        for max_tasks in (None, 0, 2, 3)
    ),
    {"level": "syntax", "checked_actions": 0},
    {"level": "syntax", "checked_actions": 3},
    {"level": "typed", "checked_actions": 2},
]


@needs_llguidance
@needs_corpus
def test_every_grammar_of_the_corpus_loads_in_llguidance_and_llama_cpp(engine: Any, byte_tokenizer: Any) -> None:
    """The options test_grammar.py builds grammars with, on its tools, and the empty toolset."""
    for options in _CORPUS_GRAMMARS:
        for tools in (corpus.TOOLS, []):
            gbnf = plan_grammar(tools, **options)
            assert_portable_names(gbnf)
            assert_loads_in_llguidance(gbnf, byte_tokenizer)
            engine.free(engine.compile(gbnf))


@needs_llguidance
@needs_corpus
@pytest.mark.parametrize("level", LEVELS)
def test_llguidance_accepts_exactly_the_corpus_plans_llama_cpp_accepts(
    engine: Any, byte_tokenizer: Any, level: Literal["syntax", "typed"]
) -> None:
    """The corpus records what each level accepts; llguidance reads the grammar the same way as llama.cpp."""
    gbnf = plan_grammar(corpus.TOOLS, level)
    grammar = assert_loads_in_llguidance(gbnf, byte_tokenizer)
    for case in corpus.VALID:
        assert llg_accepts(byte_tokenizer, grammar, case.text), case.name
    for case in corpus.INVALID:
        assert llg_accepts(byte_tokenizer, grammar, case.text) is (level not in case.reject), case.name
    for case in corpus.INVALID[:10]:  # and the engine agrees (the corpus tests check all of it)
        assert engine.accepts(gbnf, case.text) is (level not in case.reject), case.name


@needs_llguidance
@needs_corpus
@pytest.mark.parametrize("level", LEVELS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_random_sentences_of_llama_cpp_are_accepted_by_llguidance(level: Literal["syntax", "typed"], seed: int) -> None:
    """A random walk through llama.cpp's engine gives a sentence of the grammar; llguidance must accept it too."""
    gbnf = _CORPUS_GBNF[level]
    sentence = corpus._random_sentence(corpus._ENGINE(), gbnf, random.Random(seed), budget=160)
    if sentence is None:
        return
    assert llg_accepts(_BYTE_TOKENIZER(), _llg_corpus_grammar(level), sentence), sentence


@needs_llguidance
@needs_corpus
@pytest.mark.parametrize("level", LEVELS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_random_sentences_of_llguidance_are_accepted_by_llama_cpp(level: Literal["syntax", "typed"], seed: int) -> None:
    """The other way round: a random walk through llguidance's token mask (bytes), checked by llama.cpp's engine."""
    tokenizer = _BYTE_TOKENIZER()
    matcher = llguidance.LLMatcher(tokenizer, _llg_corpus_grammar(level), log_level=0)
    rng = random.Random(seed)
    out = bytearray()
    for step in range(600):
        mask = matcher.compute_bitmask()
        allowed = [t for t in range(257) if mask[t // 8] >> (t % 8) & 1]
        assert allowed, f"llguidance dead-ends after {bytes(out)!r}"
        if 256 in allowed and (step > 300 or rng.random() < 0.03):
            break
        closers = [t for t in allowed if t < 256 and chr(t) in ")]}\"'\n"] if step > 300 else []
        token = rng.choice(closers or [t for t in allowed if t != 256] or allowed)
        if token == 256:
            break
        assert matcher.consume_token(token)
        out.append(token)
    else:
        return  # no end within the budget: nothing to compare
    text = out.decode()
    assert corpus._ENGINE().accepts(_CORPUS_GBNF[level], text), text


_CORPUS_GBNF: dict[str, str] = (
    {level: plan_grammar(corpus.TOOLS, level) for level in LEVELS} if corpus is not None else {}
)
_LLG_CACHE: dict[str, str] = {}


def _llg_corpus_grammar(level: str) -> str:
    if level not in _LLG_CACHE:
        _LLG_CACHE[level] = llg_grammar(_CORPUS_GBNF[level])
    return _LLG_CACHE[level]


@needs_llguidance
@needs_corpus
def test_mac_gold_plans_are_read_alike(
    engine: Any, byte_tokenizer: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The Mac toolset's 18 gold plans: llama.cpp and llguidance accept the same ones (all of them)."""
    pytest.importorskip("icalendar", reason="the mac dataset needs the mac extra")
    tools = _mac_tools(tmp_path_factory)
    plans = [case.gold_plan_text() for case in _eval_cases("mac")]
    assert len(plans) >= 10
    for level in LEVELS:
        gbnf = plan_grammar(tools, level)
        grammar = assert_loads_in_llguidance(gbnf, byte_tokenizer)
        for plan in plans:
            assert engine.accepts(gbnf, plan), plan
            assert llg_accepts(byte_tokenizer, grammar, plan), plan


@needs_llguidance
@needs_corpus
@needs_eval_data
def test_bfcl_gold_plans_are_read_alike(engine: Any, byte_tokenizer: Any) -> None:
    """BFCL parallel_multiple, first 25 cases, each with its own toolset: the same verdict on the gold plan in both
    engines (a few gold plans do not fit their own tools, e.g. a keyword of another tool: both refuse those)."""
    accepted = 0
    for case in _eval_cases("bfcl:parallel_multiple")[:25]:
        toolset = case.toolset()
        plan = case.gold_plan_text()
        for level in LEVELS:
            gbnf = plan_grammar(toolset, level)
            assert_portable_names(gbnf)
            verdict = engine.accepts(gbnf, plan)
            assert llg_accepts(byte_tokenizer, assert_loads_in_llguidance(gbnf, byte_tokenizer), plan) is verdict
            accepted += verdict
    assert accepted >= 40, "the gold plans mostly fit: the comparison is not between two refusals"


# ------------------------------------------------------------------ xgrammar (vLLM's and SGLang's default engine)
@pytest.fixture(scope="module")
def xgrammar_compiler() -> Any:
    """xgrammar over a byte vocabulary. Not in the dev extra (it pulls in triton): ``pip install xgrammar``."""
    xgr = pytest.importorskip("xgrammar", reason="xgrammar is not installed (vLLM's and SGLang's default engine)")
    info = xgr.TokenizerInfo([bytes([i]) for i in range(256)] + [b"<eos>"], stop_token_ids=[256])
    return xgr.GrammarCompiler(info)


def xgr_accepts(compiled: Any, text: str) -> bool:
    import xgrammar as xgr

    matcher = xgr.GrammarMatcher(compiled)
    return bool(matcher.accept_string(text) and matcher.accept_token(256) and matcher.is_terminated())


@needs_corpus
@pytest.mark.parametrize("level", LEVELS)
def test_xgrammar_accepts_exactly_the_corpus_plans_llama_cpp_accepts(
    xgrammar_compiler: Any, tmp_path_factory: pytest.TempPathFactory, level: Literal["syntax", "typed"]
) -> None:
    compiled = xgrammar_compiler.compile_grammar(plan_grammar(corpus.TOOLS, level))
    for case in corpus.VALID:
        assert xgr_accepts(compiled, case.text), case.name
    for case in corpus.INVALID:
        assert xgr_accepts(compiled, case.text) is (level not in case.reject), case.name
    xgrammar_compiler.compile_grammar(plan_grammar(_mac_tools(tmp_path_factory), level))
    zero = xgrammar_compiler.compile_grammar(plan_grammar([get_time, get_date], level))
    assert xgr_accepts(zero, "1. get_time()\n2. get_date()\n3. join()<END_OF_PLAN>")
    for options in _CORPUS_GRAMMARS:
        xgrammar_compiler.compile_grammar(plan_grammar(corpus.TOOLS, **options))
    for can_replan in (True, False):
        xgrammar_compiler.compile_grammar(joiner_grammar(can_replan=can_replan))


# ------------------------------------------------------------------- (c) llama.cpp's sampler with a vocabulary
def _vocab_model() -> Path:
    """A GGUF for its vocabulary: $TINYPLAN_MODEL / the assembled default model, else SmolLM2-135M."""
    if corpus is None:
        pytest.skip("llama-cpp-python is not installed")
    path = corpus._model_file()
    if path is not None:
        return path
    try:
        return tiny_model_path()
    except Exception as exc:  # ModelError
        pytest.skip(f"no GGUF model on this machine: {exc}")


class _Vocab:
    """A model's vocabulary (``vocab_only``) for llama.cpp's grammar sampler and llguidance's tokenizer."""

    def __init__(self, path: Path) -> None:
        self.sampler = corpus.VocabSampler(path)
        self.ll = self.sampler.ll
        self.vocab = self.sampler.vocab
        self._llg: Any = None

    def sampler_loads(self, grammar: str) -> bool:
        """What llama.cpp does when sampling starts: NULL on a parse error or an undefined rule."""
        smpl = self.ll.llama_sampler_init_grammar(self.vocab, grammar.encode(), b"root")
        if not smpl:
            return False
        self.ll.llama_sampler_free(smpl)
        return True

    def llg_tokenizer(self) -> Any:
        if self._llg is None:
            from llguidance.llamacpp import lltokenizer_from_vocab

            with warnings.catch_warnings():  # it calls llama_token_get_attr, deprecated in llama-cpp-python
                warnings.simplefilter("ignore", DeprecationWarning)
                self._llg = lltokenizer_from_vocab(self.vocab)
        return self._llg


@pytest.fixture(scope="module")
def vocab() -> Iterator[_Vocab]:
    v = _Vocab(_vocab_model())
    yield v
    v.sampler.close()


def test_llama_cpp_sampler_refuses_an_undefined_rule(vocab: _Vocab) -> None:
    """The check below is a real one: the sampler fails on what `LlamaGrammar.from_string` lets through."""
    assert vocab.sampler_loads('root ::= "a" call-L1\ncall-L1 ::= "b"')
    assert not vocab.sampler_loads('root ::= "a" call-L1')


@pytest.mark.parametrize("level", LEVELS)
def test_llama_cpp_sampler_loads_mac_zero_argument_and_joiner_grammars(
    vocab: _Vocab, tmp_path_factory: pytest.TempPathFactory, level: Literal["syntax", "typed"]
) -> None:
    assert vocab.sampler_loads(plan_grammar(_mac_tools(tmp_path_factory), level))
    for name, tools in ZERO_ARG_TOOLSETS.items():
        for max_tasks in (None, 0, 2):
            assert vocab.sampler_loads(plan_grammar(tools, level, max_tasks=max_tasks)), name
    grammar = plan_grammar([get_time, get_date], level)
    assert vocab.sampler.accepts(grammar, "Thought: time and date\n1. get_time()\n2. get_date()\n3. join()")
    assert vocab.sampler.accepts(grammar, '1. get_time("now")\n2. join()') is (level == "syntax")
    for can_replan in (True, False):
        for thought_prompted in (True, False):
            assert vocab.sampler_loads(joiner_grammar(can_replan=can_replan, thought_prompted=thought_prompted))


@needs_corpus
def test_llama_cpp_sampler_loads_every_grammar_of_the_corpus(vocab: _Vocab) -> None:
    for options in _CORPUS_GRAMMARS:
        for tools in (corpus.TOOLS, []):
            assert vocab.sampler_loads(plan_grammar(tools, **options)), options


@needs_eval_data
def test_llama_cpp_sampler_loads_bfcl_and_teval_grammars(vocab: _Vocab) -> None:
    for toolset in _distinct_tool_chunks(25)[::4]:
        for level in LEVELS:
            assert vocab.sampler_loads(plan_grammar(toolset, level))


@needs_llguidance
@needs_corpus
@pytest.mark.parametrize("level", LEVELS)
def test_natural_tokenization_in_llguidance(vocab: _Vocab, level: Literal["syntax", "typed"]) -> None:
    """With the model's own tokenizer: llguidance loads the grammar, and the corpus plans tokenized as the model
    would write them (tokens spanning rules) are accepted, the rejected ones refused, as in llama.cpp's sampler."""
    tokenizer = vocab.llg_tokenizer()
    gbnf = plan_grammar(corpus.TOOLS, level)
    grammar = assert_loads_in_llguidance(gbnf, tokenizer)
    for case in corpus.VALID:
        matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
        assert matcher.consume_tokens(vocab.sampler.tokenize(case.text)), case.name
        assert matcher.is_accepting(), case.name
    for case in corpus.INVALID:
        if level in case.reject:
            matcher = llguidance.LLMatcher(tokenizer, grammar, log_level=0)
            ok = matcher.consume_tokens(vocab.sampler.tokenize(case.text)) and matcher.is_accepting()
            assert not ok, case.name


# ------------------------------------------------------------------------------------------- slow: every case
@pytest.mark.slow
@needs_eval_data
def test_all_bfcl_and_teval_tools_load_everywhere(vocab: _Vocab) -> None:
    tokenizer = _BYTE_TOKENIZER() if llguidance is not None else None
    for toolset in _distinct_tool_chunks(25):
        for level in LEVELS:
            gbnf = plan_grammar(toolset, level)
            assert_portable_names(gbnf)
            assert vocab.sampler_loads(gbnf)
            if tokenizer is not None:
                assert_loads_in_llguidance(gbnf, tokenizer)


@pytest.mark.slow
@needs_eval_data
@pytest.mark.parametrize("spec", ["bfcl:parallel_multiple", "bfcl:parallel", "bfcl:multiple", "bfcl:simple_python"])
def test_every_bfcl_case_toolset_loads_everywhere(vocab: _Vocab, spec: str) -> None:
    """Each BFCL case's own toolset (the grammar a planner sends for it), at both levels, in both engines."""
    tokenizer = _BYTE_TOKENIZER() if llguidance is not None else None
    seen: set[str] = set()
    for case in _eval_cases(spec):
        key = json.dumps(case.tools, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        toolset = case.toolset()
        for level in LEVELS:
            gbnf = plan_grammar(toolset, level)
            assert_portable_names(gbnf)
            assert vocab.sampler_loads(gbnf), case.id
            if tokenizer is not None:
                assert_loads_in_llguidance(gbnf, tokenizer)


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("level", LEVELS)
async def test_tiny_model_generates_under_a_zero_argument_grammar(level: Literal["syntax", "typed"]) -> None:
    """A real generation with SmolLM2-135M under the grammar of two tools without parameters. Before the fix llama.cpp
    refused the typed one when sampling started ("Undefined rule identifier 'call-L1'")."""
    pytest.importorskip("llama_cpp")
    from tinyplan import CompletionRequest, complete
    from tinyplan.backends import LlamaCppBackend

    try:
        path = tiny_model_path()
    except Exception as exc:  # ModelError
        pytest.skip(f"tiny model not installed: {exc}")
    tools = Toolset([get_time, get_date])
    prompt = "Actions: get_time(), get_date(), join().\nQuestion: What time and day is it?\nPlan:\n"
    request = CompletionRequest(
        prompt=prompt, max_tokens=48, grammar=plan_grammar(tools, level), stop=("<END_OF_PLAN>",)
    )
    backend = LlamaCppBackend(path, n_ctx=512)
    try:
        done = await complete(backend, request)
    finally:
        await backend.aclose()
    if done.finish_reason == "stop":
        assert parse_plan(done.text, tools)[-1].is_join, done.text
    else:  # the tiny model may ramble in a thought until max_tokens: then the text is the start of a plan
        assert re.match(r"(Thought:[^\n]*\n?)?((1\. )?|1\. (get_time|get_date|join)\(.*)$", done.text, re.S), done.text
