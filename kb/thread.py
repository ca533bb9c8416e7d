"""A pasted support thread taken apart: which turn is the question, which turns came before.

Specialists paste what their tools show: a chat transcript with speaker labels, a case feed
copied newest first with names and time stamps, an e-mail reply with the mails it quotes.
:func:`split_pasted_thread` finds the latest customer turn (what the reply must answer) and
puts the rest, oldest first, in the earlier conversation; everything else stays as it is.
"""

from __future__ import annotations

import re
from dataclasses import replace

from kb.types import Ticket

_SPACES = re.compile(r"\s+")

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


_ON_WROTE = r"On\s[^\n]{1,200}?(?:\n[^\n]{0,200}?)?\swrote:"
_ORIGINAL_MESSAGE = r"-{3,}\s*Original Message\s*-{3,}"
_OUTLOOK_HEADER = r"From:[^\n]{1,200}\n[ \t>]*(?:Sent|Date):"
# Where an e-mail reply quotes the message it answers: "On <date>, <who> wrote:", an
# "Original Message" rule, Outlook's "From: ... Sent: ..." header, or "> " quoted lines.
_QUOTED_REPLY = re.compile(rf"^[ \t]*(?:{_ON_WROTE}|{_ORIGINAL_MESSAGE}|{_OUTLOOK_HEADER}|>)",
                           re.IGNORECASE | re.MULTILINE)


# The mail's envelope, not what was said: header lines, "On ... wrote:", "Original Message" rules.
_MAIL_ENVELOPE = re.compile(rf"^[ \t>]*(?:(?:From|Sent|Date|To|Cc|Bcc):[^\n]*|{_ON_WROTE}|{_ORIGINAL_MESSAGE})[ \t]*$",
                            re.IGNORECASE | re.MULTILINE)
_SUBJECT = re.compile(r"^[ \t>]*Subject:[ \t]*(?:(?:re|fwd?|aw|sv):[ \t]*)*", re.IGNORECASE | re.MULTILINE)
_QUOTE_MARKS = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)


# Where each earlier mail of a quoted chain starts (the chain runs newest first).
_MAIL_START = re.compile(rf"^[ \t>]*(?:{_ON_WROTE}|{_ORIGINAL_MESSAGE}|{_OUTLOOK_HEADER})", re.IGNORECASE | re.MULTILINE)


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

    Anything else is returned as it is. (A thread pasted newest first with neither time stamps
    nor an agent opening such as "my name is" is read as oldest first.)
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


def as_turns(ticket: Ticket) -> Ticket:
    """``ticket`` with a thread pasted into it taken apart (:func:`split_pasted_thread`): its
    text the turn to answer, its context the turns before it, oldest first."""
    context, message = split_pasted_thread(ticket.context or "", ticket.text)
    return replace(ticket, text=message, context=context)
