"""Details a draft sentence states that its sources must state too.

Sentence embeddings see the topic of a sentence, not its particulars: "held for 14 hours",
"call us on the phone" and "are not refunded" sit as close to "held for 14 days", "use the
in-app form" and "are refunded" as the right sentences do. These checks read the particulars
a support reply must not invent:

* **quantities**: a number with its unit (time, money, percent). "2 weeks" states the same
  as "14 days"; "14 business days" does not. A figure is stated when the sources give it,
  alone or as the same quantity ("two weeks" where the policy says "14 days");
* **contact channels** the reply sends the customer to ("by phone", "email us");
* **links**: web addresses and e-mail addresses;
* **days and months** ("on Friday", "in March");
* **menu paths** ("Settings > Privacy > Download your data"), step by step;
* **names**: capitalised phrases ("Creator Fund", "PayPal") the sources do not hold, and
  labels to tap or select ("tap Dispute" where the source says "tap Appeal").

A detail counts as stated when the cited passages or the ticket hold it (a name: any passage
the drafter was given). Negation is checked separately by :func:`contradicts`, on the source
clause a draft clause restates (:meth:`kb.drafting.grounding.GroundingChecker.reversed_source`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kb.drafting.text import CITATION, NUMBER_WORD_VALUES, figures
from kb.words import words

# "one" counts here: next to a unit it is a number ("one business day").
_NUMBER_WORDS = {**NUMBER_WORD_VALUES, "forty-five": 45}
_NUM = r"(?:\d+(?:[.,]\d+)*|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
#: Unit word -> (class, factor to the class's base unit). Minutes for clock time; business
#: days are their own class ("5 business days" is not "5 days"); months for calendar time.
_TIME_UNITS = {
    "min": ("minutes", 1), "mins": ("minutes", 1), "minute": ("minutes", 1), "minutes": ("minutes", 1),
    "h": ("minutes", 60), "hr": ("minutes", 60), "hrs": ("minutes", 60), "hour": ("minutes", 60),
    "hours": ("minutes", 60), "day": ("minutes", 1440), "days": ("minutes", 1440),
    "week": ("minutes", 10080), "weeks": ("minutes", 10080),
    "month": ("months", 1), "months": ("months", 1), "year": ("months", 12), "years": ("months", 12),
}
# Each pattern opens with a look-ahead at the first letters it can start with: the number-word
# alternations are slow to try at every word (a 1,500-character passage: 0.16 -> 0.07 ms).
_NUM_START = r"(?=[\dzotfsenh])"
_QUANTITY = re.compile(
    rf"\b{_NUM_START}(?P<a>{_NUM})(?:\s*(?:-|–|to|or)\s*(?P<b>{_NUM}))?(?:\s*-\s*|\s+)?"
    rf"(?:(?P<kind>business|working|calendar)[\s-]+)?"
    rf"(?P<unit>{'|'.join(sorted(_TIME_UNITS, key=len, reverse=True))}|%|percent)\b",
    re.IGNORECASE)
# "%" is not a word character, so the \b after it only holds before one; accept it alone too.
_PERCENT = re.compile(rf"\b{_NUM_START}(?P<a>{_NUM})\s*%", re.IGNORECASE)
_MONEY_MARKS = ("$", "€", "£", "usd", "eur", "gbp", "dollar", "pound")
_CURRENCY_CODES = {"usd": "USD", "eur": "EUR", "gbp": "GBP", "$": "USD", "€": "EUR", "£": "GBP",
                   "dollar": "USD", "dollars": "USD", "euro": "EUR", "euros": "EUR", "pound": "GBP",
                   "pounds": "GBP"}
_MONEY = re.compile(
    rf"(?P<pre>\$|€|£|\b(?:USD|EUR|GBP)\b)\s?(?P<a>\d+(?:[.,]\d+)*)"
    rf"|\b{_NUM_START}(?P<b>{_NUM})\s?(?P<post>USD|EUR|GBP|dollars?|euros?|pounds?)\b", re.IGNORECASE)

#: Where a reply sends the customer: "by phone", "email us", "our hotline".
_CHANNEL_WORDS = {
    "phone": "phone", "telephone": "phone", "call": "phone", "calling": "phone", "hotline": "phone",
    "phone line": "phone", "phone number": "phone",
    "email": "email", "e-mail": "email", "email address": "email", "e-mail address": "email",
    "live chat": "chat", "chat": "chat", "in-app chat": "chat",
    "post": "post", "mail": "post", "letter": "post",
    "sms": "text message", "text message": "text message", "text": "text message",
    "fax": "fax",
}
_CHANNEL_ALT = "|".join(sorted((re.escape(w) for w in _CHANNEL_WORDS), key=len, reverse=True))
_CHANNEL_SENT = re.compile(
    rf"\b(?:by|via|over|through|using)\s+(?:the\s+|our\s+|a\s+|an\s+)?(?P<a>{_CHANNEL_ALT})\b"
    rf"|\b(?P<b>call|phone|email|e-mail|text|fax)\s+(?:us|our\s+(?:team|support))\b"
    rf"|\b(?:send|write)\s+us\s+(?:an?\s+)?(?P<c>email|e-mail|letter|text|fax)\b"
    rf"|\b(?:our|the)\s+(?:support\s+)?(?P<d>hotline|phone line|phone number|email address|e-mail address|live chat)\b",
    re.IGNORECASE)
# Any mention in a source states the channel, whatever it says of it.
_CHANNEL_ANY = re.compile(
    r"\b(phone|telephone|call(?:s|ed|ing)?|hotline|e-?mail(?:s|ed)?|chat|post(?:al)?|mail(?:ed)?|letter|sms|text|fax)\b",
    re.IGNORECASE)
_CHANNEL_STEMS = {"phone": "phone", "telephone": "phone", "call": "phone", "hotline": "phone", "email": "email",
                  "e-mail": "email", "chat": "chat", "post": "post", "mail": "post", "letter": "post",
                  "sms": "text message", "text": "text message", "fax": "fax"}

_LINK = re.compile(
    r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\bhttps?://[^\s<>\"')\]]+"
    r"|\bwww\.[^\s<>\"')\]]+"
    # A bare domain: any name with a path ("loopr.example/help"), or a common ending alone.
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,}/[^\s<>\"')\]]*"
    r"|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|gov|edu|app|help|support|example|uk|de|fr|eu"
    r"|ca|au|in|ie|nl|es|it|jp|us)\b(?!\.\w)",
    re.IGNORECASE)
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_MONTHS = "january february march april june july august september october november december".split()
# A step: a capitalised word and what follows it up to the next ">" or the end of the clause.
_STEP = r"[A-Z0-9][^>\n.;:()\[\]]{0,60}?"
_MENU_PATH = re.compile(rf"{_STEP}(?:\s*>\s*{_STEP})+(?=\s*(?:[.;:()\[\]\n]|,|\s(?:and|or|then|to)\s|$))")
_NAME = re.compile(r"\b[A-Z][\w'’&-]*(?:\s+(?:of\s+|&\s+|and\s+)?[A-Z][\w'’&-]*)*")
_PLACEHOLDER = re.compile(r"<[A-Z_]+\d*>|\{[^}]*\}|\[fill in:[^\]]*\]")
_LABEL = re.compile(r"\b(?i:tap|click|select|press|choose|hit)\s+(?:on\s+)?(?:the\s+)?[\"'“*]*"
                    r"([A-Z][\w'’?-]*(?:\s+[a-z][\w'’?-]*){0,3})")
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")
_LABEL_STOPS = frozenset("and or then to in on at from under if so for with again button link option".split())
_NAVIGATION_VERBS = frozenset("open go tap click select choose visit navigate head press use find see check "
                              "under in from via".split())
_MD_MARKS = re.compile(r"[*_`]")
_DATE_NAMES = (*_WEEKDAYS, *_MONTHS, "may")
_DATE_WORD = re.compile(r"\b(?=[mtwfsjando])(" + "|".join(_WEEKDAYS + _MONTHS) + r")s?\b|\bMay\b(?=\s+\d)|(?<=\d\s)May\b",
                        re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|neither|nor|cannot|can't|won't|don't|doesn't|isn't|"
                       r"aren't|wasn't|weren't|didn't|haven't|hasn't|shouldn't|mustn't)\b|n't\b", re.IGNORECASE)


def _number(raw: str) -> float | None:
    raw = raw.lower()
    if raw in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[raw])
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", raw):
        raw = raw.replace(",", "")
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        return None


@dataclass(frozen=True)
class Quantity:
    """A number with its unit, in the unit class's base ("2 weeks" -> ``("minutes", 20160)``)."""

    unit: str
    amount: float
    said: str  # as written, for messages
    numbers: frozenset[str] = frozenset()  # its figures as :func:`figures` writes them ("one" -> "1")


@dataclass(frozen=True)
class Details:
    """The particulars a text states."""

    figures: frozenset[str]
    quantities: tuple[Quantity, ...]
    channels: frozenset[str]  # where the text sends the reader (a draft) or any it mentions (a source)
    links: frozenset[str]
    dates: frozenset[str]
    #: Menu paths, one tuple of steps each ("Settings", "Privacy", "Download your data").
    paths: tuple[tuple[str, ...], ...] = ()
    #: Names: in a draft sentence, its capitalised phrases ("Creator Fund"); in a source, every
    #: word it has (lower-cased), against which those phrases are checked.
    names: frozenset[str] | tuple[str, ...] = ()
    #: Capitalised words as written (a source's; a label to tap must be one of them).
    capitalised: frozenset[str] = frozenset()


def quantities(text: str) -> tuple[Quantity, ...]:
    """Numbers with units: durations, percentages and money ("3-5 business days" gives two)."""
    text = CITATION.sub(" ", text)
    out: list[Quantity] = []
    for m in _QUANTITY.finditer(text):
        unit = m.group("unit").lower()
        if unit in ("%", "percent"):
            cls, factor = "percent", 1
        else:
            cls, factor = _TIME_UNITS[unit]
            if (m.group("kind") or "").lower() in ("business", "working"):
                cls = "business days" if factor == 1440 else cls
        for raw in (m.group("a"), m.group("b")):
            value = _number(raw) if raw else None
            if value is not None:
                out.append(Quantity(cls, value * factor, m.group(0), _figure(value)))
    for m in _PERCENT.finditer(text):
        value = _number(m.group("a"))
        if value is not None:
            out.append(Quantity("percent", value, m.group(0), _figure(value)))
    lowered = text.lower()
    has_money = any(mark in lowered for mark in _MONEY_MARKS)
    for m in (_MONEY.finditer(text) if has_money else ()):
        code = _CURRENCY_CODES[(m.group("pre") or m.group("post")).lower()]
        value = _number(m.group("a") or m.group("b"))
        if value is not None:
            out.append(Quantity(code, value, m.group(0), _figure(value)))
    return tuple(dict.fromkeys(out))


def _figure(value: float) -> frozenset[str]:
    return frozenset({str(int(value)) if value == int(value) else f"{value:g}"})


def _link(raw: str) -> str:
    link = raw.lower().rstrip(".,;:!?")
    return re.sub(r"^(?:https?://)?(?:www\.)?", "", link).rstrip("/")


def links(text: str) -> frozenset[str]:
    """Web and e-mail addresses, normalised (no scheme, no ``www.``, no trailing slash)."""
    # Only words with a dot or an @ inside can be links; matching those alone is much cheaper
    # than trying the pattern at every word of a passage.
    found = set()
    for word in text.split():
        if "." in word[1:-1] or "@" in word[1:-1]:
            found.update(_link(m.group(0)) for m in _LINK.finditer(word))
    return frozenset(found)


def channels_sent_to(text: str) -> frozenset[str]:
    """The contact channels ``text`` sends its reader to ("by phone", "email us")."""
    found = set()
    for m in _CHANNEL_SENT.finditer(text):
        word = next(g for g in m.groups() if g).lower()
        found.add(_CHANNEL_WORDS[word])
    return frozenset(found)


def channels_mentioned(text: str) -> frozenset[str]:
    """Every contact channel ``text`` names at all."""
    found = set()
    for m in _CHANNEL_ANY.finditer(text):
        word = m.group(1).lower()
        stem = next((s for s in _CHANNEL_STEMS if word.startswith(s) or word.replace("-", "").startswith(s)), None)
        if stem:
            found.add(_CHANNEL_STEMS[stem])
    return frozenset(found)


def dates(text: str) -> frozenset[str]:
    """Weekday and month names ("Fridays" -> "friday")."""
    lowered = text.lower()
    if not any(name in lowered for name in _DATE_NAMES):
        return frozenset()
    return frozenset(m.group(0).lower().rstrip("s") if m.group(0).lower() != "may" else "may"
                     for m in _DATE_WORD.finditer(text))


@lru_cache(maxsize=4096)
def names(sentence: str) -> tuple[str, ...]:
    """Capitalised phrases inside a sentence ("Creator Fund", "PayPal"): not its first word,
    nor a word after a colon, bracket or quote, nor "I", a day, a month or a menu path's step."""
    plain = _PLACEHOLDER.sub(" ", CITATION.sub(" ", sentence))
    path_spans = [(m.start() + _first_step_offset(m.group(0)), m.end())
                  for m in _MENU_PATH.finditer(_MD_MARKS.sub(" ", plain))] if ">" in plain else []
    out = []
    for m in _NAME.finditer(plain):
        if any(a < m.end() and m.start() < b for a, b in path_spans):
            continue
        phrase = m.group(0).split()
        before = plain[:m.start()].rstrip()
        if not before or before[-1] in ".!?:;(\"“‘'>*-–—":
            phrase = phrase[1:]  # a capital that opens a sentence or a quote says nothing
        kept = [w for w in phrase if w.lower().rstrip("s") not in _DATE_NAMES
                and w not in ("I", "I'm", "I've", "I'd", "I'll")]
        if kept:
            out.append(" ".join(kept))
    return tuple(dict.fromkeys(out))


def ui_labels(sentence: str) -> tuple[str, ...]:
    """Button and menu labels a sentence tells the reader to use ("tap Request a refund",
    "select Appeal"): a capitalised word after tap / click / select / press / choose, with
    the lower-case words that follow it up to a conjunction or preposition (the first word is
    the one :func:`unstated` checks)."""
    out = []
    for m in _LABEL.finditer(CITATION.sub(" ", sentence)):
        label = []
        for word in m.group(1).split():
            if label and (word.lower() in _LABEL_STOPS or not word[:1].isalnum()):
                break
            label.append(word.rstrip(".,;:!?\"'”*"))
        out.append(" ".join(label))
    return tuple(dict.fromkeys(out))


def _unstated_name(name: str, source_words: frozenset[str], common_words: frozenset[str]) -> bool:
    parts = words(name)
    missing = [w for w in parts if w not in source_words]
    if not missing:
        return False
    return len(name.split()) > 1 or any(w not in common_words for w in missing)


def menu_paths(text: str) -> tuple[tuple[str, ...], ...]:
    """Menu paths ("Settings > Privacy > Download your data"), as tuples of steps.

    The first step is read back to the capitalised word before the first ">", the last one
    up to the end of its clause; it may run on into the sentence ("... > Account status and tap
    Appeal"), which :func:`unstated` allows for.
    """
    if ">" not in text:
        return ()
    out = []
    for m in _MENU_PATH.finditer(_MD_MARKS.sub("", CITATION.sub(" ", text))):
        path = m.group(0)[_first_step_offset(m.group(0)):]
        steps = [" ".join(step.split()).strip(" .,:;!?'\"") for step in path.split(">")]
        if all(steps):
            out.append(tuple(steps))
    return tuple(out)


def _first_step_offset(match: str) -> int:
    """Where a path's first step starts in its match: at the capitalised words just before the
    first ">" ("Go to Settings" -> "Settings"), after a navigation verb ("Open Settings")."""
    head = match.split(">", 1)[0]
    spans = [(w.start(), w.group(0)) for w in re.finditer(r"\S+", head)]
    start = len(spans)
    while start > 0 and (spans[start - 1][1][:1].isupper() or spans[start - 1][1][:1].isdigit()):
        start -= 1
    if len(spans) - start > 1 and spans[start][1].lower() in _NAVIGATION_VERBS:
        start += 1
    return spans[start][0] if start < len(spans) else 0


def _within(path: tuple[str, ...], theirs: tuple[str, ...]) -> bool:
    """Whether ``path`` follows ``theirs`` for its length: the same steps, the last one
    starting as theirs does (either may run on into the sentence)."""
    if len(path) == 1:
        return False
    mine = [step.lower() for step in path]
    known = [step.lower() for step in theirs]
    n = len(mine)
    for start in range(len(known) - n + 1):
        run = known[start:start + n]
        # A sentence's first word is capitalised too: "Open Settings" is the step "Settings".
        first = mine[0] == run[0] or mine[0].endswith(" " + run[0]) or run[0].endswith(" " + mine[0])
        if first and mine[1:-1] == run[1:-1] and (mine[-1].startswith(run[-1]) or run[-1].startswith(mine[-1])):
            return True
    return False


@lru_cache(maxsize=4096)
def source_details(text: str) -> Details:
    """What a source (a cited passage, or the ticket) states: every channel it mentions counts.

    Cached: the same passages are cited draft after draft.
    """
    return Details(frozenset(figures(text)), quantities(text), channels_mentioned(text), links(text), dates(text),
                   menu_paths(text), frozenset(words(text)), frozenset(_CAPITALISED.findall(text)))


def stated_details(sentence: str) -> Details:
    """What a draft sentence states: the channels it sends the reader to, not every mention."""
    return Details(frozenset(figures(sentence)), quantities(sentence), channels_sent_to(sentence), links(sentence),
                   dates(sentence), menu_paths(sentence), names(sentence))


def merge(details: "list[Details] | tuple[Details, ...]") -> Details:
    """The union of several sources' details."""
    return Details(frozenset().union(*(d.figures for d in details)),
                   tuple(q for d in details for q in d.quantities),
                   frozenset().union(*(d.channels for d in details)),
                   frozenset().union(*(d.links for d in details)),
                   frozenset().union(*(d.dates for d in details)),
                   tuple(p for d in details for p in d.paths),
                   frozenset().union(*(d.names for d in details)),
                   frozenset().union(*(d.capitalised for d in details)))


def unstated(sentence: str, known: Details, common_words: frozenset[str] = frozenset()
             ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(figures, other details)`` that ``sentence`` states and ``known`` does not.

    ``common_words`` (the embedding model's vocabulary of whole words) lets a single capitalised
    word that is an ordinary word pass ("our Support team"); a phrase of two or more ("Creator
    Fund") or a word outside it ("PayPal") is a name the sources must hold.

    A figure is stated when ``known`` has it, or when it belongs to a quantity ``known``
    states in other units ("2 weeks" against "14 days"). A quantity whose figure ``known``
    has, but in another unit ("14 hours" against "14 days"), is an unstated detail.
    """
    mine = stated_details(sentence)
    known_amounts = {(q.unit, round(q.amount, 6)) for q in known.quantities}
    same_quantity_figures: set[str] = set()
    wrong_unit: list[str] = []
    known_numbers = known.figures.union(*(q.numbers for q in known.quantities))
    for q in mine.quantities:
        if (q.unit, round(q.amount, 6)) in known_amounts:
            same_quantity_figures |= figures(q.said)
        elif q.numbers <= known_numbers:
            wrong_unit.append(q.said.strip())
    missing_figures = tuple(sorted(mine.figures - known.figures - same_quantity_figures))
    terms = list(dict.fromkeys(wrong_unit))
    terms += [f"contact by {c}" for c in sorted(mine.channels - known.channels)]
    terms += sorted(link for link in mine.links if not any(k == link or k.startswith(link) for k in known.links))
    terms += [d.capitalize() for d in sorted(mine.dates - known.dates)]
    terms += [name for name in mine.names if _unstated_name(name, known.names, common_words)]
    # A label to tap must be the source's, however common its word ("tap Dispute" for "tap Appeal").
    # Its first word decides ("tap Request a refund now" says more than the label, not another),
    # and it must be capitalised in the sources too: "dispute" in a policy is no "Dispute" button.
    terms += [label for label in ui_labels(sentence) if label.split()[0] not in known.capitalised]
    terms += [" > ".join(path) for path in mine.paths if not any(_within(path, theirs) for theirs in known.paths)]
    return missing_figures, tuple(dict.fromkeys(terms))


def negated(text: str) -> bool:
    """Whether ``text`` says "not" in any of its forms."""
    return bool(_NEGATION.search(CITATION.sub(" ", text).replace("\u2019", "'")))


_CLAUSE_BREAK = re.compile(
    r"\s*(?:;|:|\s[-–—]\s|,?\s+(?:and|but|so|or|because|while|although|though|whereas)\s+"
    r"|,\s+(?=(?:if|when|once|unless|which|where|then)\b))\s*", re.IGNORECASE)


_LEADING_CONDITION = re.compile(r"^\s*((?:if|when|once|unless|after|before|until|as soon as)\b[^,]+),\s*(.+)$",
                                re.IGNORECASE | re.DOTALL)


def clauses(sentence: str, min_words: int = 3) -> list[str]:
    """The clauses of a sentence (split at ";", ":", dashes, conjunctions and a comma before
    "if"/"when"/...), those of at least ``min_words`` words."""
    parts = []
    for part in _CLAUSE_BREAK.split(CITATION.sub(" ", sentence)):
        # "If she is in danger, please call the police": the condition is a claim of its own.
        m = _LEADING_CONDITION.match(part or "")
        parts.extend([m.group(1), m.group(2)] if m else [part])
    return [p.strip(" ,.") for p in parts if p and len(p.split()) >= min_words]


#: Words that reverse a claim as "not" does: with one of them on either side, "not" on the
#: other may restate it ("not available after 14 days" / "available within 14 days").
_REVERSING = frozenset(
    "after before within unless without except only outside inside beyond longer shorter more less fewer over under "
    "until once later earlier past expired instead other unable fail fails failed refuse refused deny denied "
    "prohibited forbidden banned blocked disallowed impossible unavailable ineligible invalid lose lost stop stops "
    "stopped none neither either rather any all every".split())
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def contradicts(sentence: str, source_sentence: str) -> bool:
    """Whether one of the two says "not" and the other does not, and nothing else in their
    wording could reverse it back (used on restatements only)."""
    if negated(sentence) == negated(source_sentence):
        return False
    mine = set(_TOKEN.findall(sentence.lower().replace("\u2019", "'")))
    theirs = set(_TOKEN.findall(source_sentence.lower().replace("\u2019", "'")))
    return not (mine ^ theirs) & _REVERSING
