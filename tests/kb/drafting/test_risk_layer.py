"""The semantic risk layer on the held-out demo tickets (exemplars are not taken from them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.risk import _EXEMPLARS, _BENIGN_EXEMPLARS, assess_risk, evaluate

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
DEMO = [json.loads(x) for x in (REPO / "demo" / "tickets.jsonl").read_text().splitlines()]


def test_exemplars_are_not_copied_from_the_demo_set() -> None:
    texts = {r["text"].lower() for r in DEMO}
    for phrase in [p for ps in _EXEMPLARS.values() for p in ps] + list(_BENIGN_EXEMPLARS):
        assert not any(phrase.lower() in t for t in texts), phrase


def test_labelled_examples_leave_the_test_sets_out() -> None:
    from kb.risk import labelled_examples

    held_out = {json.loads(x)["text"] for x in (REPO / "tests" / "kb" / "data" / "risk_tickets.jsonl").read_text()
                .splitlines() if x.strip() and json.loads(x)["split"] == "heldout"}
    examples = {r["text"] for r in labelled_examples()}
    assert len(examples) >= 400
    last_round = {json.loads(x)["text"] for x in (REPO / "benchmarks" / "data" / "risk_fresh_heldout.jsonl").read_text()
                  .splitlines() if x.strip()}
    assert not examples & held_out
    assert not examples & last_round
    assert not examples & {r["text"] for r in DEMO}


def test_semantic_layer_raises_recall_on_demo_tickets(embedder, capsys) -> None:
    lexical = evaluate(DEMO)
    combined = evaluate(DEMO, embedder=embedder)
    with capsys.disabled():
        print(f"\nrisk on demo/tickets.jsonl: lexical recall {lexical['recall']} false-flag "
              f"{lexical['false_flag_rate']}; lexical+semantic recall {combined['recall']} "
              f"false-flag {combined['false_flag_rate']}")
    assert combined["recall"] >= lexical["recall"] + 0.2
    assert combined["false_flag_rate"] <= 0.12  # measured 0.06 (2/34; 3/34 before 2026-12-01): the price of recall, see kb.risk


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_semantic_layer_keeps_the_labelled_risk_set_clean(embedder, split: str, capsys) -> None:
    """tests/kb/data/risk_tickets.jsonl with both layers, as ``draft_reply`` runs them."""
    rows = [row for row in (json.loads(x) for x in (REPO / "tests" / "kb" / "data" / "risk_tickets.jsonl")
                            .read_text().splitlines() if x.strip()) if row["split"] == split]
    combined = evaluate(rows, embedder=embedder)
    with capsys.disabled():
        print(f"\n[risk {split} + semantic] recall {combined['recall']} false-flag {combined['false_flag_rate']}")
    # measured 2026-12-01: dev 1.0 / 0.016 (a teen fans' meet-and-greet question, flagged since
    # the life-safety easing), held out 1.0 / 0.0
    assert combined["recall"] >= 0.95, combined["misses"]
    assert combined["false_flag_rate"] <= 0.05, combined["false_flags"]


def test_semantic_evidence_points_at_text(embedder) -> None:
    text = "she said she emptied the medicine cabinet and isn't replying to anyone"
    assert assess_risk(text).level == "normal"  # no lexical cue
    result = assess_risk(text, embedder=embedder)
    assert "self_harm" in result.categories
    for ev in result.evidence:
        assert text[ev.start:ev.end] == ev.phrase


def test_ordinary_ticket_stays_normal_with_embedder(embedder) -> None:
    assert assess_risk("How do I change my bank details for payouts?", embedder=embedder).level == "normal"


@pytest.mark.parametrize("text, is_takeover", [
    # a hacked account without money follows the ordinary recovery SOP
    ("Someone hacked my account yesterday and changed my email, I can't log in. Please help!", False),
    ("my account got hacked and they withdrew all my earnings to some other bank", True),
    # money worry after one's own change is a payout question, not a takeover
    ("i changed my bank acc last week and now my payout says on hold?? is my money gone", False),
    ("a new bank account I don't recognise was added last week and my payout is gone", True),
])
def test_financial_takeover_needs_money_and_someone_else(embedder, text: str, is_takeover: bool) -> None:
    assert ("account_takeover_financial" in assess_risk(text, embedder=embedder).categories) is is_takeover


@pytest.mark.parametrize("text, is_legal", [
    # asking the platform to get a third party to pay is a dispute, not a threat of legal action
    ("the brand owes me the second half, will Loopr make them pay up?", False),
    # no lexical cue in these: only the semantic layer flags them, and the gate lets them through
    ("expect paperwork from our law firm very soon", True),
    ("officers from our unit need the subscriber records for this account", True),
])
def test_a_semantic_legal_threat_needs_the_law_named(embedder, text: str, is_legal: bool) -> None:
    assert assess_risk(text).categories == ()
    assert ("legal_threat" in assess_risk(text, embedder=embedder).categories) is is_legal


@pytest.mark.parametrize("text, is_public_figure", [
    # ordinary impersonation follows the ordinary SOP; the semantic layer used to call these public-figure cases
    ("someone made a page impersonating my family restaurant, how do I report it?", False),
    ("an account is impersonating my local gym and messaging people", False),
    ("a fan page is pretending to be a famous pop star and asking for donations", True),
])
def test_semantic_public_figure_impersonation_needs_a_public_figure(embedder, text: str,
                                                                     is_public_figure: bool) -> None:
    assert ("public_figure_impersonation" in assess_risk(text, embedder=embedder).categories) is is_public_figure


@pytest.mark.parametrize("text, is_doxxing", [
    # banking77 messages the semantic layer used to call doxxing: nothing exposed, nothing that locates anyone
    ("Someone I don't know has used my card without permission.", False),
    ("I think someone else is using my card.  There are transactions I didn't make.", False),
    ("people keep sharing where my sister works and telling others to go there", True),
])
def test_semantic_doxxing_needs_exposure_or_identifying_details(embedder, text: str, is_doxxing: bool) -> None:
    assert ("doxxing" in assess_risk(text, embedder=embedder).categories) is is_doxxing


def test_a_gate_reads_the_conversation_near_the_flagged_sentence(embedder) -> None:
    message = "i changed my bank acc last week and now my payout says on hold?? is my money gone"
    settled = ("User: my bio looks cut off. Agent: the rest appears when someone taps 'more'. "
               + "User: ok thanks, that works now. Agent: glad it's sorted, anything else? " * 6)
    # "someone" long before, about something else, does not make a payout worry a takeover ...
    assert "account_takeover_financial" not in assess_risk(message, settled, embedder=embedder).categories
    # ... said just before, about this money, it does.
    recent = settled + "User: I think someone got into my account and moved my earnings."
    assert "account_takeover_financial" in assess_risk(message, recent, embedder=embedder).categories
    # The same when the whole thread is pasted into the message.
    assert "account_takeover_financial" not in assess_risk(f"{settled} User: {message}", embedder=embedder).categories


def test_a_sentence_that_fails_its_gate_does_not_hide_one_that_passes(embedder) -> None:
    """A police request answering an unrelated quoted thread: a thread sentence scored closer to
    "legal threat" but named no law; the request itself does and must still flag."""
    from eval.perturb import EARLIER_THREAD

    request = next(r["text"] for r in DEMO if r["id"] == "t11")
    reply = f"{request}\n\nFrom: Loopr Support <help@loopr.example>\nSent: Monday\nTo: DS Okafor\n\n{EARLIER_THREAD}"
    assert "legal_threat" in assess_risk(reply, embedder=embedder).categories
    assert "legal_threat" in assess_risk(request, EARLIER_THREAD, embedder=embedder).categories


def test_labelled_examples_help_on_a_round_they_were_not_given(embedder, capsys) -> None:
    """Each writing round of kb/data/risk_examples.jsonl read by a layer that compares with the
    other rounds only, against one with no labelled tickets (benchmarks/risk_fresh.py)."""
    from eval.risk_fit import leave_one_round_out

    total = leave_one_round_out(embedder)["all rounds"]
    without, with_others = total["without"], total["with_others"]
    with capsys.disabled():
        print(f"\nleave one round out, semantic layer: high-risk flagged {without['flagged_high']} -> "
              f"{with_others['flagged_high']} of {without['high']}; ordinary flagged {without['flagged_normal']} -> "
              f"{with_others['flagged_normal']} of {without['normal']}")
    # measured 2026-12-01: 98 -> 113 of 151 high-risk, 11 -> 9 of 167 ordinary
    assert with_others["flagged_high"] >= without["flagged_high"] + 8
    assert with_others["flagged_normal"] <= without["flagged_normal"]


@pytest.mark.parametrize("text", [
    "someone is selling my presets and pretending they made them",
    "someone made an account using my name and photos and is DMing my followers asking for money",
    "I uploaded a fitness video in gym clothes and got a strike for adult content",
])
def test_a_semantic_sexual_exploitation_flag_needs_sexual_content_coercion_or_a_minor(embedder, text: str) -> None:
    assert "sexual_exploitation" not in assess_risk(text, embedder=embedder).categories


def test_blocked_user_coming_back_is_not_child_safety(embedder) -> None:
    text = "my ex keeps messaging me from new accounts after I blocked him"
    assert "child_safety" not in assess_risk(text, embedder=embedder).categories


def test_the_easing_flags_a_life_safety_sentence_just_under_the_threshold(embedder, monkeypatch) -> None:
    import kb.risk

    # cosine 0.488 with a self-harm exemplar, 0.27 above the closest ordinary one (bundled model)
    text = "im so tired of everything, i have a rope in my closet"
    layer = kb.risk.SemanticRiskLayer(embedder, examples=())  # it is one of the labelled examples
    assert "self_harm" in {e.category for e in layer.flagged(text)}
    monkeypatch.setattr(kb.risk, "LIFE_SAFETY_EASING", 0.0)
    assert "self_harm" not in {e.category for e in layer.flagged(text)}


def test_a_deployments_own_examples_extend_the_layer(embedder, tmp_path) -> None:
    mine = tmp_path / "our_escalations.jsonl"
    mine.write_text(json.dumps({"text": "I'm logging off for good, tell everyone I said bye", "risk": "high",
                                "categories": ["self_harm"]}) + "\n", encoding="utf-8")
    text = "logging off for good, tell my followers i said bye"
    assert assess_risk(text, embedder=embedder).level == "normal"
    assert assess_risk(text, embedder=embedder, extra_examples=mine).categories == ("self_harm",)


def test_a_broken_examples_file_stops_the_desk_with_its_name_and_line(demo_kb, tmp_path, monkeypatch,
                                                                      capsys) -> None:
    from app.cli import main

    broken = tmp_path / "ours.jsonl"
    broken.write_text('{"text": "fine", "risk": "normal"}\n{"text": "bad", "risk": "high"}\n', encoding="utf-8")
    monkeypatch.setenv("REPLYDESK_RISK_EXAMPLES", str(broken))
    assert main(["draft", "--home", str(demo_kb.settings.home), "--ticket", "when is my payout sent?"]) == 2
    assert 'ours.jsonl:2: a high-risk row needs "categories"' in capsys.readouterr().err


def test_a_later_process_reads_the_exemplar_bank_instead_of_encoding_it(embedder, tmp_path, monkeypatch) -> None:
    from kb.embedder import SentenceTransformerEmbedder
    from kb.risk import SemanticRiskLayer

    monkeypatch.setattr(SentenceTransformerEmbedder, "vector_cache_dir", lambda self: tmp_path / "vectors")
    ticket = "I can't keep going. I've written letters to my family and I'm done after tonight."
    first = SemanticRiskLayer(embedder)
    flagged = first.flagged(ticket)
    assert "self_harm" in {evidence.category for evidence in flagged}
    (bank,) = (tmp_path / "vectors").glob("risk-bank-*.npy")

    encoded = []
    original = SentenceTransformerEmbedder.encode
    monkeypatch.setattr(SentenceTransformerEmbedder, "encode", lambda self, texts: encoded.append(len(texts))
                        or original(self, texts))
    second = SemanticRiskLayer(embedder)
    assert second.flagged(ticket) == flagged
    # Only the probe sentences and the ticket's sentences were encoded, not ~1,000 exemplars.
    assert encoded and max(encoded) < 10
    assert bank.stat().st_size > 0
