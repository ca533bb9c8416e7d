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

from kb.drafting.text import STOPWORDS
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
        vectors: a :class:`kb.vector_cache.SentenceVectors` (normalised sentence vectors).
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


#: Two sentences this alike (share of words in the same order, difflib's ratio) state one
#: rule for different cases ("If the booking user is a silver member: ..." / "... a gold member: ...").
SIBLING_RATIO = 0.6
_CASE_WORD = re.compile(r"[a-z][a-z'-]{2,}")


def _words(sentence: str) -> list[str]:
    return re.findall(r"[a-z0-9][a-z0-9'-]*", sentence.lower())


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def other_cases(sentences: list[tuple[str, str]], conversation: str) -> set[int]:
    """Sentences that state a rule for a case the ticket does not have, when it names its own.

    Guidance often states one rule per case, in sentences that differ only in the case
    ("If the booking user is a regular member: 1 free checked bag ...", "... a silver member:
    2 free ...", "... a gold member: 3 ..."; "On iPhone, open ..." / "On Android, open ...").
    The words that replace each other between two such siblings are their cases. A sentence
    is left out when the ticket names a sibling's case and not its own ("I'm a silver member").
    A word in the same place that is no sibling's case ("a platinum member" where only the
    regular, silver and gold sentences were retrieved, or "a new member") leaves a sentence out
    only while another case of the rule stays. When the ticket names no case, every case is
    kept; when it names several, each of those.

    Args:
        sentences: ``(group key, sentence)``; only sentences with the same key (the same
            document) are compared.
        conversation: the ticket with its earlier conversation.

    Returns:
        Indices into ``sentences`` of the sentences to leave out.
    """
    from difflib import SequenceMatcher

    spoken = [_stem(w) for w in _words(conversation)]
    said = set(spoken)
    words = [_words(s) for _, s in sentences]
    bags = [set(w) for w in words]
    stems = [{_stem(w) for w in bag} for bag in bags]
    cases: dict[int, set[str]] = {}
    siblings: dict[int, set[int]] = {}
    # The words around a case ("a ___ member"): where another case would stand.
    slots: dict[int, set[tuple[str, str]]] = {}
    for i in range(len(sentences)):
        for j in range(i + 1, len(sentences)):
            if sentences[i][0] != sentences[j][0] or not bags[i] or not bags[j]:
                continue
            # Cheap filter first: siblings share most of their words.
            if len(bags[i] & bags[j]) / len(bags[i] | bags[j]) < 0.4:
                continue
            matcher = SequenceMatcher(None, words[i], words[j], autojunk=False)
            if matcher.ratio() < SIBLING_RATIO:
                continue
            mine, theirs, my_slots, their_slots = set(), set(), set(), set()
            for tag, a0, a1, b0, b1 in matcher.get_opcodes():
                # A case is a word or a short phrase ("silver", "New York"); a longer
                # replacement is a different clause, not a different case.
                if tag != "replace" or a1 - a0 > 3 or b1 - b0 > 3:
                    continue
                # Only words the other sentence lacks altogether: a misaligned list
                # ("premium economy" against "business") swaps words both sentences have.
                # Stems, so "bags" for "bag" is one word, not two cases.
                left = {_stem(w) for w in words[i][a0:a1] if _is_case_word(w)} - stems[j]
                right = {_stem(w) for w in words[j][b0:b1] if _is_case_word(w)} - stems[i]
                if left and right:
                    mine |= left
                    theirs |= right
                    my_slots.add(_slot(words[i], a0, a1))
                    their_slots.add(_slot(words[j], b0, b1))
            if mine and theirs:
                for k, found, around in ((i, mine, my_slots), (j, theirs, their_slots)):
                    cases.setdefault(k, set()).update(found)
                    slots.setdefault(k, set()).update(around)
                siblings.setdefault(i, set()).add(j)
                siblings.setdefault(j, set()).add(i)
    drop: set[int] = set()
    by_place: set[int] = set()
    for i, own in cases.items():
        if own & said:
            continue
        if any(cases[j] & said for j in siblings[i]):
            drop.add(i)
        elif _names_another_case(spoken, slots[i], own):
            by_place.add(i)
    # A word in a case's place may be no case at all ("I'm a new member"): it never removes
    # every case of a rule, only those beside a case that stays.
    return drop | {i for i in by_place if any(j not in by_place and j not in drop for j in _family(i, siblings))}


def _family(start: int, siblings: dict[int, set[int]]) -> set[int]:
    """``start`` and every sentence linked to it through siblings."""
    seen, todo = {start}, [start]
    while todo:
        for j in siblings[todo.pop()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    return seen


def _is_case_word(word: str) -> bool:
    return bool(_CASE_WORD.fullmatch(word)) and word not in STOPWORDS


def _slot(words: list[str], start: int, end: int) -> tuple[str, str]:
    """The content words just before and after ``words[start:end]`` ("" for none or a stopword)."""
    before = words[start - 1] if start > 0 else ""
    after = words[end] if end < len(words) else ""
    return (_stem(before) if _is_case_word(before) else "", _stem(after) if _is_case_word(after) else "")


def _names_another_case(spoken: list[str], slots: set[tuple[str, str]], own: set[str]) -> bool:
    """Whether the conversation puts a word other than ``own`` where this sentence's case stands."""
    for before, after in slots:
        for k, word in enumerate(spoken):
            if word in own or not _is_case_word(word):
                continue
            if (after and k + 1 < len(spoken) and spoken[k + 1] == after and word != after) or \
                    (before and k > 0 and spoken[k - 1] == before and word != before):
                return True
    return False
