"""Workspace warm-up: the first draft must not wait for the model and indexes to load."""

from __future__ import annotations

import logging

import pytest

from kb.drafting.models import DraftOptions
from kb.drafting.service import draft_reply
from kb.knowledge_base import KnowledgeBase
from kb.services.workspace import Workspace
from kb.types import Ticket
from tests.conftest import DEMO_KB, make_settings


def _keyword_workspace(settings, embedder) -> Workspace:
    from ingest.pipeline import Ingestor

    kb = KnowledgeBase(settings, embedder=embedder)
    report = Ingestor(kb).ingest_paths([DEMO_KB / "docs"])
    assert not report.failed
    return Workspace(settings, kb=kb)


def test_warm_up_searches_once_and_encodes_the_risk_exemplars(settings, keyword_embedder):
    ws = _keyword_workspace(settings, keyword_embedder)
    keyword_embedder.calls.clear()

    ws.warm_up()

    # one query embedding for the probe, then the risk exemplar bank (a hundred-odd sentences)
    assert keyword_embedder.calls[0] == 1
    assert any(n > 50 for n in keyword_embedder.calls[1:])
    keyword_embedder.calls.clear()
    draft_reply(Ticket(text="my payout is on hold since I changed my bank"), ws.retriever, ws.settings,
                DraftOptions())
    assert not any(n > 50 for n in keyword_embedder.calls), "the exemplar bank was encoded again"


def test_warm_up_skips_the_risk_layer_when_it_is_off(tmp_path, keyword_embedder):
    settings = make_settings(tmp_path / "home", draft_semantic_risk=False)
    ws = _keyword_workspace(settings, keyword_embedder)
    keyword_embedder.calls.clear()

    ws.warm_up()

    assert keyword_embedder.calls == [1]


def test_background_warm_up_logs_a_failure_instead_of_raising(settings, caplog):
    class BrokenEmbedder:
        dimension = 8
        max_tokens = 256

        def count_tokens(self, text):
            return len(text.split())

        def encode(self, texts):
            raise OSError("model.safetensors: checksum mismatch")

    ws = Workspace(settings, kb=KnowledgeBase(settings, embedder=BrokenEmbedder()))
    with caplog.at_level(logging.WARNING, logger="kb.services.workspace"):
        thread = ws.start_warm_up()
        thread.join(timeout=30)

    assert not thread.is_alive()
    assert thread.daemon
    assert "warm-up failed" in caplog.text
    assert "checksum mismatch" in caplog.text


@pytest.mark.slow
def test_after_warm_up_the_first_draft_does_not_load_the_model(tmp_path):
    """A fresh, unloaded real embedder: warm-up loads it, so the first draft is fast."""
    from ingest.pipeline import Ingestor
    from kb.embedder import SentenceTransformerEmbedder

    settings = make_settings(tmp_path / "home")
    fresh = SentenceTransformerEmbedder.from_settings(settings)
    kb = KnowledgeBase(settings, embedder=fresh)
    assert not Ingestor(kb).ingest_paths([DEMO_KB / "qa"]).failed
    ws = Workspace(settings, kb=KnowledgeBase(settings, embedder=SentenceTransformerEmbedder.from_settings(settings)))
    assert ws.kb._embedder._model is None  # not through .embedder: that checks the model against the index

    thread = ws.start_warm_up()
    thread.join(timeout=120)
    embedder = ws.kb.embedder
    # The warm-up loaded what embeds queries: ONNX Runtime alone when this machine exported and
    # checked the graph before (the ingest above did), else PyTorch with the graph.
    assert embedder._standalone_resolved and embedder.active_backend == "onnx"
    assert embedder._standalone is not None or (embedder._model is not None and embedder._onnx_resolved)

    def load_again():
        raise AssertionError("the first draft loaded the model again")

    def build_again(model):
        raise AssertionError("the first draft built the ONNX Runtime session")

    def standalone_again():
        raise AssertionError("the first draft loaded the ONNX Runtime pipeline")

    ws.kb.embedder._load = load_again
    ws.kb.embedder._build_onnx = build_again
    ws.kb.embedder._load_standalone = standalone_again
    draft = draft_reply(Ticket(text="is my money gone? my payout says on hold after I changed my bank"),
                        ws.retriever, ws.settings, DraftOptions())
    assert "14 days" in " ".join(c.quote for c in draft.citations)
