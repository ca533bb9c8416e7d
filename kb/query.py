"""From ticket to queries: normalisation of noisy text and use of the earlier conversation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from kb.config import Settings
from kb.fuzzy import OneEditNeighbours
from kb.lexical import STOPWORDS
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


_AGENT_SIDE = ("agent", "support", "rep", "representative", "advisor", "adviser", "specialist", "moderator",
               "bot", "assistant", "staff")
_USER_SIDE = ("user", "customer", "client", "creator", "me", "member", "caller", "buyer", "seller")
_ROLE = "|".join(_AGENT_SIDE + _USER_SIDE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# A time stamp as ticketing tools print it: "10:14", "10:14:05", "10:14 AM", with an optional
# date before it ("2026-11-28", "28/11/2026", "Nov 28, 2026,", "28 Nov").
_DATE = (r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}"
         r"|(?:%(m)s)[a-z]*\.? \d{1,2}(?:st|nd|rd|th)?,?(?: \d{4})?|\d{1,2}(?:st|nd|rd|th)? (?:%(m)s)[a-z]*\.?,?(?: \d{4})?)"
         % {"m": "|".join(_MONTHS)})
_TIME = rf"(?:{_DATE}[ T,]+(?:at )?)?\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?: ?[ap]\.?m\.?)?"
# Up to three capitalised words ("Jane Doe", "J. Doe"), case-sensitive inside the case-blind label.
_NAME = r"(?-i:[A-Z][\w'-]*\.?(?: [A-Z][\w'-]*\.?){0,2})"
# A speaker label starting a turn: "Customer: ...", "Agent : ...", "Jane Doe (Customer): ...",
# "Agent (Sam):", "[10:14] Customer:", "Customer (Nov 28, 10:14 AM):", "Customer - 10:14:".
_SPEAKER = re.compile(
    r"(?:^|(?<=\s))"
    rf"(?:[\[(](?P<stamp_before>{_TIME})[\])] *|(?P<bare_stamp_before>{_TIME}) +)?"
    rf"(?:(?P<role>{_ROLE})(?: ?[\[(](?:(?P<stamp_in>{_TIME})|{_NAME})[\])])?"
    rf"|{_NAME} ?[\[(](?P<named_role>{_ROLE})[\])])"
    rf"(?: ?[,\-\u2013\u2014]? ?[\[(]?(?P<stamp_after>{_TIME})[\])]?)?"
    r"\s*:(?=\s)",
    re.IGNORECASE)
_STAMP_PARTS = re.compile(
    r"(?:(?P<iso>\d{4}-\d{1,2}-\d{1,2})|(?P<slash>\d{1,2}/\d{1,2}/\d{2,4})|(?P<named>[a-z]{3,}\.? \d{1,2}|\d{1,2}(?:st|nd|rd|th)? [a-z]{3,}))?"
    r".*?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?: ?(?P<half>[ap])\.?m\.?)?$",
    re.IGNORECASE)
_YEAR = re.compile(r"\b(\d{4})\b")


def _stamp_value(stamp: str, *, day_first: bool) -> tuple[tuple[int, int, int] | None, int] | None:
    """``(date, seconds of the day)`` of a label's time stamp; date ``None`` when it has none."""
    parts = _STAMP_PARTS.match(stamp.strip())
    if not parts:
        return None
    hour = int(parts["hour"])
    if parts["half"]:
        hour = hour % 12 + (12 if parts["half"].lower() == "p" else 0)
    seconds = hour * 3600 + int(parts["minute"]) * 60 + int(parts["second"] or 0)
    year_match = _YEAR.search(stamp[:parts.start("hour")])
    year = int(year_match.group(1)) if year_match else 0
    if parts["iso"]:
        y, m, d = (int(x) for x in parts["iso"].split("-"))
        return (y, m, d), seconds
    if parts["slash"]:
        first, second = (int(x) for x in parts["slash"].split("/")[:2])
        return ((year, second, first) if day_first else (year, first, second)), seconds
    if parts["named"]:
        words = parts["named"].replace(".", "").split()
        month_word, day_word = (words[0], words[1]) if words[0][0].isalpha() else (words[1], words[0])
        month = next((i for i, m in enumerate(_MONTHS, 1) if month_word.lower().startswith(m)), 0)
        return (year, month, int(re.match(r"\d+", day_word).group(0))), seconds
    return None, seconds


def _newest_first_by_stamps(labels: list[re.Match]) -> bool | None:
    """Whether the labels' time stamps run backwards (a feed copied newest first); ``None``
    when they cannot tell (fewer than two, or not in one direction)."""
    stamps = [s for s in (m["stamp_before"] or m["bare_stamp_before"] or m["stamp_in"] or m["stamp_after"]
                          for m in labels) if s]
    # "01/12/2026" is 1 December or 12 January: a thread's dates share one order, and a first
    # number above 12 says which (day first, unless only a second number above 12 says otherwise).
    slashes = [[int(x) for x in part.split("/")[:2]] for stamp in stamps
               for part in re.findall(r"\d{1,2}/\d{1,2}", stamp)]
    day_first = any(a > 12 for a, _ in slashes) or not any(b > 12 for _, b in slashes)
    values = [v for v in (_stamp_value(s, day_first=day_first) for s in stamps) if v is not None]
    if len(values) < 2:
        return None
    if all(date is not None for date, _ in values):
        keys = [(date, seconds) for date, seconds in values]
    elif all(date is None for date, _ in values):
        keys = [seconds for _, seconds in values]
    else:
        return None
    if keys[0] > keys[-1] and all(a >= b for a, b in zip(keys, keys[1:])):
        return True
    if keys[0] < keys[-1] and all(a <= b for a, b in zip(keys, keys[1:])):
        return False
    return None


# How agents open a conversation ("Hi, my name is Sam and I'll be helping you today"): said
# once, at the start of their first turn, so in a thread without time stamps it tells which end
# is the oldest. ("Thanks for contacting us" or "for reaching out" are left out: agents close
# with them too.)
_AGENT_OPENER = re.compile(r"\b(?:my name is|you(?:'re| are) (?:now )?(?:chatting|speaking|talking) (?:with|to)|"
                           r"welcome to|i(?:'ll| will) be (?:looking after|helping|assisting|taking care of) you)\b",
                           re.IGNORECASE)
#: How far into a turn an opening may start (characters): a greeting and a thanks before it.
_OPENER_REACH = 120


def _newest_first_by_openers(labels: list[re.Match], turns: list[str]) -> bool:
    """Whether the agent's opening words are in its last turn as pasted and not in its first."""
    agent = [i for i, label in enumerate(labels) if _role_of(label) in _AGENT_SIDE]
    if len(agent) < 2:
        return False
    def opens(turn: str) -> bool:
        return _AGENT_OPENER.search(turn.split(":", 1)[1][:_OPENER_REACH]) is not None

    return opens(turns[agent[-1]]) and not opens(turns[agent[0]])


def _role_of(label: re.Match) -> str:
    return (label["role"] or label["named_role"]).lower()


# Where an e-mail reply quotes the message it answers: "On <date>, <who> wrote:", an
# "Original Message" rule, Outlook's "From: ... Sent: ..." header, or "> " quoted lines.
_QUOTED_REPLY = re.compile(r"^[ \t]*(?:On\s.{1,200}?\swrote:|-{3,}\s*Original Message\s*-{3,}"
                           r"|From:[^\n]{1,200}\n[ \t]*(?:Sent|Date):|>)",
                           re.IGNORECASE | re.MULTILINE | re.DOTALL)


# The mail's envelope, not what was said: header lines, "On ... wrote:", "Original Message" rules.
_MAIL_ENVELOPE = re.compile(r"^[ \t>]*(?:(?:From|Sent|Date|To|Cc|Bcc):[^\n]*|On\s[^\n]{1,200}?(?:\n[^\n]{0,200}?)?\swrote:"
                            r"|-{3,}\s*Original Message\s*-{3,})[ \t]*$", re.IGNORECASE | re.MULTILINE)
_SUBJECT = re.compile(r"^[ \t>]*Subject:[ \t]*(?:(?:re|fwd?|aw|sv):[ \t]*)*", re.IGNORECASE | re.MULTILINE)
_QUOTE_MARKS = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)


# Where each earlier mail of a quoted chain starts (the chain runs newest first).
_MAIL_START = re.compile(r"^[ \t>]*(?:On\s[^\n]{1,200}?(?:\n[^\n]{0,200}?)?\swrote:|-{3,}\s*Original Message\s*-{3,}"
                         r"|From:[^\n]{1,200}\n[ \t>]*(?:Sent|Date):)", re.IGNORECASE | re.MULTILINE)


def _quoted_text(quoted: str) -> str:
    """What the quoted mails said, oldest first, without their envelopes or quote marks (the
    subjects' words stay)."""
    starts = sorted({0, *(m.start() for m in _MAIL_START.finditer(quoted))})
    mails = [quoted[a:b] for a, b in zip(starts, [*starts[1:], len(quoted)])]
    said = [_QUOTE_MARKS.sub("", _SUBJECT.sub("", _MAIL_ENVELOPE.sub("", mail))) for mail in reversed(mails)]
    return _SPACES.sub(" ", " ".join(said)).strip()


_LABEL_END = re.compile(r":\s")


def _labelled_turns(text: str) -> tuple[str, list[re.Match], list[str], list[int]] | None:
    """``(preamble, labels, turns, order)`` of a speaker-labelled thread (two labels or more),
    ``order`` oldest first; each turn as ``"Role: what was said"``, without names or time
    stamps (they only cost the dense query tokens). ``None`` for anything else."""
    # Most tickets have no "label: " at all; the label pattern costs ~0.1 ms per 1,000 characters.
    if _LABEL_END.search(text) is None:
        return None
    labels = list(_SPEAKER.finditer(text))
    if len(labels) < 2:
        return None
    turns = [f"{label['role'] or label['named_role']}: {text[label.end():nxt.start() if nxt else len(text)].strip()}"
             for label, nxt in zip(labels, [*labels[1:], None])]
    order = list(range(len(labels)))
    by_stamps = _newest_first_by_stamps(labels)
    if by_stamps or (by_stamps is None and _newest_first_by_openers(labels, turns)):
        order.reverse()
    return text[:labels[0].start()].strip(), labels, turns, order


def chronological(conversation: str) -> str:
    """``conversation`` oldest first: a speaker-labelled thread pasted newest first (time stamps
    running backwards, or the agent's opening words last) is turned around; anything else is
    returned as it is."""
    parsed = _labelled_turns(conversation)
    if parsed is None or parsed[3][0] == 0:
        return conversation
    preamble, _, turns, order = parsed
    return " ".join(p for p in (preamble, *(turns[i] for i in order)) if p)


def split_pasted_thread(context: str, message: str) -> tuple[str, str]:
    """``(context, message)`` with a thread pasted into the message taken apart.

    * An e-mail reply that quotes earlier mail (newest first): the new text is the message,
      the quoted mail joins the earlier conversation.
    * A message with two or more speaker-labelled turns ("Customer: ... Agent: ...", also
      "Jane Doe (Customer):", "[10:14] Agent:", "Customer (Nov 28, 10:14 AM):"): its latest
      user-side turn is the message, the other turns join the earlier conversation in the
      order they were written. Turns are taken as oldest first unless their time stamps run
      backwards (a case feed copied newest first), or, without stamps, the agent's opening
      words come last.
    * The earlier conversation itself is put oldest first (:func:`chronological`), and a
      quoted mail chain too, so the latest turns are the ones read with the message.

    Without time stamps, a thread whose agent opens the conversation ("my name is", "you're
    chatting with") in its last turn as pasted, not its first, is read backwards too.
    Anything else is returned as it is. (A thread pasted newest first with neither time stamps
    nor such an opening is read as oldest first.)
    """
    context = chronological(context)
    quote = _QUOTED_REPLY.search(message)
    if quote and message[:quote.start()].strip():
        quoted = _quoted_text(message[quote.start():])
        return " ".join(p for p in (context.strip(), quoted) if p), message[:quote.start()].strip()
    parsed = _labelled_turns(message)
    if parsed is None:
        return context, message
    preamble, labels, turns, order = parsed
    user_turns = [i for i in order if _role_of(labels[i]) in _USER_SIDE]
    last = user_turns[-1] if user_turns else order[-1]
    question = message[labels[last].end():labels[last + 1].start() if last + 1 < len(labels) else len(message)]
    question = question.strip()
    if not question:
        return context, message
    rest = " ".join(p for p in (context.strip(), preamble, *(turns[i] for i in order if i != last)) if p)
    return rest, question


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
    conversation = f"{context} {turn}".strip()
    views = [conversation]
    if use_context and count_tokens is not None:
        views = dense_views(context, turn, count_tokens, window=window, context_tokens=context_tokens)
    dense_text = views[0]
    plan = QueryPlan(turn=turn, context=context, conversation=conversation, dense_text=dense_text)
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
