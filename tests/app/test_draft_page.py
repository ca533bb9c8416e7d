"""The "Draft a reply" page (AppTest): draft, edit, send, feedback, Q&A proposal, gap report, risk banner."""

from __future__ import annotations

import html
import json
import re

import pytest
import streamlit as st
from rapidfuzz.distance import Levenshtein

from kb.auth import PermissionDenied
from kb.drafting.models import DraftOptions
from kb.drafting.text import reply_text
from kb.services import drafts
from kb.types import Ticket
from tests.app.conftest import button, texts
from tests.conftest import DEMO_KB, WideKeywordEmbedder

TICKETS = [json.loads(line) for line in (DEMO_KB.parent / "tickets.jsonl").read_text().splitlines() if line.strip()]
PAYOUT_TICKET = ("My payout has been on hold for two weeks. How long do payout holds last and when will I get "
                 "my money? You can reach me at maria.lopez@example.com")


def _draft(at, text: str, context: str = ""):
    at.text_area(key="ticket_text").input(text)
    if context:
        at.text_area(key="ticket_context").input(context)
    return button(at, "Draft reply").click().run()


def test_draft_edit_and_mark_sent(demo_env):
    at = _draft(demo_env.app("sam").run(), PAYOUT_TICKET)
    assert not at.exception
    (stored,) = demo_env.store.list_drafts()
    assert stored.username == "sam" and stored.status == "draft"
    assert "maria.lopez@example.com" not in stored.ticket_text  # redacted before storage
    assert [s.value for s in at.subheader] == ["Draft", "Guidance"]
    # Guidance panel lists the retrieved sources with title, version and their audience.
    panel = "\n".join(str(h.proto.body) for h in at.get("html"))
    for hit in stored.hits[:3]:
        assert html.escape(hit["title"]) in panel and f"v{hit['version']}" in panel
    final_box = at.text_area(key=f"final_{stored.id}")
    # The send box holds the reply without the [n] markers meant for the specialist.
    offered = reply_text(stored.draft_text)
    assert final_box.value == offered and "[1]" in stored.draft_text and "[1]" not in offered
    edited = offered.replace("Hi there", "Hello Maria", 1) + "\nKind regards, Sam"
    final_box.input(edited)
    at = button(at, "Mark as sent").click().run()
    assert not at.exception
    sent = demo_env.store.get_draft(stored.id)
    assert sent.status == "sent" and sent.final_text == edited
    # Only what the specialist changed counts, not the markers taken out.
    assert 0 < sent.edit_distance == Levenshtein.distance(offered, edited) < Levenshtein.distance(stored.draft_text,
                                                                                                   edited)
    assert any("characters edited" in s.value for s in at.success)


def test_another_embedding_model_is_explained_instead_of_a_traceback(demo_env, monkeypatch):
    # The app is restarted with another model than the one that embedded the knowledge base.
    monkeypatch.setattr("kb.knowledge_base.get_embedder", lambda settings: WideKeywordEmbedder())
    st.cache_resource.clear()
    at = _draft(demo_env.app("sam").run(), PAYOUT_TICKET)
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "embedded with 'KeywordEmbedder' (256 dimensions)" in error and "'WideKeywordEmbedder'" in error
    assert "replydesk reindex" in error
    assert demo_env.store.list_drafts() == []


def test_feedback_and_missing_guidance_report(demo_env):
    at = _draft(demo_env.app("sam").run(), PAYOUT_TICKET)
    (stored,) = demo_env.store.list_drafts()
    at = at.get("feedback")[0].set_value(0).run()
    at.text_input(key=f"reason_{stored.id}").input("cites the wrong section")
    at = button(at, "Send feedback").click().run()
    assert [(f.rating, f.reason, f.username) for f in demo_env.store.list_feedback(stored.id)] == [
        ("down", "cites the wrong section", "sam")]
    at.text_input(key=f"gap_note_{stored.id}").input("nothing about holds after a takeover")
    at = button(at, "Report missing guidance").click().run()
    reported = [g for g in demo_env.store.list_knowledge_gaps() if g.source == "reported"]
    assert len(reported) == 1 and reported[0].draft_id == stored.id
    assert reported[0].note == "nothing about holds after a takeover" and reported[0].reported_by == "sam"


def test_propose_as_qa_after_sending(demo_env):
    at = _draft(demo_env.app("sam").run(), PAYOUT_TICKET)
    (stored,) = demo_env.store.list_drafts()
    assert any("Mark the reply as sent first" in c.value for c in at.caption)
    at = button(at, "Mark as sent").click().run()
    question = at.text_area(key=f"qa_q_{stored.id}").value
    answer = at.text_area(key=f"qa_a_{stored.id}").value
    assert "How long do payout holds last" in question  # the user's question, extracted
    assert answer and "Hi there" not in answer and "[1]" not in answer
    at = button(at, "Send to knowledge owner").click().run()
    (proposal,) = demo_env.store.list_proposals()
    assert proposal.draft_id == stored.id and proposal.proposed_by == "sam"
    assert proposal.question == question and proposal.answer == answer


def test_regenerate_stores_a_new_draft(demo_env):
    at = _draft(demo_env.app("sam").run(), PAYOUT_TICKET)
    at = button(at, "Regenerate").click().run()
    assert not at.exception
    assert len(demo_env.store.list_drafts()) == 2


def test_high_risk_ticket_shows_escalation_banner(demo_env):
    at = _draft(demo_env.app("sam").run(), "I can't do this anymore, I'm going to kill myself tonight.")
    banner = [e.value for e in at.error if "High-risk ticket" in e.value]
    assert banner and "Self-harm" in banner[0]
    (stored,) = demo_env.store.list_drafts()
    assert stored.risk_level == "high" and "self_harm" in stored.risk_categories


def test_a_pasted_feed_says_which_turn_the_draft_answers(demo_env):
    from eval.perturb import pasted_newest_first

    at = _draft(demo_env.app("sam").run(), pasted_newest_first("", PAYOUT_TICKET))
    assert not at.exception
    notes = [i.value for i in at.info if "Read as a pasted thread" in i.value]
    assert len(notes) == 1 and "My payout has been on hold for two weeks." in notes[0]
    at = _draft(demo_env.app("sam").run(), PAYOUT_TICKET)
    assert not [i for i in at.info if "Read as a pasted thread" in i.value]


def test_the_channel_decides_the_form_of_the_draft(demo_env):
    at = demo_env.app("sam").run()
    at.selectbox(key="ticket_channel").set_value("chat")
    at = _draft(at, PAYOUT_TICKET)
    assert not at.exception
    (stored,) = demo_env.store.list_drafts()
    assert stored.channel == "chat"
    # The form only: this knowledge base's keyword embedder makes no claim about content.
    assert stored.draft_text.startswith("Hi there!") and "Best wishes" not in stored.draft_text
    assert stored.draft_text.endswith("Is there anything else I can help with?")


def test_empty_ticket_is_not_drafted(demo_env):
    at = button(demo_env.app("sam").run(), "Draft reply").click().run()
    assert any("Paste the ticket text first" in w.value for w in at.warning)
    assert demo_env.store.list_drafts() == []


def test_draft_services_refuse_other_roles(demo_env):
    kim, quinn, sam = demo_env.users["kim"], demo_env.users["quinn"], demo_env.users["sam"]
    ticket, options = Ticket(text=PAYOUT_TICKET), DraftOptions()
    for other in (kim, quinn):
        with pytest.raises(PermissionDenied):
            drafts.create_draft(demo_env.ws, other, ticket, options)
    result = drafts.create_draft(demo_env.ws, sam, ticket, options)
    with pytest.raises(PermissionDenied):
        drafts.mark_sent(demo_env.ws, kim, result.draft_id, "text")
    # Another specialist cannot send or rate sam's draft.
    from kb.auth import AuthError, CurrentUser
    from kb.services import accounts

    other = CurrentUser.from_record(accounts.create_account(demo_env.store, "sue", "sue-password", "specialist"))
    with pytest.raises(AuthError):
        drafts.mark_sent(demo_env.ws, other, result.draft_id, "text")
    with pytest.raises(AuthError, match="mark the reply as sent"):
        drafts.propose_qa(demo_env.ws, sam, result.draft_id, "q", "a")


def test_question_and_answer_extraction():
    assert drafts.extract_question("Hi. My gifts vanished. Can I get a refund? Also why?") == \
        "Can I get a refund? Also why?"
    assert drafts.extract_question("My account was hacked. Please help.") == "My account was hacked. Please help."
    answer = drafts.extract_answer("Hi there,\n\nPayout holds last 14 days [1]. You can check the status in "
                                   "Creator Tools [2].\n\nBest wishes,\nThe Support Team")
    assert answer == "Payout holds last 14 days. You can check the status in Creator Tools."


@pytest.mark.slow
def test_draft_with_the_real_model_cites_current_payout_policy(demo_kb, tmp_path, monkeypatch):
    """The demo knowledge base with the real embedder: a payout ticket gets a cited, grounded draft."""
    import streamlit as st

    from tests.app.conftest import AppEnv, _isolate

    home = demo_kb.settings.home
    _isolate(monkeypatch, home, tmp_path)
    env = AppEnv(home, demo_kb.embedder)
    env.users = {}
    from kb.auth import CurrentUser
    from kb.services import accounts

    record = env.store.find_user("slow-specialist") or accounts.create_account(
        env.store, "slow-specialist", "slow-password", "specialist")
    env.users["slow"] = CurrentUser.from_record(record)
    before = {d.id for d in env.store.list_drafts()}
    ticket = next(t for t in TICKETS if "sop-payout-holds" in t["relevant_doc_ids"] and t["risk"] == "normal")
    at = _draft(env.app("slow", timeout=180).run(), ticket["text"], ticket.get("context", ""))
    assert not at.exception
    (stored,) = [d for d in env.store.list_drafts() if d.id not in before]
    assert stored.citations, stored.draft_text
    assert "30 days" not in stored.draft_text  # version 1's figure never comes back
    assert any(h["doc_id"] in ticket["relevant_doc_ids"] for h in stored.hits)
    assert "Guidance" in texts(at)
    st.cache_resource.clear()


def test_guidance_written_for_staff_is_pointed_out(env, tmp_path, monkeypatch):
    # The keyword embedder's cosines are not the model's: the confidence bar is not under test here.
    monkeypatch.setenv("REPLYDESK_DRAFT_MIN_CONFIDENCE", "0")
    policy = tmp_path / "agent_policy.md"
    policy.write_text("---\ndoc_id: agent-policy\ndoc_type: policy\n---\n# Agent policy\n\n## Look up an order\n\n"
                      "The agent must look up the order with find_order() before changing anything. Verify the "
                      "customer's email address first.\n\n## Cancel an order\n\nA pending order can be cancelled "
                      "before it ships.\n", encoding="utf-8")
    assert not env.ingest(policy).failed
    at = _draft(env.app("sam").run(), "how do you look up my order before you cancel it?")
    assert not at.exception
    (note,) = [i.value for i in at.info if "Written for staff" in i.value]
    assert "**Agent policy > Look up an order**" in note


@pytest.mark.integration
def test_a_figure_the_sources_do_not_state_is_pointed_out(demo_env, openai_stub, monkeypatch):
    # An LLM behind an OpenAI-compatible endpoint (a loopback stub) gets the hold period wrong.
    httpd, handler = openai_stub
    handler.answer = ("Hi there,\n\nPayouts to a new payout method are held for 45 days [1]. Your balance stays "
                      "safe in your account [1].\n\nBest wishes")
    for name, value in {"LLM_PROVIDER": "openai", "LLM_BASE_URL": f"http://127.0.0.1:{httpd.server_port}/v1",
                        "LLM_MODEL": "stub", "LLM_API_KEY": "sk-test", "LLM_MAX_RETRIES": "0"}.items():
        monkeypatch.setenv(f"REPLYDESK_{name}", value)
    st.cache_resource.clear()
    at = _draft(demo_env.app("sam").run(), PAYOUT_TICKET)
    assert not at.exception
    assert handler.requests, "the page did not call the endpoint"
    (stored,) = demo_env.store.list_drafts()
    assert stored.mode == "llm"
    captions = [c.value for c in at.caption]
    assert any("details the sources do not state: 45" in c for c in captions), captions
    # The sentence is highlighted in the draft, though its [1] sits before the full stop.
    shown = "\n".join(str(h.proto.body) for h in at.get("html"))
    highlighted = re.findall(r'<span class="rd-unsupported"[^>]*>(.*?)</span>', shown, re.DOTALL)
    assert any("held for 45 days" in span for span in highlighted), highlighted
    # Hovering the sentence says what is wrong with it.
    assert 'title="States 45, which its sources do not"' in shown, shown
