"""Greedy decoding for in-process llama.cpp: the grammar checked on the chosen token first, and prompt lookup.

Prompt lookup is a kind of speculative decoding.

llama-cpp-python samples through a llama.cpp sampler chain that applies a GBNF grammar to all ~152k candidate tokens
before picking one, at every step: about 30 % of the default model's decoding time with the plan grammar. For greedy
decoding (temperature 0) the result is the highest-scoring token the grammar allows, so `greedy_tokens` takes the
highest-scoring token first and asks the grammar about that one token; only when the grammar rejects it are all
candidates filtered (llama-server samples in the same order). The chosen tokens are the same.

**Prompt lookup** (Saxena 2023, "prompt lookup decoding"; llama-cpp-python's ``LlamaPromptLookupDecoding``,
llama-server's ``ngram-simple``): a plan mostly copies names, tool calls and phrases from the request and the prompt's
examples. `PromptLookup` finds the text so far's last few tokens earlier in the prompt (or in the plan) and proposes
the tokens that followed there as a draft. The model evaluates the chosen token and the draft in one batch (on a CPU
nearly the cost of one token: decoding is limited by reading the weights) and keeps the draft up to its first
token that differs from its own greedy choice, so the output is the plain greedy output, token for token. Drafts are
cut where the plan grammar would reject them (that token could never be chosen).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["DecodeStats", "Drafter", "PromptLookup", "greedy_tokens"]

Drafter = Callable[[Any], Any]
"""Proposes draft tokens (a sequence of ints) from all tokens so far (prompt and generated, a numpy ``intc`` array):
llama-cpp-python's ``LlamaDraftModel`` interface (``LlamaPromptLookupDecoding`` fits)."""


@dataclass(frozen=True, slots=True)
class PromptLookup:
    """N-gram drafts from the prompt and the text so far.

    A draft is what followed the most recent earlier occurrence of the last ``ngram_max`` tokens (then of fewer, down
    to ``ngram_min``).

    Unlike llama-cpp-python's ``LlamaPromptLookupDecoding``, which takes the earliest occurrence (in a planner prompt,
    usually the tool list), the latest one is taken: the examples and the request come last.

    Attributes:
        ngram_max: The longest n-gram looked up.
        ngram_min: The shortest n-gram looked up.
        draft_max: At most this many draft tokens.
    """

    ngram_max: int = 3
    ngram_min: int = 1
    draft_max: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.ngram_min <= self.ngram_max or self.draft_max < 1:
            raise ValueError("PromptLookup needs 1 <= ngram_min <= ngram_max and draft_max >= 1")

    def __call__(self, ids: npt.NDArray[np.intc]) -> npt.NDArray[np.intc]:
        """The draft continuing ``ids`` (empty when the last tokens occur nowhere earlier)."""
        import numpy as np

        n = len(ids)
        if n < 2:
            return ids[:0]
        # candidate starts: where the last token occurred before (its continuation exists)
        ends = np.flatnonzero(ids[: n - 1] == ids[n - 1])
        if ends.size == 0:
            return ids[:0]
        for size in range(min(self.ngram_max, n - 1), self.ngram_min - 1, -1):
            found = ends[ends >= size - 1]
            for k in range(1, size):
                if found.size == 0:
                    break
                found = found[ids[found - k] == ids[n - 1 - k]]
            if found.size:
                start = int(found[-1]) + 1
                return ids[start : start + self.draft_max]
        return ids[:0]


@dataclass
class DecodeStats:
    """Counts of one greedy generation (for benchmarks).

    Attributes:
        tokens: Tokens chosen.
        batches: Model evaluations after the prompt (one per chosen-token batch).
        drafted: Draft tokens evaluated.
        accepted: Draft tokens that matched the model's choice.
        grammar_fallbacks: Times the highest-scoring token was rejected and all candidates were filtered.
    """

    tokens: int = 0
    batches: int = 0
    drafted: int = 0
    accepted: int = 0
    grammar_fallbacks: int = 0


@dataclass
class _Candidates:
    """A reusable llama_token_data array over the whole vocabulary."""

    llama_cpp: Any
    n_vocab: int
    data: Any = field(init=False)
    view: Any = field(init=False)
    array: Any = field(init=False)
    one: Any = field(init=False)
    one_array: Any = field(init=False)

    def __post_init__(self) -> None:
        import numpy as np

        lc = self.llama_cpp
        self.data = (lc.llama_token_data * self.n_vocab)()
        dtype = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
        self.view = np.frombuffer(self.data, dtype=dtype)
        self.view["id"] = np.arange(self.n_vocab, dtype=np.intc)
        self.array = lc.llama_token_data_array(data=self.data, size=self.n_vocab, selected=-1, sorted=False)
        self.one = (lc.llama_token_data * 1)()
        self.one_array = lc.llama_token_data_array(data=self.one, size=1, selected=-1, sorted=False)

    def allows(self, grammar: Any, token: int) -> bool:
        """Whether the grammar (in its current state) accepts ``token`` next."""
        self.one[0].id = token
        self.one[0].logit = 0.0
        self.one[0].p = 0.0
        self.one_array.size = 1
        self.one_array.selected = -1
        self.one_array.sorted = False
        self.llama_cpp.llama_sampler_apply(grammar, ctypes.byref(self.one_array))
        return math.isfinite(self.one[0].logit)

    def best_allowed(self, grammar: Any, logits: npt.NDArray[np.single]) -> int:
        """The highest-scoring token the grammar allows (the first of equals, as llama.cpp's greedy sampler)."""
        import numpy as np

        self.view["logit"] = logits
        self.view["p"] = 0.0
        self.array.size = self.n_vocab
        self.array.selected = -1
        self.array.sorted = False
        self.llama_cpp.llama_sampler_apply(grammar, ctypes.byref(self.array))
        return int(np.argmax(self.view["logit"]))


_CANDIDATES: dict[int, _Candidates] = {}


def _candidates(llama_cpp: Any, n_vocab: int) -> _Candidates:
    found = _CANDIDATES.get(n_vocab)
    if found is None:
        found = _CANDIDATES[n_vocab] = _Candidates(llama_cpp, n_vocab)
    return found


def _decode(llm: Any, batch: Sequence[int], *, all_logits: bool) -> None:
    """Evaluate ``batch`` after ``llm``'s tokens (logits for every token, or only the last)."""
    n_past = int(llm.n_tokens)
    llm._batch.set_batch(batch=batch, n_past=n_past, logits_all=all_logits)
    llm._ctx.decode(llm._batch)
    llm.input_ids[n_past : n_past + len(batch)] = batch
    llm.n_tokens = n_past + len(batch)
    llm._requires_eval = False


def _truncate(llm: Any, n: int) -> None:
    if int(llm.n_tokens) > n:
        llm.n_tokens = n
        llm._ctx.kv_cache_seq_rm(-1, n, -1)


def greedy_tokens(
    llm: Any,
    llama_cpp: Any,
    tokens: Sequence[int],
    *,
    grammar: Any = None,
    drafter: Drafter | None = None,
    draft_max: int = 16,
    stopping_criteria: Callable[[Any, Any], bool] | None = None,
    stats: DecodeStats | None = None,
) -> Iterator[int]:
    """Greedy tokens after ``tokens`` for a ``llama_cpp.Llama``, reusing its KV cache for the common prefix.

    A drop-in for ``Llama.generate`` at temperature 0 without penalties or logits processors (``create_completion``
    iterates it and stops when it has what it needs).

    Args:
        llm: The loaded ``llama_cpp.Llama``.
        llama_cpp: The ``llama_cpp`` module.
        tokens: The whole prompt.
        grammar: A llama.cpp grammar sampler (``llama_sampler_init_grammar``) in its initial state, owned by the
            caller, or None.
        drafter: Proposes draft tokens (speculative decoding), or None.
        draft_max: At most this many draft tokens per step.
        stopping_criteria: Called after every chosen token (as llama-cpp-python does); True stops.
        stats: Filled with counts.
    """
    import numpy as np

    stats = stats if stats is not None else DecodeStats()
    n_vocab = int(llm.n_vocab())
    n_ctx = int(llm.n_ctx())
    tokens = list(tokens)
    ctx = llm._ctx.ctx
    cand = _candidates(llama_cpp, n_vocab) if grammar is not None else None

    # reuse the longest common prefix of what the context holds (at least one token is evaluated: its logits)
    held = int(llm.n_tokens)
    common = 0
    for a, b in zip(llm.input_ids[:held], tokens, strict=False):
        if a != b:
            break
        common += 1
    common = min(common, len(tokens) - 1)
    if not llm._ctx.kv_cache_seq_rm(-1, common, -1):
        common = 0
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    llm.n_tokens = common
    rest = tokens[common:]
    for start in range(0, len(rest), llm.n_batch):
        _decode(llm, rest[start : start + llm.n_batch], all_logits=False)

    base = int(llm.n_tokens) - 1  # the position whose logits are row 0 of the latest batch
    drafts: list[int] = []  # the unverified tokens after ``base`` in the latest batch
    row = -1  # llama_get_logits_ith index: -1 for the prompt's last token, then 0, 1, ... in a draft batch
    try:
        while True:
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, row), shape=(n_vocab,))
            token = int(np.argmax(logits))
            if grammar is not None:
                assert cand is not None
                if not cand.allows(grammar, token):
                    stats.grammar_fallbacks += 1
                    token = cand.best_allowed(grammar, logits)
                llama_cpp.llama_sampler_accept(grammar, token)
            stats.tokens += 1
            verified = max(row, 0)  # drafts 0..verified-1 are confirmed: they are in the context
            if stopping_criteria is not None and stopping_criteria(llm.input_ids[: base + 1 + verified], logits):
                return
            yield token
            if verified < len(drafts) and drafts[verified] == token:
                stats.accepted += 1
                row = verified + 1  # the next logits are already there
                continue
            # keep what is confirmed, drop the rest of the draft, and evaluate the token (with a new draft)
            _truncate(llm, base + 1 + verified)
            if int(llm.n_tokens) + 1 >= n_ctx:
                return  # the context is full
            drafts = []
            if drafter is not None:
                history = np.append(llm.input_ids[: llm.n_tokens], np.intc(token))
                room = min(draft_max, n_ctx - int(llm.n_tokens) - 2, llm.n_batch - 1)
                proposal = [int(t) for t in drafter(history)[: max(0, room)]]
                drafts = _grammar_prefix(llama_cpp, grammar, cand, token, proposal) if grammar else proposal
            _decode(llm, [token, *drafts], all_logits=bool(drafts))
            stats.batches += 1
            stats.drafted += len(drafts)
            base = int(llm.n_tokens) - 1 - len(drafts)
            row = 0 if drafts else -1
    finally:
        # unverified draft tokens leave the context (their KV cells are consistent, but nobody asked for them)
        if drafts:
            _truncate(llm, base + 1 + max(row, 0))


def _grammar_prefix(llama_cpp: Any, grammar: Any, cand: Any, token: int, proposal: list[int]) -> list[int]:
    """The longest start of ``proposal`` the grammar accepts after ``token`` (already accepted by ``grammar``)."""
    if not proposal:
        return proposal
    probe = llama_cpp.llama_sampler_clone(grammar)
    try:
        for i, t in enumerate(proposal):
            if not cand.allows(probe, t):
                return proposal[:i]
            llama_cpp.llama_sampler_accept(probe, t)
        return proposal
    finally:
        llama_cpp.llama_sampler_free(probe)
