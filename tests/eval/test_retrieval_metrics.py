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


def _folder(tmp_path, corpus: str, queries: str, qrels: str):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    (tmp_path / "queries.jsonl").write_text(queries, encoding="utf-8")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels, encoding="utf-8")
    return tmp_path


CORPUS = '{"_id": "d1", "text": "refunds take 14 days"}\n{"_id": 2, "title": "Payouts", "text": "held"}\n'
QUERIES = '{"_id": "q1", "text": "refund"}\n{"_id": 7, "text": "payout"}\n'


@pytest.mark.parametrize(("corpus", "queries", "qrels", "message"), [
    (CORPUS, QUERIES + '{"text": "no id"}\n', "q1\td1\t1\n", r"queries.jsonl:3: missing _id"),
    (CORPUS, '{"_id": "q1"}\n', "q1\td1\t1\n", r"queries.jsonl:1: missing text"),
    (CORPUS, '{"_id": "q1", "text": ["a"]}\n', "q1\td1\t1\n", r"queries.jsonl:1: text must be a string, got list"),
    (CORPUS + '{"_id": "d1", "text": "again"}\n', QUERIES, "q1\td1\t1\n",
     r"corpus.jsonl:3: duplicate _id 'd1' \(first at line 1\)"),
    (CORPUS + '["not", "an", "object"]\n', QUERIES, "q1\td1\t1\n", r"corpus.jsonl:3: expected a JSON object, got list"),
    (CORPUS, QUERIES, "q1\td1\tyes\n", r"test.tsv:2: score 'yes' is not a number"),
    (CORPUS, QUERIES, "q1\n", r"test.tsv:2: expected query-id<TAB>corpus-id<TAB>score"),
    (CORPUS, QUERIES, "q9\td1\t1\n", r"test.tsv: no query of queries.jsonl has a relevant document"),
])
def test_malformed_rows_are_named_by_file_and_line(tmp_path, corpus, queries, qrels, message):
    with pytest.raises(DatasetError, match=message):
        load_beir(_folder(tmp_path, corpus, queries, qrels))


def test_what_cannot_be_evaluated_is_set_aside_with_a_warning_and_the_rest_loads(tmp_path):
    corpus = CORPUS + '{"_id": "empty", "title": " ", "text": ""}\n{"_id": "t", "title": "Do you ship abroad?"}\n'
    qrels = "q1\td1\t1\n7\t2\t2\nq1\tgone\t1\nq9\td1\t1\n"
    dataset = load_beir(_folder(tmp_path, corpus, QUERIES, qrels))
    # Ids are strings everywhere, so qrels (always text) match numeric ids.
    assert [e["_id"] for e in dataset.corpus] == ["d1", "2", "t"]
    assert [q["_id"] for q in dataset.queries] == ["q1", "7"] and dataset.qrels["7"] == {"2": 2}
    # A title-only entry is a document whose text is its title.
    assert dataset.corpus[-1]["text"] == "Do you ship abroad?"
    assert len(dataset.warnings) == 3
    empty, unjudged, unknown = dataset.warnings
    assert "corpus.jsonl: 1 entry without text or title set aside (e.g. 'empty')" in empty
    assert "1 judged query not in queries.jsonl, so not evaluated (e.g. 'q9')" in unjudged
    assert "1 relevant document not in the corpus" in unknown and "'gone'" in unknown


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    folder = _folder(tmp_path, CORPUS, QUERIES, "q1\td1\t1\n")
    (folder / "queries.jsonl").write_bytes(b'{"_id": "q1", "text": "caf\xe9"}\n')
    with pytest.raises(DatasetError, match=r"queries.jsonl: not UTF-8 text"):
        load_beir(folder)
