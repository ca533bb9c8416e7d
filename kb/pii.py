"""Offline redaction of personal data in tickets before they reach a drafter or a log.

Recognised kinds and how:

* ``EMAIL``: a regex for ``local@domain.tld``.
* ``PHONE``: candidate digit runs are found with a cheap regex, then confirmed with the
  ``phonenumbers`` library (``PhoneNumberMatcher`` at ``Leniency.VALID``), tried with
  several regions so national formats ("07911 123456", "06 12 34 56 78") are found as
  well as international ones. Digit runs labelled as order/ticket/invoice/video numbers
  are left alone.
* ``CARD``: 13-19 digit runs (spaces/dashes allowed) with a known issuer prefix that
  pass the Luhn check.
* ``IBAN``: country code + check digits + BBAN that pass the ISO 7064 mod-97 check.
* ``IP``: IPv4 (octets validated; not after "version"/"v") and IPv6 (validated by
  :mod:`ipaddress`).
* ``ID``: US SSN (dashed or spaced, or bare with an "SSN" keyword), UK National
  Insurance numbers, and passport / driving-licence / national-id numbers when a
  keyword precedes them.
* ``ADDRESS``: US/UK street addresses (number + capitalised street name + street type,
  optional unit, city, state and ZIP), PO boxes and UK postcodes.
* ``HANDLE``: ``@handles``, only when ``handles=True``.

Why not Presidio: ``presidio-analyzer`` hard-depends on spaCy (and its compiled
stack) even when only pattern recognizers are used, and its e-mail recognizer uses
``tldextract``, which by default fetches the public-suffix list over the network. The
only third-party dependency here is ``phonenumbers`` (pure Python, offline metadata).

Placeholders are ``<KIND_N>``. The same value (compared after normalisation: e-mails
case-insensitively, phones by E.164, cards/IDs by their characters without separators)
gets the same placeholder within one text. Numbers already used by placeholder-like
strings in the input (a ticket quoting "<EMAIL_1>") are skipped so a placeholder never
collides with existing text, and :meth:`RedactedText.restore` touches only the
placeholders this redaction created.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from dataclasses import dataclass
from typing import Iterator

KINDS: tuple[str, ...] = ("EMAIL", "PHONE", "CARD", "IBAN", "ADDRESS", "ID", "IP", "HANDLE")

#: Regions tried, in order, for numbers written without a country code.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "IN", "DE", "FR", "AU", "BR", "ES", "IT", "MX", "NG", "PH")

# Earlier kinds win when two recognisers claim overlapping text (an IBAN's digits must
# not also come out as a phone number).
_PRIORITY = {k: i for i, k in enumerate(("EMAIL", "IBAN", "CARD", "ID", "IP", "ADDRESS", "PHONE", "HANDLE"))}
_EXTRA_PRIORITY = len(_PRIORITY)


@dataclass(frozen=True)
class Redaction:
    """One redacted occurrence.

    Attributes:
        kind: Kind of personal data (``EMAIL``, ``PHONE``, ...).
        placeholder: Placeholder that replaced it, e.g. ``<EMAIL_1>``.
        original: The text that was removed.
        start: Start offset of ``original`` in the input text.
        end: End offset (exclusive) of ``original`` in the input text.
    """

    kind: str
    placeholder: str
    original: str
    start: int = -1
    end: int = -1


@dataclass(frozen=True)
class RedactedText:
    """Text with personal data replaced by placeholders.

    Attributes:
        text: The redacted text.
        redactions: Every redacted occurrence, in input order.
    """

    text: str
    redactions: tuple[Redaction, ...]

    @property
    def mapping(self) -> dict[str, str]:
        """Placeholder -> original (first occurrence) for the placeholders this redaction created."""
        out: dict[str, str] = {}
        for r in self.redactions:
            out.setdefault(r.placeholder, r.original)
        return out

    def restore(self, text: str) -> str:
        """Put the originals back into ``text`` (e.g. a draft written from the redacted ticket).

        Placeholders are matched tolerantly (``< EMAIL_1 >``), and only those created by
        this redaction are replaced; anything else is left as it is. One placeholder can
        stand for several spellings of one value ("A@B.COM", "a@b.com"): the n-th
        occurrence gets the n-th recorded spelling and later ones the first, so
        ``restore(self.text)`` gives back the input exactly.

        Args:
            text: Text containing placeholders.

        Returns:
            The text with each known placeholder replaced by its original value.
        """
        originals: dict[str, list[str]] = {}
        for r in self.redactions:
            originals.setdefault(r.placeholder[1:-1], []).append(r.original)
        if not originals:
            return text
        used: dict[str, int] = {}

        def _sub(m: re.Match[str]) -> str:
            key = m.group(1)
            n = used.get(key, 0)
            used[key] = n + 1
            values = originals[key]
            return values[n] if n < len(values) else values[0]

        pattern = re.compile(r"<\s*(" + "|".join(re.escape(k) for k in sorted(originals, key=len, reverse=True)) + r")\s*>")
        return pattern.sub(_sub, text)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str
    key: str  # normalised value: equal keys share a placeholder


# --------------------------------------------------------------------------- patterns
_EMAIL = r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b"
_CARD = r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])"
_IBAN = r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])"
_IPV4 = r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)"
_IPV6 = r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
_SSN = r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])"
_SSN_BARE = r"(?i:\b(?:ssn|social security(?: number| no\.?)?)\b)[\s:#-]*(?:is\s+)?((?!000|666|9\d\d)\d{3}(?!00)\d{2}(?!0000)\d{4})\b"
_NINO = r"\b(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
_KEYWORD_ID = (
    r"(?i:\b(?:passport|driver'?s? licen[cs]e|driving licen[cs]e|licen[cs]e|national id(?:entity)?|id card|identity card|"
    r"tax id|tin|aadhaar|aadhar|pan card|nin|sin|dni|nie|personalausweis)\b(?:\s+(?:number|no\.?|num|#|id))?)"
    r"\s*(?:is|was|:|#|=|-)?\s*"
    r"((?=[A-Z0-9 -]*\d)[A-Z0-9](?:[A-Z0-9]|[ -](?=[A-Z0-9])){5,17})\b"
)
_STREET_FULL = (
    r"Street|Avenue|Road|Boulevard|Lane|Drive|Court|Way|Place|Terrace|Close|Crescent|Parkway|Highway|Circle|Square|"
    r"Gardens|Grove|Row|Mews|Hill|Walk|Parade|Trail|Plaza|Alley|Loop|Path|Pike|Broadway"
)
_STREET_ABBR = r"St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Terr|Cres|Pkwy|Hwy|Cir|Sq|Trl"
# Only an abbreviation takes a trailing dot: "Baker Street." ends a sentence.
_STREET_TYPE = rf"(?:(?:{_STREET_FULL})\b|(?:{_STREET_ABBR})\b\.?)"
_NAME_WORD = r"(?!(?:the|a|an|to|for|of|on|in|at|and|or|my|your|our|by|from|with|is|was|videos?|tickets?|items?|days?|times?)\b)(?:[A-Z][A-Za-z'.-]*|\d{1,3}(?:st|nd|rd|th))"
_UNIT = r"(?:,?\s*(?i:apt|apartment|suite|ste|unit|flat|floor|fl|#)\.?\s*[A-Za-z0-9-]+)"
_CITY_STATE_ZIP = (
    r"(?:,\s*(?:[A-Z][a-z][A-Za-z'.-]*(?:\s[A-Z][a-z][A-Za-z'.-]*){0,2}))?"  # city
    r"(?:,?\s*(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b"  # UK postcode
    r"|[A-Z]{2}\s+\d{5}(?:-\d{4})?\b|[A-Z]{2}(?![A-Za-z0-9])))?"  # or US state (+ ZIP)
)
_DIRECTION = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)"
_ADDRESS = (
    rf"(?:(?i:flat|apt|apartment|unit|suite)\s*[A-Za-z0-9-]+,?\s+)?"
    rf"\b\d{{1,6}}[A-Za-z]?(?:-\d{{1,5}})?\s+(?:{_DIRECTION}\.?\s+)?"
    rf"(?:{_NAME_WORD}\s+){{1,4}}{_STREET_TYPE}(?:\s+{_DIRECTION}\b\.?)?{_UNIT}?{_CITY_STATE_ZIP}"
)
# People often type addresses in lower case. Only street types that are rarely ordinary
# words qualify, and the type must end the phrase ("3 hour road trip" is not an address).
_LOWER_STREET_TYPES = r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|parkway|pkwy|highway|hwy|terrace"
_LOWER_NAME_WORD = r"(?!(?:the|a|an|to|for|of|on|in|at|and|or|my|your|our|by|from|with|is|was|hour|minute|day|week|long|short|main character)\b)(?:[A-Za-z][a-z'.-]*|\d{1,3}(?:st|nd|rd|th))"
_ADDRESS_LOWER = (
    rf"\b\d{{1,6}}[a-z]?\s+(?:{_LOWER_NAME_WORD}\s+){{1,3}}(?i:{_LOWER_STREET_TYPES})\b"
    rf"(?=\s*(?:[,.;\n]|$|(?i:apt|apartment|unit|suite|flat|#)))"
    rf"(?:,?\s*(?i:apt|apartment|suite|unit|flat|#)\.?\s*[a-z0-9-]+)?"
)
_PO_BOX = r"\b(?i:p\.?\s?o\.?\s?box)\s+\d{1,6}\b"
_UK_POSTCODE = r"\b(?:[A-PR-UWYZ][A-HK-Y]?\d[A-HJKPS-UW\d]?)\s?\d[ABD-HJLNP-UW-Z]{2}\b"
_HANDLE = r"(?<![\w.@/])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?\b"
_PHONE_CANDIDATE = r"(?<![\w.])(?:\+|00)?\(?\d[\d\s().\-/]{5,22}\d(?![\w])"
# Digit runs right after these words are identifiers, not phone numbers.
_NOT_PHONE_BEFORE = re.compile(
    r"(?i:\b(?:order|orders|invoice|ticket|case|ref|reference|transaction|txn|tracking|video|clip|post|id|"
    r"account|acct|payout|sku|item|serial|version|build|receipt|confirmation|booking|claim|report)\b"
    r"(?:\s+(?:number|no\.?|num|id|#))?\s*[:#]?\s*$|#\s*$)"
)
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")
_PLACEHOLDER_LIKE = re.compile(r"<\s*([A-Z][A-Z0-9]*)_(\d+)\s*>")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|5|4[4-9]|2)|35)")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban_ok(compact: str) -> bool:
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


class PiiRedactor:
    """Finds and replaces personal data; compiled recognizers are built once, lazily.

    Args:
        phone_regions: Regions tried for phone numbers written without a country code.

    Thread-safe: the compiled state is immutable once built.
    """

    def __init__(self, phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> None:
        self._phone_regions = tuple(phone_regions)
        self._compiled: dict[str, re.Pattern[str]] | None = None
        self._lock = threading.Lock()
        self._extra_cache: dict[tuple[tuple[str, str], ...], tuple[tuple[str, re.Pattern[str]], ...]] = {}

    # ---------------------------------------------------------------- public API
    def redact(
        self, text: str, *, handles: bool = False, extra_patterns: dict[str, str] | None = None
    ) -> RedactedText:
        """Replace personal data in ``text`` with ``<KIND_N>`` placeholders.

        Args:
            text: Input text (a ticket, a conversation).
            handles: Also redact ``@handles``.
            extra_patterns: Additional ``{KIND: regex}`` recognizers (kind is upper-cased;
                if the regex has a group, group 1 is redacted, else the whole match).

        Returns:
            A :class:`RedactedText` with the redacted text and every redaction.
        """
        if not text:
            return RedactedText(text or "", ())
        chosen = self._spans(text, handles=handles, extra=self._extra(extra_patterns))
        return _apply(text, chosen)

    def find(self, text: str, *, handles: bool = False) -> list[tuple[str, int, int]]:
        """Detected ``(kind, start, end)`` spans without replacing anything."""
        return [(s.kind, s.start, s.end) for s in self._spans(text, handles=handles, extra=())]

    # ---------------------------------------------------------------- internals
    def _patterns(self) -> dict[str, re.Pattern[str]]:
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = {
                        "email": re.compile(_EMAIL),
                        "card": re.compile(_CARD),
                        "iban": re.compile(_IBAN),
                        "ipv4": re.compile(_IPV4),
                        "ipv6": re.compile(_IPV6),
                        "ssn": re.compile(_SSN),
                        "ssn_bare": re.compile(_SSN_BARE),
                        "nino": re.compile(_NINO),
                        "keyword_id": re.compile(_KEYWORD_ID),
                        "address": re.compile(_ADDRESS),
                        "address_lower": re.compile(_ADDRESS_LOWER),
                        "po_box": re.compile(_PO_BOX),
                        "uk_postcode": re.compile(_UK_POSTCODE),
                        "handle": re.compile(_HANDLE),
                        "phone": re.compile(_PHONE_CANDIDATE),
                        "version_before": re.compile(r"(?i:(?:\bv|version|ver\.?|build|release)\s*)$"),
                    }
        return self._compiled

    def _extra(self, extra_patterns: dict[str, str] | None) -> tuple[tuple[str, re.Pattern[str]], ...]:
        if not extra_patterns:
            return ()
        key = tuple(sorted(extra_patterns.items()))
        cached = self._extra_cache.get(key)
        if cached is None:
            cached = tuple((k.upper(), re.compile(v)) for k, v in key)
            if len(self._extra_cache) < 64:
                self._extra_cache[key] = cached
        return cached

    def _spans(
        self, text: str, *, handles: bool, extra: tuple[tuple[str, re.Pattern[str]], ...]
    ) -> list[_Span]:
        spans = list(self._find(text, handles=handles, extra=extra))
        # Phone matching is the expensive step, so digit runs already claimed by a
        # higher-priority kind (card, IBAN, ID, IP, address) are not tried at all.
        claimed = [x for x in spans if _PRIORITY.get(x.kind, _EXTRA_PRIORITY) < _PRIORITY["PHONE"]]
        spans.extend(self._phones(text, self._patterns()["phone"], claimed))
        return _resolve_overlaps(spans)

    def _find(
        self, text: str, *, handles: bool, extra: tuple[tuple[str, re.Pattern[str]], ...]
    ) -> Iterator[_Span]:
        p = self._patterns()
        for m in p["email"].finditer(text):
            yield _Span(m.start(), m.end(), "EMAIL", m.group().lower())
        for m in p["iban"].finditer(text):
            compact = m.group().replace(" ", "")
            if _iban_ok(compact):
                yield _Span(m.start(), m.end(), "IBAN", compact)
        for m in p["card"].finditer(text):
            digits = re.sub(r"\D", "", m.group())
            if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and _luhn_ok(digits):
                yield _Span(m.start(), m.end(), "CARD", digits)
        yield from self._ids(text, p)
        for m in p["ipv4"].finditer(text):
            if all(int(o) <= 255 for o in m.group().split(".")) and not p["version_before"].search(text, 0, m.start()):
                yield _Span(m.start(), m.end(), "IP", m.group())
        for m in p["ipv6"].finditer(text):
            cand = m.group()
            if cand.count(":") >= 2 and len(cand) >= 6 and _valid_ipv6(cand):
                yield _Span(m.start(), m.end(), "IP", cand.lower())
        for name in ("address", "address_lower", "po_box", "uk_postcode"):
            for m in p[name].finditer(text):
                yield _Span(m.start(), m.end(), "ADDRESS", re.sub(r"\s+", " ", m.group()).lower())
        if handles:
            for m in p["handle"].finditer(text):
                yield _Span(m.start(), m.end(), "HANDLE", m.group().lower())
        for kind, rx in extra:
            for m in rx.finditer(text):
                g = 1 if rx.groups else 0
                if m.start(g) < m.end(g):
                    yield _Span(m.start(g), m.end(g), kind, m.group(g))

    @staticmethod
    def _ids(text: str, p: dict[str, re.Pattern[str]]) -> Iterator[_Span]:
        for m in p["ssn"].finditer(text):
            yield _Span(m.start(), m.end(), "ID", re.sub(r"\D", "", m.group()))
        for m in p["ssn_bare"].finditer(text):
            yield _Span(m.start(1), m.end(1), "ID", m.group(1))
        for m in p["nino"].finditer(text):
            yield _Span(m.start(), m.end(), "ID", m.group().replace(" ", "").upper())
        for m in p["keyword_id"].finditer(text):
            yield _Span(m.start(1), m.end(1), "ID", re.sub(r"[ -]", "", m.group(1)).upper())

    def _phones(self, text: str, candidate: re.Pattern[str], claimed: list[_Span]) -> Iterator[_Span]:
        # Imported here: phonenumbers loads its metadata lazily, and nothing in this
        # module should cost anything before the first redaction.
        import phonenumbers
        from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

        for m in candidate.finditer(text):
            cand = m.group()
            digits = sum(ch.isdigit() for ch in cand)
            if digits < 7 or digits > 15 or _DATE_LIKE.match(cand.strip()):
                continue
            if _NOT_PHONE_BEFORE.search(text, max(0, m.start() - 30), m.start()):
                continue
            if any(c.start <= m.start() and m.end() <= c.end for c in claimed):
                continue
            # With a country code the region is irrelevant: one attempt is enough.
            international = cand.lstrip("(").startswith("+")
            for region in self._phone_regions[:1] if international else self._phone_regions:
                found = next(iter(PhoneNumberMatcher(cand, region, leniency=Leniency.VALID)), None)
                if found is not None:
                    key = phonenumbers.format_number(found.number, PhoneNumberFormat.E164)
                    yield _Span(m.start() + found.start, m.start() + found.end, "PHONE", key)
                    break


def _valid_ipv6(cand: str) -> bool:
    try:
        ipaddress.IPv6Address(cand)
    except ValueError:
        return False
    return True


def _resolve_overlaps(spans: list[_Span]) -> list[_Span]:
    """Keep non-overlapping spans: higher-priority kind first, then the longer span."""
    spans.sort(key=lambda s: (_PRIORITY.get(s.kind, _EXTRA_PRIORITY), -(s.end - s.start), s.start))
    taken: list[_Span] = []
    for s in spans:
        if all(s.end <= t.start or s.start >= t.end for t in taken):
            taken.append(s)
    taken.sort(key=lambda s: s.start)
    return taken


def _apply(text: str, spans: list[_Span]) -> RedactedText:
    # Numbers already used by placeholder-like strings in the input are reserved, so a
    # new placeholder never equals text the customer wrote.
    reserved: dict[str, set[int]] = {}
    for m in _PLACEHOLDER_LIKE.finditer(text):
        reserved.setdefault(m.group(1), set()).add(int(m.group(2)))
    assigned: dict[tuple[str, str], str] = {}
    counters: dict[str, int] = {}
    out: list[str] = []
    redactions: list[Redaction] = []
    pos = 0
    for s in spans:
        ident = (s.kind, s.key)
        placeholder = assigned.get(ident)
        if placeholder is None:
            n = counters.get(s.kind, 0) + 1
            while n in reserved.get(s.kind, ()):
                n += 1
            counters[s.kind] = n
            placeholder = assigned[ident] = f"<{s.kind}_{n}>"
        out.append(text[pos:s.start])
        out.append(placeholder)
        redactions.append(Redaction(s.kind, placeholder, text[s.start:s.end], s.start, s.end))
        pos = s.end
    out.append(text[pos:])
    return RedactedText("".join(out), tuple(redactions))


_default: PiiRedactor | None = None
_default_lock = threading.Lock()


def _default_redactor() -> PiiRedactor:
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = PiiRedactor()
    return _default


def redact(text: str, *, handles: bool = False, extra_patterns: dict[str, str] | None = None) -> RedactedText:
    """Redact personal data with a shared, lazily built :class:`PiiRedactor`.

    Args:
        text: Input text.
        handles: Also redact ``@handles``.
        extra_patterns: Additional ``{KIND: regex}`` recognizers.

    Returns:
        The :class:`RedactedText`.
    """
    return _default_redactor().redact(text, handles=handles, extra_patterns=extra_patterns)

