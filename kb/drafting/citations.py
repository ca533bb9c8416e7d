"""Citation validation: every ``[n]`` in a draft must name a provided, external passage.

A model can invent ``[7]`` when six passages were given, or cite a number that belonged
to an internal passage it never saw. Such markers are removed from the text and
reported, so the specialist sees both the clean draft and what the model got wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.drafting.text import CITATION

# "[1, 2]" / "[1][2]" / "[1-2]" are normalised to "[1][2]" before validation.
_MULTI = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})+)\]")
_RANGE = re.compile(r"\[(\d{1,3})\s*[-\u2013]\s*(\d{1,3})\]")


@dataclass(frozen=True)
class CitationCheck:
    """Result of :func:`validate_citations`."""

    text: str
    used: tuple[int, ...]
    removed: tuple[int, ...]


def normalise_citations(text: str) -> str:
    """Rewrite grouped markers (``[1, 3]``, ``[1-3]``) as separate ``[1][3]`` markers."""
    text = _MULTI.sub(lambda m: "".join(f"[{n.strip()}]" for n in re.split(r"[,;]", m.group(1))), text)

    def _range(m: re.Match[str]) -> str:
        a, b = int(m.group(1)), int(m.group(2))
        if a <= b and b - a <= 10:
            return "".join(f"[{n}]" for n in range(a, b + 1))
        return m.group(0)

    return _RANGE.sub(_range, text)


def validate_citations(text: str, valid: set[int] | frozenset[int]) -> CitationCheck:
    """Remove markers that do not name a passage in ``valid``.

    Args:
        text: draft text with ``[n]`` markers.
        valid: numbers of the external passages given to the drafter.

    Returns:
        The cleaned text, the valid numbers used (in order of first use) and the removed
        numbers (sorted, unique).
    """
    text = normalise_citations(text)
    used: list[int] = []
    removed: set[int] = set()

    def _check(m: re.Match[str]) -> str:
        n = int(m.group(1))
        if n in valid:
            if n not in used:
                used.append(n)
            return m.group(0)
        removed.add(n)
        return ""

    cleaned = CITATION.sub(_check, text)
    # Removing a marker can leave "word ." or double spaces behind.
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned)
    # A repeated marker right after itself ("[1][1]") says nothing new.
    cleaned = re.sub(r"(\[\d+\])(?:\s*\1)+", r"\1", cleaned)
    return CitationCheck(cleaned, tuple(used), tuple(sorted(removed)))
