"""Fusion calibration: the replay must rank exactly as the product does, and the estimate
must be cross-validated."""

from __future__ import annotations

import json
import random
import numpy as np
import pytest

from eval.calibrate import (FusionParams, calibrate_fusion, calibrate_on_tickets, capture_query, load_labelled_tickets,
                            metrics_of, replay)
from eval.retrieval import DatasetError
from kb.retrieval import RankedList, RetrievalConfig, fuse_ranked_lists, order_chunks, parse_chunk_id
from tests.conftest import make_settings

LABELS = ("dense", "bm25", "bm25:turn", "dense:linked", "bm25:linked")


def _product_first_relevant_rank(lists, config, relevant) -> float:
    fused, _sources = fuse_ranked_lists(lists, config)
    docs = [parse_chunk_id(c)[0] for c in order_chunks(fused, dedupe_documents=True)]
    return next((i for i, d in enumerate(docs) if d in relevant), np.inf)


def test_list_weights_follow_the_configuration():
    cfg = RetrievalConfig(dense_weight=2.0, bm25_weight=0.5, turn_weight=0.25, entity_weight=3.0)
    assert [cfg.list_weight(label) for label in LABELS] == [2.0, 0.5, 0.125, 6.0, 1.5]


def test_replay_ranks_documents_exactly_like_the_product_fusion_ties_included():
    rng = random.Random(3)
    checked = 0
    for _ in range(300):
        docs = [f"d{i}" for i in range(rng.randint(2, 12))]
        chunks = [f"{d}::v1::{j}" for d in docs for j in range(rng.randint(1, 3))]
        labels = rng.sample(LABELS, rng.randint(1, len(LABELS)))
        lists = [RankedList(label, tuple((c, 0.0) for c in rng.sample(chunks, rng.randint(1, len(chunks)))))
                 for label in labels]
        relevant = set(rng.sample(docs, rng.randint(1, 2)))
        rrf_k = rng.choice((1, 30, 60))
        # Few distinct weights, so equal scores (and the chunk-id tie-break) are common.
        configs = [RetrievalConfig(dense_weight=rng.choice((0.0, 0.5, 1.0)), bm25_weight=1.0,
                                   turn_weight=rng.choice((0.0, 0.5, 1.0)), entity_weight=rng.choice((0.0, 1.0, 2.0)),
                                   rrf_k=rrf_k) for _ in range(6)]
        replayed = replay(capture_query(lists, relevant), configs, rrf_k)
        expected = [_product_first_relevant_rank(lists, cfg, relevant) for cfg in configs]
        assert list(replayed) == expected
        checked += sum(np.isfinite(expected))
    assert checked > 500  # most cases have a relevant document among the candidates


def test_metrics_from_ranks():
    m = metrics_of(np.array([0.0, 4.0, 5.0, np.inf]))
    assert list(m["hit@5"]) == [1.0, 1.0, 0.0, 0.0]
    assert list(m["mrr@10"]) == [1.0, 0.2, 1 / 6, 0.0]


def test_params_print_as_environment_lines():
    env = FusionParams(1.5, 1.0, 0.0, 2.0, 30).env()
    assert env == {"REPLYDESK_DENSE_WEIGHT": "1.5", "REPLYDESK_BM25_WEIGHT": "1.0", "REPLYDESK_TURN_WEIGHT": "0.0",
                   "REPLYDESK_ENTITY_WEIGHT": "2.0", "REPLYDESK_RRF_K": "30"}


def _write_beir(folder):
    corpus = [
        ("grant-checkin", "Grant Hotel (hotel)", "Q: What time is check-in?\nA: Check-in starts at 3 PM."),
        ("grant-parking", "Grant Hotel (hotel)", "Q: Is there parking?\nA: Valet parking costs extra."),
        ("grant-pets", "Grant Hotel (hotel)", "Q: Can I bring my dog?\nA: Pets are not allowed."),
        ("octavia-seating", "Octavia (restaurant)", "Q: Is there outdoor seating?\nA: No outdoor seating."),
        ("octavia-delivery", "Octavia (restaurant)", "Q: Do they deliver?\nA: Delivery is available."),
        ("octavia-dogs", "Octavia (restaurant)", "Q: Are dogs allowed?\nA: Dogs are welcome on the patio."),
    ]
    queries = [
        ("q1", "what time can i check in", "i'd like the grant hotel", "grant-checkin"),
        ("q2", "can i sit outside", "it's called octavia", "octavia-seating"),
        ("q3", "can i bring my dog", "the grant hotel please", "grant-pets"),
        ("q4", "do they bring food to my home", "octavia sounds good", "octavia-delivery"),
        ("q5", "where do i leave the car", "book the grant hotel", "grant-parking"),
        ("q6", "is my puppy welcome", "octavia it is", "octavia-dogs"),
    ]
    folder.mkdir(parents=True)
    (folder / "qrels").mkdir()
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": i, "title": t, "text": x})
                                                   for i, t, x in corpus))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps({"_id": q, "text": t, "context": c})
                                                    for q, t, c, _ in queries))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n"
                                               + "".join(f"{q}\t{d}\t1\n" for q, _, _, d in queries))
    return folder


@pytest.mark.slow
def test_calibration_starts_from_the_product_metrics_and_cross_validates(tmp_path):
    from eval.retrieval import run_retrieval_eval
    from ingest.pipeline import ingest_records

    data = _write_beir(tmp_path / "hotels")
    settings = make_settings(tmp_path / "home")
    index = tmp_path / "index"
    result = calibrate_fusion(data, settings, indexer=ingest_records, folds=3, keep_home=index)
    product = run_retrieval_eval(data, settings, indexer=ingest_records, keep_home=index)
    assert result["kind"] == "calibration" and result["queries"] == 6
    assert (result["current"]["hit@5"], result["current"]["mrr@10"]) == (product["hit@5"], product["mrr@10"])
    assert result["current"]["params"] == {name: getattr(settings, name) for name in
                                           ("dense_weight", "bm25_weight", "turn_weight", "entity_weight", "rrf_k")}
    assert result["best"]["mrr@10"] >= result["current"]["mrr@10"]
    cv = result["cross_validated"]
    assert cv["folds"] == 3 and len(cv["chosen_per_fold"]) == 3
    assert cv["gain"] == pytest.approx(cv["mrr@10"] - result["current"]["mrr@10"], abs=1e-3)
    assert result["recommend"] == (result["env"] != {})

    # The settings it reports are the settings the product then runs with.
    best = result["best"]["params"]
    tuned = make_settings(tmp_path / "home", **best)
    again = run_retrieval_eval(data, tuned, indexer=ingest_records, keep_home=index)
    assert (again["hit@5"], again["mrr@10"]) == (result["best"]["hit@5"], result["best"]["mrr@10"])

    with pytest.raises(DatasetError, match="unknown metric"):
        calibrate_fusion(data, settings, indexer=ingest_records, metric="ndcg", keep_home=index)
    with pytest.raises(DatasetError, match="at least 2 folds"):
        calibrate_fusion(data, settings, indexer=ingest_records, folds=1, keep_home=index)


@pytest.mark.slow
def test_calibrate_command_prints_a_verdict(tmp_path, capsys):
    from app.cli import main

    data = _write_beir(tmp_path / "hotels")
    assert main(["eval", "calibrate", "--home", str(tmp_path / "home"), "--dataset", str(data),
                 "--index", str(tmp_path / "index"), "--folds", "2", "--report", str(tmp_path / "cal.md")]) == 0
    assert (tmp_path / "cal.md").read_text().startswith("# Fusion calibration: hotels")
    out = capsys.readouterr().out
    assert "6 labelled queries" in out and "current settings" in out
    assert ("put these in .env" in out) or ("keep the current settings" in out)
    assert main(["eval", "calibrate", "--home", str(tmp_path / "home"), "--dataset", str(data),
                 "--index", str(tmp_path / "index"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "calibration"


@pytest.mark.slow
def test_labelled_tickets_calibrate_against_a_live_knowledge_base(tmp_path, capsys):
    from app.cli import main
    from ingest.pipeline import ingest_records
    from kb.knowledge_base import KnowledgeBase

    data = _write_beir(tmp_path / "hotels")
    settings = make_settings(tmp_path / "home")
    live = tmp_path / "live"
    from_beir = calibrate_fusion(data, settings, indexer=ingest_records, folds=2, keep_home=live)
    # The same labelled queries as a tickets file, against the knowledge base they were ingested into.
    queries = [json.loads(line) for line in (data / "queries.jsonl").read_text().splitlines()]
    qrels = dict(line.split("\t")[:2] for line in (data / "qrels" / "test.tsv").read_text().splitlines()[1:])
    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text("\n".join(json.dumps({"id": q["_id"], "text": q["text"], "context": q["context"],
                                             "relevant_doc_ids": [qrels[q["_id"]]]}) for q in queries)
                       + "\n" + json.dumps({"id": "risk-only", "text": "not a retrieval label"}) + "\n")
    assert len(load_labelled_tickets(tickets)) == 6  # the line without relevant documents is skipped
    kb = KnowledgeBase(settings.with_home(live))
    from_tickets = calibrate_on_tickets(kb, tickets, folds=2)
    assert from_tickets["dataset"] == "tickets.jsonl" and from_tickets["queries"] == 6
    assert from_tickets["current"] == from_beir["current"] and from_tickets["best"] == from_beir["best"]

    assert main(["eval", "calibrate", "--home", str(live), "--tickets", str(tickets), "--folds", "2"]) == 0
    assert "6 labelled queries" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "relevant_doc_ids": ["grant-pets"]}) + "\n{oops\n")
    assert main(["eval", "calibrate", "--home", str(live), "--tickets", str(bad)]) == 1
    assert f"{bad}:2: not JSON" in capsys.readouterr().err
    bad.write_text(json.dumps({"text": "x", "relevant_doc_ids": ["no-such-doc"]}) + "\n")
    assert main(["eval", "calibrate", "--home", str(live), "--tickets", str(bad)]) == 1
    assert "not active in the knowledge base" in capsys.readouterr().err
    assert main(["eval", "calibrate", "--home", str(tmp_path / "empty"), "--tickets", str(tickets)]) == 1
    assert "has no documents" in capsys.readouterr().err
    assert main(["eval", "calibrate", "--home", str(live), "--tickets", str(tickets), "--index", str(live)]) == 2
