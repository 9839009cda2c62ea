"""The plan lexicon shared by the parser, the grammar and the data tools: the end marker and the join action.

LLMCompiler (Kim et al. 2023) ends a plan with ``join()`` and TinyAgent (Erdogan et al. 2024) with
``<END_OF_PLAN>`` after it; tinyplan writes and reads both.
"""

from __future__ import annotations

import re

__all__ = ["ACTION_HEAD", "ACTION_LINE", "END_OF_PLAN", "JOIN"]

#: The marker the model writes after ``join()``; generation stops on it.
END_OF_PLAN = "<END_OF_PLAN>"
#: The name of the final action, which depends on every earlier task.
JOIN = "join"
#: An action's head ``N. name(`` where a line starts (blanks before it allowed): group 1 is the task number, group 2
#: the tool name (an identifier). The parser, the example-bank and data checks and the relevance check all read
#: actions with it.
ACTION_HEAD = re.compile(r"[ \t]*([0-9]+)[ \t]*\.[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(")
#: `ACTION_HEAD` at the start of any line of a longer text (`re.MULTILINE`), for `re.search`/`re.finditer`.
ACTION_LINE = re.compile("^" + ACTION_HEAD.pattern, re.MULTILINE)
