"""The "QA review" page (AppTest): sampled queue, rubric scoring, dashboard, repeat complaints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kb.auth import AuthError, PermissionDenied
from kb.drafting.text import reply_text
from kb.records import RUBRIC, utcnow
from kb.services import review
from tests.app.conftest import texts


def _sent_draft(env, text: str, *, risk: str = "normal", mode: str = "offline", days_ago: int = 0,
                topic: str = "Creator Marketplace payments and payout holds", final: str | None = None) -> int:
    draft_text = "Hi there,\n\nPayout holds last 14 days [1].\n\nBest wishes,\nThe Support Team"
    draft_id = env.store.add_draft(
        user_id=env.users["sam"].id, ticket_text=text, draft_text=draft_text, mode=mode, risk_level=risk,
        risk_categories=["self_harm"] if risk == "high" else [], topic=topic,
        citations=[{"n": 1, "title": "Payout holds", "version": 2, "quote": "Holds last 14 days.", "page": None,
                    "section": "Holds", "doc_id": "sop-payout-holds"}],
        created_at=utcnow() - timedelta(days=days_ago))
    env.store.mark_sent(draft_id, final if final is not None else reply_text(draft_text).replace("Hi there", "Hello Ana"),
                        sent_at=utcnow() - timedelta(days=days_ago))
    return draft_id


def test_reviewer_scores_a_sent_draft(env):
    draft_id = _sent_draft(env, "When will my payout hold end?")
    at = env.app("quinn").run()
    assert not at.exception
    assert at.selectbox(key="qa_pick").value == draft_id
    assert "When will my payout hold end?" in texts(at)
    diff_html = next(str(h.proto.body) for h in at.get("html") if "rd-diff" in str(h.proto.body))
    assert '<del class="rd-del">Hi</del>' in diff_html and '<ins class="rd-ins">Hello</ins>' in diff_html
    assert "[1]" not in diff_html  # the markers were never offered to send, so they are no edit
    values = {"accuracy": 5, "policy_compliance": 4, "tone": 3, "completeness": 4, "citation_correctness": 2}
    for name, value in values.items():
        at.slider(key=f"qa_{name}_{draft_id}").set_value(value)
    at.text_area(key=f"qa_comment_{draft_id}").input("Cites the right SOP, tone a bit flat.")
    at = at.button(key=f"FormSubmitter:score_{draft_id}-Submit score").click().run()
    assert not at.exception
    (score,) = env.store.list_qa_scores(draft_id)
    assert score.scores == values and score.reviewer == "quinn"
    assert score.comment == "Cites the right SOP, tone a bit flat."
    assert env.store.list_audit(action="qa_score")[0].target == f"draft {draft_id}"
    # Scored drafts leave the default queue.
    assert any("Nothing to review" in i.value for i in at.info)


def test_sampling_keeps_high_risk_and_is_deterministic(env):
    ids = [_sent_draft(env, f"ticket number {i}") for i in range(40)]
    high = _sent_draft(env, "I want to end it all", risk="high")
    sampling = review.SamplingSettings(percent=25)
    queue = [d.id for d in review.review_queue(env.ws, env.users["quinn"], sampling)]
    assert queue[0] == high  # high risk first, always included
    sampled = [i for i in ids if review.in_sample(i, 25)]
    assert sorted(queue[1:]) == sorted(sampled) and 0 < len(sampled) < len(ids)
    assert queue == [d.id for d in review.review_queue(env.ws, env.users["quinn"], sampling)]
    no_high = review.SamplingSettings(percent=0, always_high_risk=False)
    assert review.review_queue(env.ws, env.users["quinn"], no_high) == []


def test_dashboard_numbers_and_charts(env):
    store = env.store
    a = _sent_draft(env, "payout hold question one", days_ago=2)
    _sent_draft(env, "account hacked and money gone", risk="high", mode="llm", days_ago=1,
                topic="Account recovery", final="Completely rewritten reply.")
    store.add_draft(user_id=env.users["sam"].id, ticket_text="never sent", draft_text="x", mode="offline")
    store.add_qa_score(a, env.users["quinn"].id, {name: 4 for name in RUBRIC})
    data = review.dashboard(env.ws, env.users["quinn"], days=30)
    sent = [d for d in store.list_drafts() if d.status == "sent"]
    assert data.summary["drafts"] == 3 and data.summary["sent"] == 2
    assert data.summary["acceptance_rate"] == pytest.approx(2 / 3)
    assert data.summary["escalation_rate"] == pytest.approx(1 / 3)
    assert data.summary["mean_edit_distance"] == pytest.approx(sum(d.edit_distance for d in sent) / 2)
    assert data.summary["mean_score"] == pytest.approx(4.0)
    assert set(data.modes["mode"]) == {"offline", "llm"}
    assert data.topics.iloc[0]["drafts"] >= 1
    at = env.app("quinn").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Drafts"] == "3" and metrics["Acceptance rate"] == "67%" and metrics["Escalation rate"] == "33%"
    assert len(at.get("vega_lite_chart")) >= 5


def test_repeat_complaints_group_similar_tickets(env):
    for text in ("my payout is on hold again why", "why is my payout on hold again", "payout on hold again why?",
                 "I cannot log in to my account"):
        _sent_draft(env, text)
    clusters = review.repeat_complaints(env.ws, env.users["quinn"])
    assert [c.size for c in clusters] == [3]
    assert all("payout" in t for t in clusters[0].tickets)


def test_review_services_enforce_roles(env):
    draft_id = _sent_draft(env, "payout?")
    unsent = env.store.add_draft(user_id=env.users["sam"].id, ticket_text="t", draft_text="d", mode="offline")
    scores = {name: 3 for name in RUBRIC}
    for name in ("sam", "kim"):
        with pytest.raises(PermissionDenied):
            review.score_draft(env.ws, env.users[name], draft_id, scores)
        with pytest.raises(PermissionDenied):
            review.review_queue(env.ws, env.users[name])
    with pytest.raises(AuthError, match="marked as sent"):
        review.score_draft(env.ws, env.users["quinn"], unsent, scores)
    # An admin who wrote the draft cannot review it.
    own = env.store.add_draft(user_id=env.users["ada"].id, ticket_text="t", draft_text="d", mode="offline")
    env.store.mark_sent(own, "d")
    with pytest.raises(AuthError, match="own drafts"):
        review.score_draft(env.ws, env.users["ada"], own, scores)
    assert review.score_draft(env.ws, env.users["ada"], draft_id, scores) > 0
    assert env.store.list_qa_scores(unsent) == []
