"""Offline grounding check: is each draft sentence supported by the passages it cites?

For every content sentence of a draft (greetings, thanks and sign-offs are skipped) the
check compares the sentence with each *sentence* of the passages it cites:

* ``cos``: cosine of the sentence embeddings (the knowledge base's MiniLM embedder);
* ``overlap``: share of the sentence's content words found in the cited passage.

A sentence is **supported** when ``cos >= COSINE_SUPPORTED``, or when
``cos >= COSINE_WITH_OVERLAP`` and ``overlap >= OVERLAP_SUPPORTED`` (both cosines are settings,
``REPLYDESK_GROUNDING_MIN_COSINE`` and ``..._WITH_OVERLAP``, fitted per model with
``replydesk eval grounding``; the overlap rule is model-free). A sentence whose
text occurs verbatim in a cited passage (case, spacing and Markdown aside; the usual
case for the offline drafter, which quotes) is supported without running the model:
embedding a quote against its own source can only confirm it. A sentence with no
citation is unsupported (score 0). Its ``score`` is the best ``cos`` found. A sentence that
states a number its cited passages and the ticket do not ("within 30 days" citing a policy
that says 14) is unsupported however close its wording: cosines cannot see a wrong figure.
Nor a wrong unit, contact channel, link or day (:mod:`kb.drafting.details`), nor a "not"
that reverses the source sentence a draft sentence restates: those make it unsupported too.

Calibration (run once on the demo KB, demo/tickets.jsonl): the 16 reference replies
split into 55 content sentences. Each was scored against the passages of its ticket's
relevant documents (*supported* pairs: the references were written from them) and
against the external passages of one randomly chosen unrelated SOP (*unsupported*
pairs). Median best cosine 0.92 vs 0.34. With the thresholds below 100% of supported
pairs and 7.3% of unsupported pairs pass (cosine alone at 0.65: 94.5% / 1.8%; the
overlap rule buys back paraphrases at a small cost). The references are close to the
templates, so the supported side is an easy case; LLM paraphrases will score lower.
:mod:`eval.grounding_fit` repeats this calibration for any model.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Sequence

import numpy as np

from kb.drafting.details import clauses, contradicts, merge, source_details, unstated
from kb.drafting.models import GroundingReport, GroundingSentence
from kb.vector_cache import sentence_vectors
from kb.words import words
from kb.drafting.text import CITATION, clean_markdown, overlap, split_sentences, strip_citations

COSINE_SUPPORTED = 0.65
COSINE_WITH_OVERLAP = 0.50
OVERLAP_SUPPORTED = 0.5
#: A sentence this close to one source sentence restates it, so "not" on one side only
#: reverses it ("are refunded" / "are not refunded" score 0.9 and more).
RESTATEMENT_COSINE = 0.8
RESTATEMENT_OVERLAP = 0.6
#: "not" alone moves a short clause's cosine a lot ("A reviewer will (not) look at it": 0.78),
#: so a clause whose every content word is in the source clause restates it from a lower cosine.
RESTATEMENT_COSINE_ALL_WORDS = 0.6


def _squash(text: str) -> str:
    return " ".join(words(text))


# A draft's passages are read sentence by sentence for every draft sentence, and the same
# passages come back draft after draft: split them once.
@lru_cache(maxsize=4096)
def _squashed_passage(passage: str) -> str:
    return _squash(clean_markdown(passage))


@lru_cache(maxsize=4096)
def _passage_sentences(passage: str) -> tuple[str, ...]:
    return tuple(split_sentences(clean_markdown(passage)))


@lru_cache(maxsize=4096)
def _passage_clauses(passage: str) -> tuple[tuple[str, str], ...]:
    """``(clause, its sentence)`` for every clause of ``passage``."""
    return tuple((c, u) for u in _passage_sentences(passage) for c in clauses(u))

_BOILERPLATE = re.compile(
    r"^(?:(?:hi|hello|hey|dear|good (?:morning|afternoon|evening))\b[^.!?]{0,60}[,!.]?"
    r"|(?:best|kind|warm)?\s*(?:regards|wishes)\b.*|(?:many )?thanks?(?: you)?[,.! ]*(?:again)?[,.!]?"
    r"|(?:sincerely|cheers|take care)\b.*"
    r"|thank(?:s| you) (?:for|so much for) (?:reaching out|contacting|calling|getting in touch|your (?:message|patience|email|letter|report)|writing|letting us know)\b[^.!?]*[.!]?"
    r"|(?:if|should) (?:you have|there(?:'s| is)|anything)\b[^.!?]*(?:question|help|else)[^.!?]*[.!]?"
    r"|is there anything else\b[^.!?]*[.?!]?|(?:i'?m|we'?re) here if\b[^.!?]*[.!]?"
    r"|(?:i'?m|we'?re) (?:really |so )?sorry (?:you'?re dealing with this|for the trouble)\b[^.!?]*[.!]?"
    r"|we apologi[sz]e for the inconvenience[.!]?"
    r"|(?:(?:for (?:anything|questions) about your account|if this is about your account),? )?please send us a "
    r"direct message so we can\b[^.!?]*[.!]?"
    r"|the [\w ]{0,30}team\.?"
    # A holding reply's promise to check and come back claims nothing about the guidance.
    r"|(?![^.!?]*\d)[^.!?]*\b(?:checking|confirming)\b[^.!?]*\bteam\b[^.!?]*\b(?:get back|come back|reply)\b"
    r"[^.!?]*\bas soon as (?:(?:i|we) can|possible)\b[.!]?)$",
    re.IGNORECASE,
)
_SPECIALIST_NOTE = re.compile(r"^\[?note (?:to|for) (?:the )?specialist", re.IGNORECASE)


def is_boilerplate(sentence: str) -> bool:
    """Greeting, thanks, offer of further help, sign-off, or a note to the specialist."""
    plain = strip_citations(sentence).strip()
    if not plain or len(plain.split()) <= 2:
        return True
    return bool(_BOILERPLATE.match(plain) or _SPECIALIST_NOTE.match(plain))


def content_sentences(text: str) -> list[str]:
    """The sentences of ``text`` that make a claim (boilerplate and notes removed)."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        if _SPECIALIST_NOTE.match(para.strip()):
            continue
        out.extend(s for s in split_sentences(para) if not is_boilerplate(s))
    return out


def supports(cos: float, lexical: float, min_cosine: float = COSINE_SUPPORTED,
             min_cosine_with_overlap: float = COSINE_WITH_OVERLAP) -> bool:
    """The grounding rule: a sentence is supported at ``min_cosine``, or at
    ``min_cosine_with_overlap`` when half its content words are in the cited passage."""
    return cos >= min_cosine or (cos >= min_cosine_with_overlap and lexical >= OVERLAP_SUPPORTED)


class GroundingChecker:
    """Scores draft sentences against cited passages (sentence vectors shared with the drafter).

    Args:
        embedder: ``encode(list[str]) -> np.ndarray`` of L2-normalised rows.
        min_cosine: cosine at which a sentence is supported.
        min_cosine_with_overlap: cosine at which it is supported when it shares half its
            content words with the cited passage.
    """

    def __init__(self, embedder, *, min_cosine: float = COSINE_SUPPORTED,
                 min_cosine_with_overlap: float = COSINE_WITH_OVERLAP) -> None:
        self.embedder = embedder
        self.min_cosine = min_cosine
        self.min_cosine_with_overlap = min_cosine_with_overlap
        self._vectors = sentence_vectors(embedder)
        self._common_words: frozenset[str] | None = None

    @classmethod
    def from_settings(cls, embedder, settings) -> "GroundingChecker":
        """A checker with the thresholds of ``settings`` (a :class:`kb.config.Settings`)."""
        return cls(embedder, min_cosine=settings.grounding_min_cosine,
                   min_cosine_with_overlap=settings.grounding_min_cosine_with_overlap)

    def common_words(self) -> frozenset[str]:
        """The embedder's dictionary of whole words (empty for an embedder without one): a
        single capitalised word in it is not read as a name ("our Support team")."""
        if self._common_words is None:
            known = getattr(self.embedder, "known_words", None)
            self._common_words = known() if callable(known) else frozenset()
        return self._common_words

    def supports(self, cos: float, lexical: float) -> bool:
        """:func:`supports` at this checker's thresholds."""
        return supports(cos, lexical, self.min_cosine, self.min_cosine_with_overlap)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` from the shared sentence cache."""
        return self._vectors.encode(list(texts))

    def score(self, sentence: str, passages: Sequence[str]) -> tuple[float, float]:
        """``(best cosine, overlap)`` of ``sentence`` against the sentences of ``passages``."""
        cos, lexical, _closest = self.closest(sentence, passages)
        return cos, lexical

    def closest(self, sentence: str, passages: Sequence[str]) -> tuple[float, float, str]:
        """:meth:`score` and the passage sentence it comes from ("" when the sentence is a
        verbatim quote, or nothing matched)."""
        plain = strip_citations(sentence)
        if not plain:
            return 0.0, 0.0, ""
        lexical = overlap(plain, " ".join(passages))
        quoted = _squash(plain)
        if len(quoted.split()) >= 3 and any(quoted in _squashed_passage(p) for p in passages):
            return 1.0, lexical, ""
        units = [u for p in passages for u in _passage_sentences(p) if len(u.split()) >= 3]
        if not units:
            return 0.0, lexical, ""
        vectors = self.encode([plain] + units)
        scores = vectors[1:] @ vectors[0]
        best = int(scores.argmax())
        return float(scores[best]), lexical, units[best]

    def reversed_source(self, sentence: str, passages: Sequence[str]) -> str:
        """The source sentence that ``sentence`` restates with "not" on one side only, or "".

        Clauses are compared with clauses ("..., and bank transfers usually arrive within 3 to 5
        business days" holds two claims): a clause restates a source clause when their cosine
        is at least ``RESTATEMENT_COSINE`` and it shares ``RESTATEMENT_OVERLAP`` of its content
        words with it. Only then can a lone "not" be read as a reversal and not a paraphrase.
        """
        mine = clauses(strip_citations(sentence))
        theirs = [pair for p in passages for pair in _passage_clauses(p)]
        # Both restatement rules need RESTATEMENT_OVERLAP of the words: without such a pair of
        # opposite polarity there is nothing to embed (the usual case, and it saves the model).
        if not any(overlap(m, c) >= RESTATEMENT_OVERLAP and contradicts(m, c) for m in mine for c, _u in theirs):
            return ""
        vectors = self.encode(mine + [c for c, _u in theirs])
        scores = vectors[len(mine):] @ vectors[:len(mine)].T
        for i, clause in enumerate(mine):
            best = int(scores[:, i].argmax())
            source_clause, unit = theirs[best]
            shared = overlap(clause, source_clause)
            restates = ((scores[best, i] >= RESTATEMENT_COSINE and shared >= RESTATEMENT_OVERLAP)
                        or (scores[best, i] >= RESTATEMENT_COSINE_ALL_WORDS and shared >= 1.0))
            if restates and contradicts(clause, source_clause):
                return unit
        return ""

    def report(self, text: str, passages: dict[int, str], *, ticket: str = "",
               guidance: Sequence[str] = ()) -> GroundingReport:
        """Grounding of every content sentence of ``text``.

        Args:
            text: the draft (after citation validation).
            passages: citation number -> passage text, for the numbers that may be cited.
            ticket: the ticket and its conversation: numbers from it (an order number, a date)
                need no source.
            guidance: every passage (with its title) the drafter was given, cited or not: a
                name from any of them ("Loopr", the platform's own) is not an invented one.
        """
        from_ticket = source_details(ticket)
        # The customer's numbers, dates and links need no source; where to contact us does.
        from_ticket = replace(from_ticket, channels=frozenset())
        stated_by = {n: source_details(passage) for n, passage in passages.items()}
        guidance_words = frozenset(w for g in guidance for w in words(g))
        out = []
        for sentence in content_sentences(text):
            cited = tuple(dict.fromkeys(int(n) for n in CITATION.findall(sentence) if int(n) in passages))
            if not cited:
                out.append(GroundingSentence(strip_citations(sentence), (), False, 0.0))
                continue
            cos, lexical, closest = self.closest(sentence, [passages[n] for n in cited])
            known = merge([from_ticket, *(stated_by[n] for n in cited)])
            if guidance_words:
                known = replace(known, names=known.names | guidance_words)
            figures_missing, details_missing = unstated(sentence, known, self.common_words())
            reversed_source = self.reversed_source(sentence, [passages[n] for n in cited]) if closest else ""
            supported = (self.supports(cos, lexical) and not figures_missing and not details_missing
                         and not reversed_source)
            out.append(GroundingSentence(strip_citations(sentence), cited, supported, cos, figures_missing,
                                         details_missing, reversed_source))
        return GroundingReport(tuple(out))
