"""Guidance that answers one question separately for different subjects.

Knowledge bases often hold the same question once per hotel, product, plan or region ("Do
they take credit cards?" for every hotel). When the ticket does not name its subject,
retrieval returns several of these answers, and a draft quotes whichever ranks first,
possibly for the wrong subject: the specialist is told which documents answer the
question, so they can confirm which one the customer means before sending. When the
ticket names one of them, the others' answers are left out of the draft.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kb.linking import TitleLinker
from kb.types import Hit

#: Two questions at this cosine (or above) are the same question.
SAME_QUESTION_COSINE = 0.8
_QUESTION = re.compile(r"^\s*Q:\s*(.+?)\s*\n\s*A:", re.DOTALL)


@dataclass(frozen=True)
class ParallelAnswers:
    """Documents that answer the same question, and those of them the conversation names.

    Attributes:
        titles: titles of the documents, in hit order (empty: no question is answered twice).
        named: the titles the ticket or its earlier conversation names.
    """

    titles: tuple[str, ...] = ()
    named: tuple[str, ...] = ()

    @property
    def unresolved(self) -> tuple[str, ...]:
        """The titles to ask the specialist about: all of them when the ticket names none."""
        return () if self.named else self.titles

    def keeps(self, hit: Hit) -> bool:
        """Whether ``hit`` may be quoted: not when it answers for a subject the ticket did not name."""
        return not self.named or hit.title not in self.titles or hit.title in self.named


def parallel_answers(hits: list[Hit], vectors, conversation: str = "") -> ParallelAnswers:
    """Find the documents whose Q&A passages among ``hits`` ask the same question.

    Args:
        hits: the passages the draft is written from, best first (internal ones are skipped).
        vectors: a :class:`kb.drafting.vectors.SentenceVectors` (normalised sentence vectors).
        conversation: the ticket with its earlier conversation.
    """
    questions = [(hit, match.group(1)) for hit in hits
                 if not hit.is_internal and (match := _QUESTION.match(hit.text))]
    if len({hit.doc_id for hit, _ in questions}) < 2:
        return ParallelAnswers()
    encoded = vectors.encode([question for _, question in questions])
    same = (encoded @ encoded.T) >= SAME_QUESTION_COSINE
    docs = np.array([hit.doc_id for hit, _ in questions])
    titles: list[str] = []
    for i, (hit, _) in enumerate(questions):
        if (same[i] & (docs != hit.doc_id)).any() and hit.title not in titles:
            titles.append(hit.title)
    if len(titles) < 2:
        return ParallelAnswers()
    named = tuple(link.title for link in TitleLinker(titles).link(conversation)) if conversation else ()
    return ParallelAnswers(tuple(titles), named)
