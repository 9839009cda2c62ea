"""Prompt-lookup drafts and prompt-cache keys: pure functions, no model."""

from __future__ import annotations

import numpy as np
import pytest

from tinyplan.backends import PromptLookup
from tinyplan.backends._prompt_cache import PromptCache


def ids(*tokens: int) -> np.ndarray:
    return np.array(tokens, dtype=np.intc)


def test_the_latest_occurrence_of_the_longest_ngram_is_continued() -> None:
    lookup = PromptLookup(ngram_max=3, draft_max=4)
    # "7 8 9" occurs twice before the end; the later one continues with 5 6
    seq = ids(7, 8, 9, 1, 2, 0, 7, 8, 9, 5, 6, 0, 0, 7, 8, 9)
    assert lookup(seq).tolist() == [5, 6, 0, 0]


def test_a_longer_match_wins_over_a_more_recent_shorter_one() -> None:
    lookup = PromptLookup(ngram_max=3, draft_max=2)
    # "8 9" ends the text; "7 8 9" (3-gram) occurs early, "4 8 9" (only a 2-gram match) later
    seq = ids(7, 8, 9, 1, 2, 4, 8, 9, 3, 3, 7, 8, 9)
    assert lookup(seq).tolist() == [1, 2]


def test_shorter_ngrams_are_the_fallback_and_no_match_is_no_draft() -> None:
    lookup = PromptLookup(ngram_max=3, ngram_min=1, draft_max=3)
    assert lookup(ids(5, 6, 1, 2, 3, 9, 6)).tolist() == [1, 2, 3]  # only the last token occurs before
    assert lookup(ids(1, 2, 3, 4)).tolist() == []  # 4 never occurred before
    assert lookup(ids(4)).tolist() == []
    strict = PromptLookup(ngram_max=3, ngram_min=2)
    assert strict(ids(5, 6, 1, 2, 3, 9, 6)).tolist() == []  # "9 6" never occurred before


def test_the_draft_stops_at_the_end_of_the_text() -> None:
    lookup = PromptLookup(ngram_max=2, draft_max=10)
    assert lookup(ids(1, 2, 3, 1, 2)).tolist() == [3, 1, 2]


@pytest.mark.parametrize("bad", [dict(ngram_min=0), dict(ngram_min=3, ngram_max=2), dict(draft_max=0)])
def test_invalid_settings(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="PromptLookup"):
        PromptLookup(**bad)


def test_cache_keys_change_with_everything_that_decides_the_kv_state() -> None:
    base = dict(model_id="/m.gguf:1:2", runtime="0.3.36", settings={}, static_text="rules", tokens=[1, 2, 3])
    key = PromptCache.key(**base)  # type: ignore[arg-type]
    assert PromptCache.key(**base) == key  # type: ignore[arg-type]
    changes = [
        dict(model_id="/m.gguf:1:3"),  # the model file changed
        dict(runtime="0.3.37"),  # another llama.cpp
        dict(settings={"type_k": 8}),  # a quantised KV cache
        dict(static_text="rules!"),  # another template or toolset, even with the same tokens
        dict(tokens=[1, 2, 4]),
    ]
    keys = {PromptCache.key(**{**base, **change}) for change in changes}  # type: ignore[arg-type]
    assert key not in keys and len(keys) == len(changes)
