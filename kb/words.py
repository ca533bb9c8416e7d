"""Words of any script, the same way for the BM25 index, title linking and the drafting checks.

Latin text loses its accents ("café" -> "cafe") and is lower-cased; letters of other scripts
are kept as they are (Cyrillic, Greek, Arabic, Devanagari, Hangul: words between spaces).
Chinese, Japanese and Thai are written without spaces between words, so a run of their
characters becomes overlapping character pairs ("退款政策" -> "退款", "款政", "政策"), the
usual unit for searching them without a dictionary.
"""

from __future__ import annotations

import re
import unicodedata

# Scripts written without spaces: Han, Hiragana, Katakana (and their extensions), Thai, Lao,
# Khmer, Myanmar.
_UNSPACED = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
# Combining marks are not word characters to ``re``, but Indic vowel signs, Arabic and Hebrew
# points and the accents left on other scripts belong to their words.
_MARKS = "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0900-\u0dff"
_LETTER = rf"(?:[^\W_{_UNSPACED}]|[{_MARKS}])"
_WORD = re.compile(rf"[{_UNSPACED}]+|{_LETTER}+(?:'(?:[^\W\d_{_UNSPACED}]|[{_MARKS}])+)?")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_UNSPACED_RUN = re.compile(rf"[{_UNSPACED}]")


def _accent_bearing(ch: str) -> bool:
    """Latin and Greek letters, whose accents searchers leave out ("cafe" for "café")."""
    return ch < "\u0250" or "\u0370" <= ch <= "\u03ff" or "\u1e00" <= ch <= "\u1fff"


def _fold(run: str, before: str) -> str:
    """NFKD, Latin and Greek accents dropped, NFC again; ``before`` is the character the run follows."""
    kept = []
    strip = bool(before) and _accent_bearing(before)
    for ch in unicodedata.normalize("NFKD", run):
        if unicodedata.combining(ch):
            if strip:
                continue
        else:
            strip = _accent_bearing(ch)
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept))


def normalise(text: str) -> str:
    """Lower-case, strip Latin and Greek accents, unify apostrophes; letters of every script
    are kept (the vowel signs of Devanagari, Thai or Arabic are part of their words)."""
    if not text.isascii():
        # Only the non-ASCII runs need the per-character work; English text has few.
        text = _NON_ASCII.sub(lambda m: _fold(m.group(0), text[m.start() - 1] if m.start() else ""), text)
    return text.lower().replace("\u2019", "'")


def words(text: str) -> list[str]:
    """The words of ``text`` after :func:`normalise`; runs of unspaced scripts as character pairs.

    ASCII text gives exactly what ``[a-z0-9]+(?:'[a-z]+)?`` on its lower-cased form gives.
    """
    if text.isascii():  # the common case, twice as fast with the plain pattern
        return _ASCII_WORD.findall(text.lower())
    return _any_script_words(text)


def _any_script_words(text: str) -> list[str]:
    """:func:`words` without its ASCII shortcut (for ASCII text both give the same)."""
    out = []
    for word in _WORD.findall(normalise(text)):
        if _UNSPACED_RUN.match(word):
            out.extend([word] if len(word) == 1 else [word[i:i + 2] for i in range(len(word) - 1)])
        else:
            out.append(word)
    return out
