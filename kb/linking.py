"""Title linking: find the documents a ticket's conversation names.

Support conversations name the product, feature, policy or place they are about, often
only in an earlier turn ("I'm calling about the Creator Fund payout ... so when will it
arrive?"). Titles are the knowledge base's own names for those things, so we match the
conversation against document titles:

* titles and conversation are normalised the same way (case, accents, apostrophes,
  "&" -> "and", a trailing parenthetical qualifier such as "(hotel)" is optional);
* each title token is weighted by its inverse title frequency, so "Grant" counts and
  "Hotel" barely does;
* a title is linked when the conversation covers most of its weight (fuzzy token match
  tolerates one typo in longer words, as speech transcripts and hurried typing need);
* mentions closer to the end of the conversation win ties (the current entity).
"""

from __future__ import annotations

import math
import re
import threading
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from kb.fuzzy import OneEditNeighbours
from kb.words import normalise, words

_QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$")
# Words too generic to name anything on their own: function words and number words
# (spoken phone numbers and dates would otherwise "mention" titles such as "One Seven").
_NUMBERS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
            "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand")
_GENERIC = frozenset(("the a an and of at in on for to by with de la le is it its my your our this that what how "
                      "do does can i you we they new " + _NUMBERS).split())


def title_tokens(text: str) -> list[str]:
    """Normalised tokens used for linking (:func:`kb.words.words`, apostrophes dropped:
    "Cupid's" -> "cupids")."""
    return words(normalise(text).replace("&", " and ").replace("'", ""))


@dataclass(frozen=True)
class LinkedTitle:
    """A title the conversation names, with the evidence."""

    title: str
    coverage: float
    position: float
    span: tuple[int, int] = (0, 0)


class TitleLinker:
    """Links conversations to document titles (build once per knowledge-base generation)."""

    def __init__(self, titles: list[str], *, min_coverage: float = 0.8, max_links: int = 3) -> None:
        self.min_coverage = min_coverage
        self.max_links = max_links
        self._titles: list[str] = []
        self._tokens: list[list[str]] = []
        self._phrases: list[str | None] = []
        postings: dict[str, list[int]] = defaultdict(list)
        for title in dict.fromkeys(titles):
            for alias in self.aliases(title):
                words = title_tokens(alias)
                tokens = [t for t in words if t not in _GENERIC]
                if not tokens:
                    continue
                index = len(self._titles)
                self._titles.append(title)
                self._tokens.append(tokens)
                # One distinctive word left of a longer name ("Restaurant One Seven"): only the
                # whole name, said as such, identifies it.
                self._phrases.append(" ".join(words) if len(tokens) == 1 and len(words) > 1 else None)
                for token in set(tokens):
                    postings[token].append(index)
        n = max(len(self._titles), 1)
        self._idf = {token: math.log(1 + n / len(ids)) for token, ids in postings.items()}
        # A mention must contain a token that few titles share, or any common word would link.
        self._anchor_max_df = max(2, int(0.02 * n))
        self._df = {token: len(ids) for token, ids in postings.items()}
        self._postings = dict(postings)
        # Vectorised pre-filter: a title is looked at only if the words present could cover it.
        self._posting_arrays = {token: np.asarray(ids, dtype=np.int64) for token, ids in postings.items()}
        self._totals = np.asarray([sum(self._idf[t] for t in tokens) for tokens in self._tokens], dtype=np.float64)
        self._one_edit = OneEditNeighbours(self._postings, min_length=5)

    @staticmethod
    def aliases(title: str) -> list[str]:
        """Ways a conversation may name a title: the full name, and its head before a
        " - ", ":" or "," subtitle ("Laurel Inn, a Joie de Vivre Hotel" -> "Laurel Inn")."""
        core = _QUALIFIER.sub("", title) or title
        head = re.split(r"\s[-–—:]\s|,|:\s", core, maxsplit=1)[0].strip()
        return [core] if not head or head == core else [core, head]

    def _variants(self, word: str) -> list[str]:
        if word in self._postings:
            return [word]
        # Only words of five letters or more may be one typo away from a title word.
        return self._one_edit(word) if len(word) >= 5 else []

    def link(self, conversation: str) -> list[LinkedTitle]:
        """Titles named in ``conversation``, best first."""
        words = title_tokens(conversation)
        if not words or not self._titles:
            return []
        positions: dict[str, list[int]] = defaultdict(list)
        for position, word in enumerate(words):
            if word in _GENERIC:
                continue
            for token in self._variants(word):
                positions[token].append(position)
        covered = np.zeros(len(self._titles), dtype=np.float64)
        for token in positions:
            ids = self._posting_arrays.get(token)
            if ids is not None:
                # A token occurs once per title's posting list, so fancy-index adding is exact.
                covered[ids] += self._idf[token]
        candidates = np.flatnonzero(covered >= self.min_coverage * self._totals - 1e-9).tolist()
        padded = f" {' '.join(words)} "
        links = []
        for index in candidates:
            phrase = self._phrases[index]
            if phrase is not None and f" {phrase} " not in padded:
                continue
            link = self._best_mention(index, positions, len(words))
            if link is not None:
                links.append(link)
        if not links:
            return []
        # Keep each title's best alias, then drop titles whose mention lies inside a longer
        # linked mention ("Union Square" inside "Super Duper Burgers - Union Square").
        best_by_title: dict[str, LinkedTitle] = {}
        for link in links:
            if link.title not in best_by_title or self._rank(link) > self._rank(best_by_title[link.title]):
                best_by_title[link.title] = link
        links = [l for l in best_by_title.values()
                 if not any(o is not l and l.span[0] >= o.span[0] and l.span[1] <= o.span[1]
                            and (o.span[1] - o.span[0]) > (l.span[1] - l.span[0]) for o in best_by_title.values())]
        links.sort(key=lambda l: (-self._rank(l), l.title))
        best = self._rank(links[0])
        return [l for l in links if self._rank(l) >= best - 0.15][: self.max_links]

    @staticmethod
    def _in_order(tokens: list[str], near: dict[str, int]) -> bool:
        spots = [near.get(t) for t in tokens]
        return None not in spots and all(b == a + 1 for a, b in zip(spots, spots[1:]))

    @staticmethod
    def _rank(link: LinkedTitle) -> float:
        return link.coverage + 0.25 * link.position

    def _best_mention(self, index: int, positions: dict[str, list[int]], n_words: int) -> LinkedTitle | None:
        """The best-covered mention of title ``index``: its tokens must sit close together."""
        tokens = self._tokens[index]
        total = sum(self._idf[t] for t in tokens)
        present = [t for t in tokens if t in positions]
        if not present or not total:
            return None
        if sum(self._idf[t] for t in present) / total < self.min_coverage:
            return None
        # A number names nothing by itself: "refund in 14 days" must not link a title "14"
        # (an id standing in for a missing title) or "Pier 39" through its number alone.
        words = [t for t in present if not t.isdigit()]
        if not words:
            return None
        anchor_token = max(words, key=lambda t: self._idf[t])
        # A name made only of common title words counts only when said in full, in order.
        needs_exact = self._df[anchor_token] > self._anchor_max_df
        if needs_exact and (len(present) < len(tokens) or len(tokens) < 2):
            return None
        window = len(tokens) + 2
        best: LinkedTitle | None = None
        for anchor in positions[anchor_token]:
            near = {t: min((p for p in positions[t] if abs(p - anchor) <= window), key=lambda p: abs(p - anchor))
                    for t in present if any(abs(p - anchor) <= window for p in positions[t])}
            coverage = sum(self._idf[t] for t in near) / total
            if coverage < self.min_coverage:
                continue
            if needs_exact and not self._in_order(tokens, near):
                continue
            span = (min(near.values()), max(near.values()))
            candidate = LinkedTitle(self._titles[index], coverage, (span[1] + 1) / n_words, span)
            if best is None or self._rank(candidate) > self._rank(best):
                best = candidate
        return best


class LinkerCache:
    """One :class:`TitleLinker` per catalog generation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = -1
        self._linker: TitleLinker | None = None

    def get(self, generation: int, load_titles) -> TitleLinker:
        """The linker for ``generation``; ``load_titles()`` is called only when it changed."""
        with self._lock:
            if self._linker is None or generation != self._generation:
                self._linker = TitleLinker(load_titles())
                self._generation = generation
            return self._linker
