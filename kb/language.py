"""Language detection (lingua, offline) for documents that declare none and for tickets."""

from __future__ import annotations

import threading

_DETECTOR = None
_LOCK = threading.Lock()
#: Languages a global support team meets most; a closed set keeps lingua small and fast.
_LANGUAGES = ("ENGLISH", "SPANISH", "PORTUGUESE", "FRENCH", "GERMAN", "ITALIAN", "DUTCH", "POLISH", "TURKISH",
              "RUSSIAN", "UKRAINIAN", "ARABIC", "HINDI", "INDONESIAN", "MALAY", "VIETNAMESE", "THAI", "JAPANESE",
              "KOREAN", "CHINESE", "TAGALOG", "SWEDISH", "ROMANIAN")


def _detector():
    global _DETECTOR
    with _LOCK:
        if _DETECTOR is None:
            from lingua import Language, LanguageDetectorBuilder

            languages = [getattr(Language, name) for name in _LANGUAGES if hasattr(Language, name)]
            _DETECTOR = LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
        return _DETECTOR


def detect_language(text: str, default: str | None = None, *, min_chars: int = 20) -> str | None:
    """ISO 639-1 code of ``text``'s language, or ``default`` when unsure or too short.

    Short chatty text ("refund pls") cannot be detected reliably, hence ``min_chars``.
    """
    sample = " ".join((text or "").split())[:2000]
    if len(sample) < min_chars:
        return default
    language = _detector().detect_language_of(sample)
    if language is None:
        return default
    return language.iso_code_639_1.name.lower()
