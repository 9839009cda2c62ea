"""Helpers of the voice tests: text normalisation, word error rate, and espeak-ng speech."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

# The three fixed requests of the voice tests, with the words each transcript must contain.
REQUESTS = {
    "email": ("Send an email to Lutfi about the budget report", ("email", "lutfi", "budget", "report")),
    "text": ("Text Sid and Lutfi that the meeting moved to 3pm", ("sid", "lutfi", "meeting", "3", "pm")),
    "weather": ("What is the weather like in Berkeley today", ("weather", "berkeley", "today")),
}
# espeak-ng's voice and speed (words per minute) for them
ESPEAK_VOICE = "en-us"
ESPEAK_SPEED = 160

_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty"
)
_NUMBERS = {w: str(i) for i, w in enumerate(_NUMBER_WORDS.split(" "))}
_NUMBERS |= {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "hundred": "100"}


def normalise(text: str) -> list[str]:
    """Words to compare: lower case, ``p.m.``/``3pm`` → ``3 pm``, number words as digits, no punctuation."""
    t = text.lower()
    t = re.sub(r"\b([ap])\.\s?m\.?", r"\1m", t)  # p.m. -> pm
    t = re.sub(r"(\d)([ap]m)\b", r"\1 \2", t)  # 3pm -> 3 pm
    t = re.sub(r"(\d):00\b", r"\1", t)  # 3:00 -> 3
    t = re.sub(r"[^\w\s']", " ", t).replace("'", "")
    return [_NUMBERS.get(w, w) for w in t.split()]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after `normalise`."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / max(len(ref), 1)


def espeak() -> str | None:
    """The espeak-ng program, or None."""
    return shutil.which("espeak-ng")


def speak(text: str, path: Path) -> Path:
    """Speak ``text`` into a WAV file with espeak-ng (22.05 kHz 16-bit mono)."""
    program = espeak()
    assert program is not None, "espeak-ng is not installed (scripts/test.sh installs it)"
    subprocess.run(
        [program, "-v", ESPEAK_VOICE, "-s", str(ESPEAK_SPEED), "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path
