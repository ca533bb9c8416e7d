"""Draft evaluation: ROUGE-L, the per-draft measurement, the LLM judge, and end-to-end runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from ingest.pipeline import ingest_records

from eval.drafts import (
    Faithfulness,
    judge_faithfulness,
    lcs_length,
    measure_draft,
    parse_json_answer,
    percentile,
    rouge_l,
    summarise_rows,
)
from kb.drafting.models import Citation, Draft, DraftRisk, GroundingReport, GroundingSentence
from kb.risk import RiskAssessment
from kb.types import Hit
from tests.conftest import SHARED_DATASETS, make_settings


# ---- ROUGE-L ----------------------------------------------------------------------------
def test_lcs_length_is_the_longest_common_subsequence() -> None:
    assert lcs_length("a b c d e".split(), "a c e".split()) == 3
    assert lcs_length("a b".split(), "b a".split()) == 1
    assert lcs_length([], ["a"]) == 0


def test_rouge_l_f1_by_hand() -> None:
    # candidate 4 tokens, reference 6 tokens, LCS "payouts are held days" = 4 -> P=1, R=2/3, F1=0.8
    assert rouge_l("Payouts are held days", "Payouts are held for 14 days") == pytest.approx(0.8)
    assert rouge_l("same words here", "same words here") == pytest.approx(1.0)
    assert rouge_l("nothing in common", "totally different text") == 0.0
    assert rouge_l("", "reference") == 0.0


def test_rouge_l_ignores_case_punctuation_and_citation_markers() -> None:
    assert rouge_l("Holds last 14 days [1].", "holds last 14 days") == pytest.approx(1.0)
    # order matters: a subsequence, not a bag of words
    assert rouge_l("days 14 last holds", "holds last 14 days") == pytest.approx(0.25)


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 21))
    assert percentile(values, 0.5) == 11 and percentile(values, 0.95) == 20
    assert percentile([], 0.5) is None


# ---- measurement of one draft -------------------------------------------------------------
def _hit(chunk_id: str, doc_id: str, text: str) -> Hit:
    return Hit(chunk_id=chunk_id, doc_id=doc_id, version=1, title=doc_id, doc_type="sop", text=text, score=0.1,
               dense_score=0.7)


def _draft(text: str, citations, sentences, *, removed=(), insufficient=False) -> Draft:
    return Draft(text=text, citations=tuple(citations), mode="llm",
                 risk=DraftRisk(RiskAssessment("normal", (), ())),
                 grounding=GroundingReport(tuple(sentences)), insufficient_guidance=insufficient,
                 invalid_citations_removed=tuple(removed), timings={"retrieve": 0.01, "total": 0.05})


def _cite(n: int, hit: Hit) -> Citation:
    return Citation(n=n, doc_id=hit.doc_id, title=hit.title, version=1, page=None, section=None, quote=hit.text,
                    chunk_id=hit.chunk_id)


A = _hit("pay::v1::0", "sop-payout-holds", "Payouts to a new method are held for 14 days.")
B = _hit("gift::v1::0", "sop-gift-refunds", "Unused coins can be refunded within 14 days.")
GHOST = _hit("ghost::v1::0", "sop-ghost", "A passage the retriever never returned.")


def test_measure_draft_counts_removed_and_unretrieved_citations_as_invalid() -> None:
    draft = _draft("Payouts are held for 14 days [1]. Coins are refundable [2]. Something else [3].",
                   [_cite(1, A), _cite(2, B), _cite(3, GHOST)],
                   [GroundingSentence("Payouts are held for 14 days.", (1,), True, 0.9),
                    GroundingSentence("Coins are refundable.", (2,), False, 0.4),
                    GroundingSentence("Something else.", (3,), False, 0.1)],
                   removed=(7,))
    row = measure_draft(draft, {A.chunk_id: A, B.chunk_id: B}, ["sop-payout-holds", "sop-other"],
                        references=["Payouts are held for 14 days."])
    assert row["citations"] == 4 and row["invalid_citations"] == 2  # [3] not retrieved, [7] removed
    assert row["citation_validity"] == pytest.approx(0.5)
    assert row["sentences"] == 3 and row["supported"] == 1 and row["grounding"] == pytest.approx(0.3333)
    assert row["relevant_coverage"] == pytest.approx(0.5) and row["cited_relevant"] is True
    assert row["rouge_l"] is not None and 0 < row["rouge_l"] < 1
    assert row["draft_ms"] == pytest.approx(40.0) and row["total_ms"] == pytest.approx(50.0)


def test_summary_leaves_holding_replies_out_of_grounding_but_not_out_of_coverage() -> None:
    answered = measure_draft(_draft("Held for 14 days [1].", [_cite(1, A)],
                                    [GroundingSentence("Held for 14 days.", (1,), True, 0.9)]),
                             {A.chunk_id: A}, ["sop-payout-holds"])
    holding = measure_draft(_draft("We are checking with the team.", [],
                                   [GroundingSentence("We are checking with the team.", (), False, 0.0)],
                                   insufficient=True), {A.chunk_id: A}, ["sop-payout-holds"])
    summary = summarise_rows([answered, holding])
    assert summary["grounding"] == 1.0
    assert summary["insufficient_guidance_rate"] == 0.5
    assert summary["relevant_coverage"] == 0.5
    assert summary["citation_validity"] == 1.0
    assert summary["faithfulness"] is None and summary["judged"] == 0


def test_sentences_with_a_wrong_detail_are_counted_and_listed() -> None:
    draft = _draft("Held for 14 hours [1]. Held for 14 days [1]. Unrelated [1].", [_cite(1, A)],
                   [GroundingSentence("Held for 14 hours.", (1,), False, 0.9, (), ("14 hours",)),
                    GroundingSentence("Held for 14 days.", (1,), True, 0.9),
                    GroundingSentence("Unrelated.", (1,), False, 0.2)])
    row = measure_draft(draft, {A.chunk_id: A}, ["sop-payout-holds"])
    assert row["wrong_details"] == 1
    assert row["checks"] == ["Held for 14 hours.: states 14 hours, which its sources do not",
                             "Unrelated.: not supported by what it cites"]
    assert summarise_rows([row])["wrong_detail_rate"] == pytest.approx(0.3333)


# ---- LLM judge (LangChain fake chat model) ----------------------------------------------------
class RecordingFake(GenericFakeChatModel):
    """A fake chat model that keeps the prompts it was given."""

    seen: list = []

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.seen.append(messages)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def _fake(*answers: str) -> RecordingFake:
    model = RecordingFake(messages=iter([AIMessage(content=a) for a in answers]))
    model.seen = []
    return model


def test_judge_extracts_claims_then_checks_them_against_the_passages() -> None:
    judge = _fake('{"claims": ["Payouts are held for 14 days.", "Payouts arrive the same day."]}',
                  '```json\n{"verdicts": [{"claim": "a", "verdict": 1, "reason": "stated"},'
                  ' {"claim": "b", "verdict": 0, "reason": "not stated"}]}\n```')
    verdict = judge_faithfulness(judge, "Hi jo.doe@example.com, payouts are held for 14 days [1]. They arrive "
                                        "the same day [1].", [A.text])
    assert verdict.claims == ("Payouts are held for 14 days.", "Payouts arrive the same day.")
    assert verdict.verdicts == (1, 0) and verdict.score == 0.5
    first, second = ("\n".join(m.content for m in call) for call in judge.seen)
    assert "jo.doe@example.com" not in first and "[1]" not in first  # redacted, markers stripped
    assert A.text in second and "2. Payouts arrive the same day." in second


def test_judge_missing_verdicts_count_as_unsupported_and_errors_do_not_raise() -> None:
    judge = _fake('{"claims": ["one", "two", "three"]}', '[1]')
    assert judge_faithfulness(judge, "x", [A.text]).verdicts == (1, 0, 0)
    broken = judge_faithfulness(_fake("no json at all"), "x", [A.text])
    assert broken.error and broken.score is None
    assert Faithfulness(("c",), (1,)).score == 1.0


def test_judge_without_cited_passages_supports_nothing() -> None:
    verdict = judge_faithfulness(_fake('{"claims": ["Refunds take 3 days."]}'), "Refunds take 3 days.", [])
    assert verdict.verdicts == (0,) and verdict.score == 0.0


def test_parse_json_answer_tolerates_prose_around_the_json() -> None:
    assert parse_json_answer('Sure! {"claims": ["a"]} Hope this helps.') == {"claims": ["a"]}
    with pytest.raises(ValueError):
        parse_json_answer("nothing here")


# ---- end to end on a tiny BEIR folder ----------------------------------------------------------
CORPUS = [
    ("payouts", "Payout holds", "Payouts to a new bank account are held for 14 days. After the hold the balance "
                                "is paid out automatically. Your balance stays safe in your account during the hold."),
    ("refunds", "Coin refunds", "Unused coins can be refunded within 14 days of purchase. Coins already sent as "
                                "gifts cannot be refunded."),
    ("appeals", "Content appeals", "You can appeal a content removal once within 30 days. Most appeals are "
                                   "decided within 48 hours."),
    ("password", "Password reset", "To reset your password, tap Forgot password on the login screen and follow "
                                   "the link we email you. The link expires after one hour."),
]
QUERIES = [
    ("q1", "why is my payout held after I changed my bank account?", "payouts",
     "Payouts to a new bank account are held for 14 days, then paid out automatically."),
    ("q2", "can I get a refund for coins I bought last week?", "refunds",
     "Unused coins can be refunded within 14 days of purchase."),
    ("q3", "how long does an appeal of a removed video take?", "appeals", None),
]


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as f:
        for _id, title, text in CORPUS:
            f.write(json.dumps({"_id": _id, "title": title, "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as f:
        for qid, text, _, _ in QUERIES:
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{qid}\t{doc}\t1\n" for qid, _, doc, _ in QUERIES))
    with (folder / "references.jsonl").open("w") as f:
        for qid, _, _, ref in QUERIES:
            if ref:
                f.write(json.dumps({"_id": qid, "reference_reply": ref}) + "\n")
    return folder


@pytest.mark.slow
def test_offline_draft_eval_on_a_tiny_beir_folder(tmp_path, embedder) -> None:
    from eval.drafts import run_draft_eval

    seen = []
    result = run_draft_eval(write_beir(tmp_path / "tiny"), make_settings(tmp_path / "home"), indexer=ingest_records,
                            on_query=lambda done, total: seen.append((done, total)))
    m = result["metrics"]
    assert result["kind"] == "drafts" and result["dataset"] == "tiny" and seen[-1] == (3, 3)
    assert m["queries"] == 3 and m["modes"] == {"offline": 3} and m["judged"] == 0
    assert m["references"] == 2
    rows = {r["query_id"]: r for r in result["per_query"]}
    answered = [r for r in rows.values() if not r["insufficient_guidance"]]
    assert answered, "the tiny KB answers its own questions"
    for row in answered:
        # the offline drafter cites only what it retrieved
        assert row["citation_validity"] == 1.0 and row["cited_doc_ids"]
    assert rows["q1"]["cited_relevant"] is True
    assert 0.0 < rows["q1"]["rouge_l"] <= 1.0 and rows["q1"]["cosine"] > 0.5
    assert rows["q3"]["rouge_l"] is None  # no reference for q3
    assert m["total_ms_p50"] >= m["retrieve_ms_p50"] > 0


@pytest.mark.slow
def test_llm_draft_eval_scores_invalid_citations_and_faithfulness(tmp_path, embedder) -> None:
    from eval.drafts import run_draft_eval

    drafter = GenericFakeChatModel(messages=iter([
        AIMessage(content="Hi,\n\nPayouts to a new bank account are held for 14 days [1]. "
                          "You will also get a bonus [9]. The hold is lifted after 14 hours if you call us [1]."
                          "\n\nBest wishes")]))
    judge = _fake('{"claims": ["Payouts to a new bank account are held for 14 days."]}',
                  '{"verdicts": [{"claim": "x", "verdict": 1}]}')
    result = run_draft_eval(write_beir(tmp_path / "tiny"), make_settings(tmp_path / "home"),
                            indexer=ingest_records, limit=1,
                            llm=drafter, judge=judge)
    row = result["per_query"][0]
    assert row["mode"] == "llm" and row["insufficient_guidance"] is False
    assert row["invalid_citations"] == 1 and row["citation_validity"] == 0.5  # [9] named no passage
    assert row["wrong_details"] == 1 and "14 hours, contact by phone" in " ".join(row["checks"])
    assert row["faithfulness"] == 1.0 and row["claims"] == 1
    assert result["metrics"]["faithfulness"] == 1.0 and result["timings"]["judge"] is True


@pytest.mark.slow
def test_draft_eval_on_a_dstc10_subset(tmp_path, embedder) -> None:
    """A limited run on real noisy questions: 10 queries over their gold FAQs plus same-domain distractors."""
    from eval.drafts import run_draft_eval

    source = SHARED_DATASETS / "dstc10_faq"
    if not (source / "corpus.jsonl").is_file():
        pytest.skip("shared/datasets/dstc10_faq is not present")
    queries = [json.loads(line) for line in (source / "queries.jsonl").open()][:10]
    wanted = {q["_id"] for q in queries}
    qrels = [line for line in (source / "qrels" / "test.tsv").read_text().splitlines()[1:]
             if line.split("\t")[0] in wanted]
    gold = {line.split("\t")[1] for line in qrels}
    corpus = [json.loads(line) for line in (source / "corpus.jsonl").open()]
    entities = {d.rsplit(":faq:", 1)[0] for d in gold}
    subset = [e for e in corpus if e["_id"].rsplit(":faq:", 1)[0] in entities]
    target = tmp_path / "dstc10_subset"
    (target / "qrels").mkdir(parents=True)
    (target / "corpus.jsonl").write_text("".join(json.dumps(e) + "\n" for e in subset))
    (target / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (target / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")
    refs = [line for line in (source / "references.jsonl").open() if json.loads(line)["_id"] in wanted]
    (target / "references.jsonl").write_text("".join(refs))

    result = run_draft_eval(target, make_settings(tmp_path / "home"), indexer=ingest_records, limit=10)
    m = result["metrics"]
    print(f"\n[dstc10 subset: {len(subset)} FAQs, 10 queries] " + json.dumps(
        {k: m[k] for k in ("insufficient_guidance_rate", "citation_validity", "grounding", "relevant_coverage",
                           "rouge_l", "reference_cosine", "total_ms_p50")}))
    assert m["queries"] == 10 and m["references"] == 10
    if m["answered"]:
        assert m["citation_validity"] == 1.0
        assert m["grounding"] is not None and m["grounding"] >= 0.5
    assert all(r["relevant"] for r in result["per_query"])


@pytest.mark.slow
def test_cli_eval_drafts_prints_metrics_and_writes_the_report(tmp_path, embedder, capsys) -> None:
    import argparse

    from app.cli_eval import register_eval

    parser = argparse.ArgumentParser(prog="replydesk")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", type=Path)
    register_eval(parser.add_subparsers(dest="command").add_parser("eval").add_subparsers(dest="e"), common)
    report = tmp_path / "drafts.md"
    args = parser.parse_args(["eval", "drafts", "--dataset", str(write_beir(tmp_path / "tiny")), "--limit", "2",
                              "--home", str(tmp_path / "home"), "--report", str(report)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "dataset tiny: 4 documents, 2 drafts (offline: 2)" in out and "grounding" in out
    assert "| Citation validity |" in report.read_text()
