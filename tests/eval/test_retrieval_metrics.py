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
