"""Ticket language detection (lingua, offline), used when neither options nor ticket name one."""

from __future__ import annotations

import threading

_DETECTOR = None
_LOCK = threading.Lock()
_LANGUAGES = ("ENGLISH", "SPANISH", "PORTUGUESE", "FRENCH", "GERMAN", "ITALIAN", "DUTCH", "POLISH", "TURKISH",
              "RUSSIAN", "INDONESIAN", "VIETNAMESE", "JAPANESE", "KOREAN", "CHINESE", "ARABIC", "HINDI")


def _detector():
    global _DETECTOR
    with _LOCK:
        if _DETECTOR is None:
            from lingua import Language, LanguageDetectorBuilder

            languages = [getattr(Language, n) for n in _LANGUAGES if hasattr(Language, n)]
            _DETECTOR = LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
        return _DETECTOR


def detect_language(text: str, default: str = "en") -> str:
    """ISO 639-1 code of ``text``; ``default`` for short or ambiguous text.

    Short chatty tickets ("refund pls") are too short to detect reliably, and the
    knowledge base is mostly English, so the default wins below 25 characters.
    """
    sample = " ".join((text or "").split())[:1000]
    if len(sample) < 25:
        return default
    found = _detector().detect_language_of(sample)
    return found.iso_code_639_1.name.lower() if found is not None else default
