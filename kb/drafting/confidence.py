"""Retrieval confidence and the insufficient-guidance decision.

Confidence is the best dense (cosine) score among the retrieved passages: the fused RRF
score only ranks, it does not say whether anything matched at all, while the cosine of
the best passage does. BM25 scores were also measured and separate the classes worse.

Calibration (re-checked by ``tests/kb/drafting/test_offline_demo.py``, demo KB, k=6):

* on-topic: the 34 normal tickets of ``demo/tickets.jsonl`` (all have relevant documents):
  lowest confidence 0.409, next 0.475;
* off-topic: 20 plausible tickets the KB does not cover (scheduling posts, dark mode,
  duets, app crashes, ...; ``demo/tickets_not_covered.jsonl``): highest
  0.416, then 0.394, 0.347; 19 of 20 are below 0.40. (Before PDF headings followed the font,
  one of them scored 0.503 against a PDF chunk headed by a table cell: 18 of 20.)

Threshold **0.40** (``Settings.draft_min_confidence``): no on-topic normal ticket is
declared insufficient and 19/20 off-topic tickets are. The 18 high-risk demo tickets
score lower (0.25-0.40 for four of them) because distress is worded unlike any SOP;
they are never declared insufficient when the escalation procedure was found, since
that procedure *is* the guidance.

``replydesk eval threshold`` (:mod:`eval.threshold`) refits the threshold for another model or
knowledge base from answerable and not-covered tickets; on the demo tickets it lands at 0.4016.
"""

from __future__ import annotations

from typing import Iterable

from kb.types import Hit

DEFAULT_MIN_CONFIDENCE = 0.40


def retrieval_confidence(hits: Iterable[Hit]) -> float:
    """Best dense cosine among ``hits`` (0.0 when there is none)."""
    return max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)


def is_insufficient(confidence: float, threshold: float, *, escalation_found: bool = False) -> bool:
    """Whether the draft must defer to a knowledge owner instead of answering."""
    if escalation_found:
        return False
    return confidence < threshold
