import math

import pytest

from eval.retrieval import DatasetError, load_beir, query_metrics


def test_metrics_of_a_ranked_list():
    m = query_metrics(["a", "b", "c"], {"b": 1})
    assert m["hit@5"] == 1.0 and m["mrr@10"] == 0.5 and m["recall@5"] == 1.0
    assert math.isclose(m["ndcg@10"], 1 / math.log2(3))
    assert query_metrics(["x"] * 10, {"b": 1})["recall@10"] == 0.0


def test_two_relevant_documents_recall_is_partial():
    m = query_metrics(["a", "z", "z", "z", "z", "b"], {"a": 1, "b": 1})
    assert m["recall@5"] == 0.5 and m["recall@10"] == 1.0


def test_missing_files_are_named(tmp_path):
    with pytest.raises(DatasetError, match="corpus.jsonl: file not found"):
        load_beir(tmp_path)


def _beir(folder, splits):
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text('{"_id": 1, "title": "", "text": "refunds"}\n{"_id": 2, "text": "payouts"}\n')
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "refund"}\n')
    for split, rows in splits.items():
        (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)


def test_the_only_split_is_used_and_zero_scores_are_not_relevant(tmp_path):
    _beir(tmp_path, {"dev": "q1\t1\t1\nq1\t2\t0\n"})
    assert load_beir(tmp_path).qrels == {"q1": {"1": 1}}


def test_ambiguous_or_unknown_split_lists_what_exists(tmp_path):
    _beir(tmp_path, {"dev": "q1\t1\t1\n", "train": "q1\t2\t1\n"})
    with pytest.raises(DatasetError, match=r"test.tsv: file not found \(available splits: dev, train\)"):
        load_beir(tmp_path)
    assert load_beir(tmp_path, "train").qrels == {"q1": {"2": 1}}


def test_query_context_may_be_a_list_of_turns_or_sit_in_metadata():
    from eval.retrieval import ticket_of

    turns = ticket_of({"text": "and now?", "context": ["hi", {"content": "my payout"}, {"text": " "}]})
    assert (turns.text, turns.context) == ("and now?", "hi\nmy payout")
    assert ticket_of({"text": "x", "metadata": {"context": "earlier"}}).context == "earlier"
    assert ticket_of({"text": "x"}).context == ""
