"""From ticket to queries: normalisation of noisy text and use of the earlier conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from kb.config import Settings
from kb.fuzzy import OneEditNeighbours
from kb.lexical import STOPWORDS
from kb.thread import split_pasted_thread
from kb.types import Ticket

_SPACES = re.compile(r"\s+")
# Fillers of spoken or chatty text carry no meaning and confuse both retrievers.
_FILLERS = re.compile(r"\b(?:u+h+m*|u+m+|hm+|er+m*|ah+|mm+)\b", re.IGNORECASE)
_REPEATS = re.compile(r"\b(\w+)( \1\b)+", re.IGNORECASE)
# Letters said or typed one by one ("t v", "w i f i", "a c") form one word.
_SPELLED = re.compile(r"\b[a-z](?: [a-z]\b)+", re.IGNORECASE)


_NUMBER_VALUES = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_NUMBER_VALUES.update({w: str(10 * i) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)})
_NUMBER_VALUES.update({"oh": "0", "o": "0", "hundred": "00", "thousand": "000"})
_REPEATERS = {"double": 2, "triple": 3}
_NUMBER_WORD = "(?:%s)" % "|".join(sorted([*_NUMBER_VALUES, *_REPEATERS], key=len, reverse=True))
# Phone, order and zip numbers read out word by word ("four one five nine two ...") would
# otherwise match documents whose names contain number words ("Restaurant One Seven").
_SPOKEN_NUMBER = re.compile(rf"\b{_NUMBER_WORD}(?: {_NUMBER_WORD}){{2,}}\b", re.IGNORECASE)


def _spoken_digits(match: re.Match) -> str:
    words = match.group(0).lower().split()
    # Fewer than three real number words ("two or three", "oh one") is a count, not a read-out number.
    if sum(w in _NUMBER_VALUES and w not in ("oh", "o") for w in words) < 3:
        return match.group(0)
    digits, repeat = [], 1
    for word in words:
        if word in _REPEATERS:
            repeat = _REPEATERS[word]
            continue
        digits.append(_NUMBER_VALUES[word] * repeat)
        repeat = 1
    return "".join(digits)


def _join_spelled(match: re.Match) -> str:
    letters = match.group(0).split()
    # "i a" and the like are words, not spelling.
    return match.group(0) if set(l.lower() for l in letters) <= {"a", "i"} else "".join(letters)


def normalise_query(text: str) -> str:
    """Collapse whitespace, drop fillers and stutters ("i i guess" -> "i guess"), join
    spelled-out letters ("t v" -> "tv") and numbers read out word by word ("four one
    five" -> "415")."""
    text = _FILLERS.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = _SPOKEN_NUMBER.sub(_spoken_digits, text)
    text = _REPEATS.sub(r"\1", text)
    return _SPELLED.sub(_join_spelled, text)


@dataclass(frozen=True)
class SubQuery:
    """One ranked list to produce: which retriever, which text (its weight in the fusion comes
    from :meth:`kb.retrieval.RetrievalConfig.list_weight` by label)."""

    label: str
    kind: str  # "dense" | "bm25"
    text: str
    linked: bool = False  # restricted to the documents the conversation names


@dataclass
class QueryPlan:
    """The texts to search for one ticket."""

    turn: str
    context: str
    conversation: str
    dense_text: str = ""  # what the sentence encoder reads: the message and the latest context
    named_text: str = ""  # where title linking looks for named documents: the user's words only
    subqueries: list[SubQuery] = field(default_factory=list)


#: Earlier conversation a dense query keeps, in tokens (``Settings.dense_context_tokens``).
RECENT_CONTEXT_TOKENS: int = Settings.model_fields["dense_context_tokens"].default


def _last_words(text: str, budget: int, count_tokens: Callable[[str], int]) -> str:
    """The longest run of ``text``'s last whole words within ``budget`` tokens."""
    if count_tokens(text) <= budget:
        return text
    words = text.split()
    lo, hi = 1, len(words)  # the fewest leading words to drop
    while lo < hi:
        mid = (lo + hi) // 2
        if count_tokens(" ".join(words[mid:])) <= budget:
            hi = mid
        else:
            lo = mid + 1
    return " ".join(words[lo:])


def recent_conversation(context: str, message: str, count_tokens: Callable[[str], int], *,
                        window: int, context_tokens: int = RECENT_CONTEXT_TOKENS) -> str:
    """The message whole, after the end of the earlier conversation (at most
    ``context_tokens`` tokens of it, and what the encoder's window leaves).

    Args:
        context: the earlier conversation (oldest first).
        message: the latest message.
        count_tokens: the encoder's token counter (no special tokens).
        window: the encoder's window, special tokens excluded.
        context_tokens: most tokens of earlier conversation to keep.
    """
    if not context:
        return message.strip()
    room = min(context_tokens, window - (count_tokens(message) + 1 if message else 0))
    if room <= 0:
        return message
    return f"{_last_words(context, room, count_tokens)} {message}".strip()


def dense_views(context: str, message: str, count_tokens: Callable[[str], int], *, window: int,
                context_tokens: int = RECENT_CONTEXT_TOKENS) -> list[str]:
    """What a sentence encoder should read of a ticket: one text, or two read separately.

    Encoders cut long input on the right, and a long text drowns its point: a short
    conversation is read whole; after a long thread, the message with the latest
    ``context_tokens`` of the thread, and the message alone. (On the demo tickets behind ~350
    tokens of earlier chat, reading the whole conversation gave hit@5 0.44: the encoder read
    the start of the thread only.)

    Args:
        context: the earlier conversation (oldest first).
        message: the latest message.
        count_tokens: the encoder's token counter (no special tokens).
        window: the encoder's window, special tokens excluded.
        context_tokens: most tokens of earlier conversation to read with the message.
    """
    conversation = f"{context} {message}".strip()
    recent = recent_conversation(context, message, count_tokens, window=window, context_tokens=context_tokens)
    return [recent] if recent in (conversation, message) or not message else [recent, message]


def plan_query(ticket: Ticket, *, use_context: bool = True, turn_weight: float = 1.0,
               linked_weight: float = 0.0, use_dense: bool = True, use_bm25: bool = True,
               count_tokens: Callable[[str], int] | None = None, window: int = 254,
               context_tokens: int = RECENT_CONTEXT_TOKENS) -> QueryPlan:
    """Build the sub-queries for ``ticket``.

    The whole conversation (earlier turns + message) is the main query. With ``use_context``
    the message is also searched on its own (it says *what* is asked; when ``turn_weight`` >
    0), and, when the conversation names documents (``linked_weight`` > 0), those documents
    are searched on their own: lexically for the message (misheard words corrected to
    theirs), densely with the conversation's vector. The weights only switch lists on here;
    the fusion applies them. With ``use_context`` and ``count_tokens``, dense queries read
    the message and the latest ``context_tokens`` of the conversation
    (:func:`recent_conversation`); BM25 reads it all.
    """
    raw_context, raw_turn = split_pasted_thread(ticket.context or "", ticket.text) if use_context else (
        ticket.context or "", ticket.text)
    turn = normalise_query(raw_turn)
    context = normalise_query(raw_context)
    named_text = f"{context} {turn}".strip()
    hints = normalise_query(ticket.search_hints) if ticket.search_hints else ""
    if hints:
        turn = f"{turn}\n{hints}".strip()
    conversation = f"{context} {turn}".strip()
    views = [conversation]
    if use_context and count_tokens is not None:
        views = dense_views(context, turn, count_tokens, window=window, context_tokens=context_tokens)
    dense_text = views[0]
    plan = QueryPlan(turn=turn, context=context, conversation=conversation, dense_text=dense_text,
                     named_text=named_text)
    kinds = [k for k, on in (("dense", use_dense), ("bm25", use_bm25)) if on]
    for kind in kinds:
        plan.subqueries.append(SubQuery(kind, kind, dense_text if kind == "dense" else conversation))
    if use_dense and len(views) > 1 and turn_weight > 0:
        # A long thread or message: its second view is searched too (one more forward pass,
        # only here), so neither the ranking nor the confidence hangs on what the first misses.
        plan.subqueries.append(SubQuery("dense:turn", "dense", views[1]))
    if use_context and context and turn_weight > 0 and use_bm25:
        # The message alone, lexically: cheap, and it keeps the words of the actual question
        # from drowning in a long conversation. (A second dense query would cost a second
        # forward pass for no measured gain.)
        plan.subqueries.append(SubQuery("bm25:turn", "bm25", turn))
    if use_context and linked_weight > 0:
        for kind in kinds:
            # Dense reuses the conversation's vector: a second forward pass for the message
            # would double the query's cost for one more hit in a hundred (dstc10).
            text = dense_text if kind == "dense" else (turn or conversation)
            plan.subqueries.append(SubQuery(f"{kind}:linked", kind, text, linked=True))
    return plan


_WORDS = re.compile(r"[a-z]+")
_CASED_WORDS = re.compile(r"[A-Za-z]+")


def unknown_words(text: str, known_words: frozenset[str] | set[str]) -> list[str]:
    """Lower-case words of ``text`` that are not in ``known_words`` (likely typos).

    Capitalised words are left out: they are mostly names ("Selene" is not a typo of "seen").
    """
    return [w for w in _CASED_WORDS.findall(text) if w.islower() and w not in known_words]


def vocabulary_of(texts) -> frozenset[str]:
    """Lower-case content words of four letters or more in ``texts``."""
    return frozenset(w for text in texts for w in _WORDS.findall(text.lower()) if len(w) >= 4 and w not in STOPWORDS)


def correct_to_vocabulary(text: str, vocabulary: frozenset[str] | set[str]) -> list[str]:
    """Words of ``vocabulary`` that misheard or mistyped words of ``text`` most likely stand for.

    Used on the few documents a ticket names, whose vocabulary is small, so a near miss
    ("delver" -> "delivery", "dols" -> "dogs") is rarely a different word. A word of the text
    that is already in the vocabulary, or shorter than four letters, is left alone; a
    candidate must be one edit away (swaps count as one) or, for words of six letters or
    more, share at least 80% of its letters in order.
    """
    from rapidfuzz import process
    from rapidfuzz.distance import Indel

    if not vocabulary:
        return []
    pool = list(vocabulary)
    one_edit = OneEditNeighbours(pool, min_length=4)
    corrections: list[str] = []
    for word in dict.fromkeys(_WORDS.findall(text.lower())):
        if len(word) < 4 or word in vocabulary:
            continue
        near = one_edit(word)
        if len(word) >= 6:
            near += [m for m, _s, _i in process.extract(word, pool, scorer=Indel.normalized_similarity,
                                                         score_cutoff=0.8, limit=None)]
        corrections.extend(dict.fromkeys(near))
    return corrections
