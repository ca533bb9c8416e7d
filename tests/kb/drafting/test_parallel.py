"""Guidance that answers one question separately for different subjects is pointed out."""

from __future__ import annotations

import json

import pytest

from kb.drafting.parallel import other_cases, parallel_answers
from kb.vector_cache import SentenceVectors
from kb.types import Hit


def _hit(doc_id: str, title: str, text: str, *, audience: str = "external") -> Hit:
    return Hit(chunk_id=f"{doc_id}::v1::0000", doc_id=doc_id, version=1, title=title, doc_type="qa", text=text,
               score=0.03, audience=audience)


CARDS = "Q: Do they accept credit cards?\nA: {}"


def test_the_same_question_in_two_documents_names_both(keyword_embedder):
    hits = [_hit("h1", "Grant Hotel", CARDS.format("Visa and Amex are accepted.")),
            _hit("h1b", "Grant Hotel", "Q: Is there parking?\nA: Yes, 20 dollars a night."),
            _hit("h2", "Phoenix Hotel", CARDS.format("Only cash.")),
            _hit("h3", "Pier Inn", "Q: Is breakfast included?\nA: Yes."),
            _hit("h4", "Card policy", "Credit cards are accepted at every hotel.")]
    found = parallel_answers(hits, SentenceVectors(keyword_embedder))
    assert found.titles == found.unresolved == ("Grant Hotel", "Phoenix Hotel") and found.named == ()
    assert all(found.keeps(h) for h in hits)


def test_one_document_internal_passages_and_prose_are_not_parallel(keyword_embedder):
    vectors = SentenceVectors(keyword_embedder)
    same_doc = [_hit("h1", "Grant Hotel", CARDS.format("Yes.")), _hit("h1", "Grant Hotel", CARDS.format("Yes, all."))]
    assert parallel_answers(same_doc, vectors).titles == ()
    internal = [_hit("h1", "Grant Hotel", CARDS.format("Yes.")),
                _hit("h2", "Phoenix Hotel", CARDS.format("No."), audience="internal")]
    assert parallel_answers(internal, vectors).titles == ()
    prose = [_hit("h1", "Grant Hotel", "Credit cards are accepted."), _hit("h2", "Phoenix", "Credit cards are accepted.")]
    assert parallel_answers(prose, vectors).titles == ()


def test_a_conversation_that_names_one_of_them_has_said_which(keyword_embedder):
    vectors = SentenceVectors(keyword_embedder)
    hits = [_hit("h1", "Grant Hotel (hotel)", CARDS.format("Yes.")), _hit("h2", "Phoenix Hotel (hotel)", CARDS.format("No."))]
    assert parallel_answers(hits, vectors, "do they take cards?").unresolved == ("Grant Hotel (hotel)",
                                                                                "Phoenix Hotel (hotel)")
    named = parallel_answers(hits, vectors, "I'm staying at the phoenix hotel.\ndo they take cards?")
    assert named.unresolved == () and named.named == ("Phoenix Hotel (hotel)",)
    # The other hotel's answer is not for this customer.
    assert [h.title for h in hits if named.keeps(h)] == ["Phoenix Hotel (hotel)"]


@pytest.mark.slow
def test_a_draft_says_which_documents_answer_an_unnamed_question(tmp_path, embedder, capsys):
    import argparse

    from app.cli_draft import register
    from ingest.pipeline import ingest_records
    from kb.drafting.models import DraftOptions
    from kb.drafting.service import draft_reply
    from kb.knowledge_base import KnowledgeBase
    from kb.retrieval import Retriever
    from kb.types import Ticket
    from tests.conftest import make_settings

    kb = KnowledgeBase(make_settings(tmp_path / "home"), embedder=embedder)
    hotels = ["Grant Hotel", "Phoenix Hotel", "Pier Inn"]
    records = [(f"{h.split()[0].lower()}:{i}", h, text) for h in hotels for i, text in enumerate([
        f"Q: Do they accept credit cards?\nA: {h} accepts Visa, Master Card and American Express.",
        f"Q: Is there parking at {h}?\nA: Parking costs 20 dollars a night.",
        f"Q: Are pets allowed?\nA: Pets are welcome at {h}."])]
    assert not ingest_records(kb, records).failed
    settings = kb.settings

    unnamed = draft_reply(Ticket(text="thanks, do they take master card?"), Retriever(kb), settings, DraftOptions())
    assert len(unnamed.parallel_sources) >= 2 and set(unnamed.parallel_sources) <= set(hotels)
    # An LLM is told the same, and drafts from every subject's answer.
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    class Recording(GenericFakeChatModel):
        seen: list = []

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            self.seen.append(messages)
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    model = Recording(messages=iter([AIMessage(content="Which hotel do you mean? Grant Hotel takes Master Card [1].")]))
    model.seen = []
    by_llm = draft_reply(Ticket(text="thanks, do they take master card?"), Retriever(kb), settings, DraftOptions(),
                         llm=model)
    assert by_llm.mode == "llm" and by_llm.parallel_sources == unnamed.parallel_sources
    assert f"separately for: {'; '.join(unnamed.parallel_sources)}" in model.seen[0][1].content
    named = draft_reply(Ticket(text="does the Phoenix Hotel take master card?"), Retriever(kb), settings,
                        DraftOptions())
    assert named.parallel_sources == () and {c.title for c in named.citations} == {"Phoenix Hotel"}

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", type=str)
    parser = argparse.ArgumentParser(prog="replydesk")
    register(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(["draft", "--home", str(settings.home), "--ticket", "do they take master card?"])
    assert args.func(args) == 0
    assert "note: the knowledge base answers this question separately for" in capsys.readouterr().out
    args = parser.parse_args(["draft", "--home", str(settings.home), "--ticket", "do they take master card?", "--json"])
    assert args.func(args) == 0
    assert len(json.loads(capsys.readouterr().out)["parallel_sources"]) >= 2


ALLOWANCE = [
    "Checked bag allowance: If the booking user is a regular member: 1 free checked bag for each economy passenger; "
    "2 free checked bags for each business passenger.",
    "If the booking user is a silver member: 1 free checked bag for each basic economy passenger; 2 free checked bag "
    "for each economy passenger; 3 free checked bags for each business passenger.",
    "If the booking user is a gold member: 2 free checked bag for each basic economy passenger; 3 free checked bag for "
    "each economy passenger; 4 free checked bags for each business passenger.",
    "Each extra baggage is 50 dollars.",
]


@pytest.mark.parametrize(("conversation", "left_out"), [
    ("How many checked bags can I bring for free? I'm a silver member flying economy.", {0, 2}),
    ("regular members, how many free bags?", {1, 2}),
    ("Agent: are you a gold member?\nUser: yes. how many bags are free?", {0, 1}),
    ("what's the checked bag allowance?", set()),      # no case named: every case stays
    ("I'm a gold or silver member", {0}),              # two cases named: both stay
])
def test_a_rule_stated_per_case_keeps_only_the_case_the_ticket_names(conversation, left_out):
    # A silver member asking about free bags got the regular, silver and gold allowances.
    assert other_cases([("bags", s) for s in ALLOWANCE], conversation) == left_out


def test_cases_are_words_that_replace_each_other_not_shared_words_or_clauses():
    platforms = [("help", "On iPhone, open Settings and tap Privacy to turn off tracking."),
                 ("help", "On Android, open Settings and tap Google to turn off ad tracking."),
                 ("help", "Tracking is off by default for users under 18.")]
    assert other_cases(platforms, "how do I turn off tracking on my android phone") == {0}
    # "the" for "your" is no case, though the ticket says "the".
    wording = [("refunds", "Approved refunds go back to the original payment method within 5 to 10 business days."),
               ("refunds", "Approved refunds go back to your original payment method within 5 to 10 business days.")]
    assert other_cases(wording, "can I get the coins back?") == set()
    # A word in a case's place that is no sibling's case never removes every case of the rule:
    # it may be the case of a sentence not retrieved ("regular") or no case at all ("new").
    assert other_cases([("bags", ALLOWANCE[1]), ("bags", ALLOWANCE[2]), ("bags", ALLOWANCE[3])],
                       "I'm a regular member, how many free bags?") == set()
    assert other_cases([("bags", s) for s in ALLOWANCE], "I'm a new member, how many free bags?") == set()
    assert other_cases([("bags", ALLOWANCE[1]), ("bags", ALLOWANCE[2])], "are bags free for members?") == set()
    # The same sentences in two documents are not compared (each document is its own source).
    apart = [("bags-2025", ALLOWANCE[1]), ("bags-2026", ALLOWANCE[2])]
    assert other_cases(apart, "I'm a silver member") == set()
