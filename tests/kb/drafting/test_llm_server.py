"""The real ChatOpenAI client against a loopback OpenAI-compatible server (incl. SSE streaming)."""

from __future__ import annotations

import json
import time

import pytest

from kb.drafting.models import DraftOptions
from kb.drafting.service import draft_reply
from kb.retrieval import Retriever
from kb.types import Ticket

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANSWER = ("Hi there,\n\nThanks for reaching out. Payouts to a new payout method are held for 14 days [1]. "
          "Your balance stays safe in your account [1]. I have noted your contact <EMAIL_1> [9].\n\nBest wishes")


@pytest.fixture
def server(openai_stub):
    httpd, handler = openai_stub
    handler.answer = ANSWER
    return httpd, handler


def _settings(demo_kb, port: int, **extra):
    from pydantic import SecretStr

    return demo_kb.settings.model_copy(update={"llm_provider": "openai", "llm_base_url": f"http://127.0.0.1:{port}/v1",
                                               "llm_model": "test-model", "llm_api_key": SecretStr("sk-test"),
                                               "llm_max_retries": 0, **extra})


def test_chatopenai_streaming_path(server, demo_kb) -> None:
    httpd, handler = server
    settings = _settings(demo_kb, httpd.server_port)
    ticket = Ticket(text="i changed my bank acc last week and now my payout says on hold?? email me at ana@example.com")
    pieces: list[str] = []
    draft = draft_reply(ticket, Retriever(demo_kb), settings, DraftOptions(language="en"), on_token=pieces.append)
    assert draft.mode == "llm" and draft.fallback_reason is None
    sent = handler.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["stream"] is True
    assert sent["auth"] == "Bearer sk-test" and sent["body"]["model"] == "test-model"
    prompt = json.dumps(sent["body"]["messages"])
    assert "ana@example.com" not in prompt and "<EMAIL_1>" in prompt
    assert "(internal)" not in prompt
    assert len(pieces) > 3 and "ana@example.com" in "".join(pieces)
    assert "ana@example.com" in draft.text
    assert draft.invalid_citations_removed == (9,) and "[9]" not in draft.text
    assert [c.n for c in draft.citations] == [1]
    assert draft.grounding.sentences and draft.prompt_version


def test_timeout_falls_back_to_offline(server, demo_kb) -> None:
    httpd, handler = server
    handler.delay = 2.0
    settings = _settings(demo_kb, httpd.server_port, llm_timeout_seconds=0.5)
    start = time.perf_counter()
    draft = draft_reply(Ticket(text="I bought 1000 coins 5 days ago by accident, can I get my money back"),
                        Retriever(demo_kb), settings, DraftOptions(language="en"))
    assert time.perf_counter() - start < 15
    assert draft.mode == "offline" and draft.fallback_reason and "Timeout" in draft.fallback_reason
    assert draft.citations and "[1]" in draft.text


def test_after_a_timeout_the_next_drafts_skip_the_endpoint_until_the_cooldown_ends(server, demo_kb) -> None:
    httpd, handler = server
    handler.delay = 2.0
    settings = _settings(demo_kb, httpd.server_port, llm_timeout_seconds=0.5, llm_cooldown_seconds=1.5)
    ticket = Ticket(text="I bought 1000 coins 5 days ago by accident, can I get my money back")
    retriever = Retriever(demo_kb)

    first = draft_reply(ticket, retriever, settings, DraftOptions(language="en"))
    assert first.mode == "offline" and "Timeout" in first.fallback_reason
    assert len(handler.requests) == 1

    second = draft_reply(ticket, retriever, settings, DraftOptions(language="en"))
    assert second.mode == "offline" and second.fallback_reason.startswith("LLM skipped")
    assert len(handler.requests) == 1, "the endpoint was called again during the cool-down"
    assert second.citations and "[1]" in second.text

    handler.delay = 0.0
    time.sleep(1.6)
    third = draft_reply(ticket, retriever, settings, DraftOptions(language="en"))
    assert len(handler.requests) == 2
    assert third.mode == "llm" and third.fallback_reason is None
