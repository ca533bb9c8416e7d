"""Reproducible noise for robustness checks: tickets typed in a hurry."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z]+")


def with_typos(text: str, min_length: int = 6) -> str:
    """``text`` with the two middle letters of every lower-case word of ``min_length``
    letters or more swapped ("payout" -> "payuot"); names (capitalised) are kept."""

    def swap(match: re.Match) -> str:
        word = match.group(0)
        if len(word) < min_length or not word.islower():
            return word
        i = len(word) // 2
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]

    return _WORD.sub(swap, text)
