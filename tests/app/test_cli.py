"""The replydesk CLI end to end (real model, real Chroma, temp homes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.cli import main
from tests.ingest.helpers import make_pdf, write

pytestmark = pytest.mark.slow


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    write(folder / "holds.md", "---\ndoc_id: sop-payout-holds\ntitle: Payout holds\nversion: 1\n---\n"
          "## Hold period\n\nA payout hold lasts thirty days while the risk team reviews the account.\n")
    make_pdf(folder / "strikes.pdf", [["Community strikes", "Three strikes within ninety days lead to a ban."]])
    write(folder / "strikes.pdf.meta.yaml", "doc_id: pol-strikes\ntitle: Community standards strikes\n"
          "doc_type: policy\n")
    write(folder / "qa.csv", "question,answer\nCan I appeal a strike?,Yes within 30 days.\n")
    write(folder / "notes.xyz", "unsupported")
    return folder


def run_json(capsys, *argv) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_ingest_search_docs_cycle(tmp_path, docs, capsys):
    home = str(tmp_path / "home")
    code, summary = run_json(capsys, "ingest", str(docs), "--home", home, "--json", "--tag", "demo")
    assert code == 1  # one file failed
    assert {k: summary[k] for k in ("ingested", "skipped_unchanged", "superseded", "chunks")} == {
        "ingested": 3, "skipped_unchanged": 0, "superseded": 0, "chunks": 3}
    assert summary["failed"] == [{"path": str(docs / "notes.xyz"),
                                  "error": summary["failed"][0]["error"]}]
    assert "unsupported file type '.xyz'" in summary["failed"][0]["error"]

    code, result = run_json(capsys, "search", "how many strikes before a ban", "--home", home, "--json", "--k", "2")
    assert code == 0 and result["hits"][0]["doc_id"] == "pol-strikes" and result["hits"][0]["page"] == 1

    code, result = run_json(capsys, "search", "strikes", "--home", home, "--json", "--doc-type", "qa")
    assert {h["doc_type"] for h in result["hits"]} == {"qa"}

    (docs / "notes.xyz").unlink()
    code, summary = run_json(capsys, "ingest", str(docs), "--home", home, "--json")
    assert code == 0 and summary["skipped_unchanged"] == 3 and summary["ingested"] == 0

    write(docs / "holds.md", (docs / "holds.md").read_text().replace("thirty", "fourteen").replace("version: 1", "version: 2"))
    code, summary = run_json(capsys, "ingest", str(docs / "holds.md"), "--home", home, "--json")
    assert summary["superseded"] == 1 and summary["ingested"] == 1

    code, history = run_json(capsys, "docs", "history", "sop-payout-holds", "--home", home, "--json")
    assert [(v["version"], v["status"]) for v in history] == [(1, "superseded"), (2, "active")]
    code, shown = run_json(capsys, "docs", "show", "sop-payout-holds", "--home", home, "--json")
    assert "fourteen days" in shown["text"] and shown["version"] == 2
    code, listed = run_json(capsys, "docs", "list", "--home", home, "--json")
    assert {d["doc_id"] for d in listed} == {"sop-payout-holds", "pol-strikes", "qa.csv"}

    assert main(["docs", "retire", "pol-strikes", "--home", home]) == 0
    assert "version 1 retired" in capsys.readouterr().out
    code, result = run_json(capsys, "search", "strikes ban", "--home", home, "--json")
    assert "pol-strikes" not in {h["doc_id"] for h in result["hits"]}
    assert main(["docs", "restore", "pol-strikes", "--home", home]) == 0
    assert "version 1 restored" in capsys.readouterr().out
    code, result = run_json(capsys, "search", "strikes ban", "--home", home, "--json")
    assert result["hits"][0]["doc_id"] == "pol-strikes"
    assert main(["docs", "show", "nope", "--home", home]) == 1
    capsys.readouterr()
    assert main(["docs", "retire", "nope", "--home", home]) == 1
    assert capsys.readouterr().err.startswith("replydesk: error: unknown document 'nope'")


def test_console_script_runs_in_a_subprocess(tmp_path, docs):
    result = subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(docs / "holds.md"), "--home",
                             str(tmp_path / "h"), "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ingested"] == 1


_REPORTING_TORCH = """
import runpy, sys
sys.argv = ["replydesk", *sys.argv[1:]]
try:
    runpy.run_module("app.cli", run_name="__main__")
finally:
    print("torch imported:", "torch" in sys.modules, file=sys.stderr)
"""


def test_commands_after_the_first_run_on_a_machine_do_not_load_pytorch(tmp_path, docs):
    import os

    env = {**os.environ, "REPLYDESK_MODEL_CACHE_DIR": str(tmp_path / "model-cache")}
    home = str(tmp_path / "h")

    def cli(*argv):
        done = subprocess.run([sys.executable, "-c", _REPORTING_TORCH, *argv], capture_output=True, text=True,
                              env=env, timeout=600)
        assert done.returncode == 0, done.stderr
        return done

    first = cli("ingest", str(docs / "holds.md"), "--home", home, "--json")  # exports the graph
    assert "torch imported: True" in first.stderr
    search = cli("search", "how long does a payout hold last", "--home", home, "--json")
    assert "torch imported: False" in search.stderr
    assert json.loads(search.stdout)["hits"][0]["doc_id"] == "sop-payout-holds"
    draft = cli("draft", "--ticket", "How long will my payout be on hold?", "--home", home, "--json")
    assert "torch imported: False" in draft.stderr
    assert "thirty days" in json.loads(draft.stdout)["text"]


def test_eval_retrieval_on_a_small_beir_dataset(tmp_path, capsys):
    data = tmp_path / "beir"
    corpus = [
        {"_id": "d1", "title": "Grant Hotel (hotel)", "text": "Q: What time is check-in?\nA: Check-in starts at 3 PM."},
        {"_id": "d2", "title": "Grant Hotel (hotel)", "text": "Q: Is there parking?\nA: Valet parking costs extra."},
        {"_id": "d3", "title": "Octavia (restaurant)", "text": "Q: Is there outdoor seating?\nA: No outdoor seating."},
        {"_id": "d4", "title": "Octavia (restaurant)", "text": "Q: Do they deliver?\nA: Delivery is available."},
    ]
    queries = [{"_id": "q1", "text": "what time can i check in", "context": "i'd like the grant hotel"},
               {"_id": "q2", "text": "can i sit outside", "context": "it's called octavia"}]
    write(data / "corpus.jsonl", "\n".join(json.dumps(c) for c in corpus))
    write(data / "queries.jsonl", "\n".join(json.dumps(q) for q in queries))
    write(data / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    code, result = run_json(capsys, "eval", "retrieval", "--dataset", str(data), "--json", "--config", "hybrid",
                            "--config", "bm25")
    assert code == 0
    assert set(result) >= {"hit@5", "recall@5", "recall@10", "mrr@10", "ndcg@10", "timings", "configs"}
    assert result["hit@5"] == 1.0 and result["mrr@10"] == 1.0
    assert set(result["configs"]) == {"hybrid", "bm25"}
    assert main(["eval", "retrieval", "--dataset", str(tmp_path / "missing")]) == 1


def _small_beir(folder, corpus_ids=("d1", "d2")):
    corpus = [{"_id": i, "title": f"Doc {i}", "text": f"Q: Question about topic {i}?\nA: Answer {i}."}
              for i in corpus_ids]
    write(folder / "corpus.jsonl", "\n".join(json.dumps(c) for c in corpus))
    write(folder / "queries.jsonl", json.dumps({"_id": "q1", "text": f"question about topic {corpus_ids[0]}"}))
    write(folder / "qrels" / "test.tsv", f"query-id\tcorpus-id\tscore\nq1\t{corpus_ids[0]}\t1\n")
    return folder


def test_eval_index_is_kept_and_reused_but_never_mixed_with_another_dataset(tmp_path, capsys):
    data = _small_beir(tmp_path / "beir")
    index = tmp_path / "index"
    code, first = run_json(capsys, "eval", "retrieval", "--dataset", str(data), "--index", str(index), "--json")
    assert code == 0 and first["hit@5"] == 1.0
    assert first["timings"]["chunks"] == 2  # embedded on the first run
    code, again = run_json(capsys, "eval", "retrieval", "--dataset", str(data), "--index", str(index), "--json")
    assert code == 0 and again["hit@5"] == 1.0
    assert again["timings"]["chunks"] == 0  # nothing embedded again

    other = _small_beir(tmp_path / "other", corpus_ids=("x1", "x2"))
    assert main(["eval", "retrieval", "--dataset", str(other), "--index", str(index)]) == 1
    assert "holds 2 documents that are not in other" in capsys.readouterr().err
    # The data home is never used as an evaluation index, and a file is not a folder.
    home = tmp_path / "home"
    assert main(["eval", "drafts", "--home", str(home), "--dataset", str(data), "--index", str(home)]) == 2
    assert "data home" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["eval", "retrieval", "--dataset", str(data), "--index", str(tmp_path / "file")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_eval_names_a_bad_row_and_warns_about_what_it_set_aside(tmp_path, capsys):
    data = _small_beir(tmp_path / "beir")
    with (data / "queries.jsonl").open("a") as handle:
        handle.write('\n{"text": "a query without its id"}\n')
    assert main(["eval", "retrieval", "--dataset", str(data)]) == 1
    assert capsys.readouterr().err.strip() == f"replydesk: error: {data / 'queries.jsonl'}:2: missing _id"

    data = _small_beir(tmp_path / "beir2")
    with (data / "corpus.jsonl").open("a") as handle:
        handle.write('\n{"_id": "blank", "text": ""}\n')
    with (data / "qrels" / "test.tsv").open("a") as handle:
        handle.write("q1\tdeleted-doc\t1\n")
    report = tmp_path / "report.md"
    code, result = run_json(capsys, "eval", "retrieval", "--dataset", str(data), "--json", "--report", str(report))
    assert code == 0 and result["timings"]["documents"] == 2
    assert result["hit@5"] == 1.0 and result["recall@10"] == 0.5  # the missing document still counts
    assert len(result["warnings"]) == 2
    text = report.read_text()
    assert "## Dataset warnings" in text and "'blank'" in text and "'deleted-doc'" in text


@pytest.mark.parametrize("command", [["eval", "retrieval", "--dataset"], ["eval", "drafts", "--dataset"],
                                     ["eval", "calibrate", "--dataset"]])
def test_an_unsupported_report_format_is_refused_before_any_work(tmp_path, capsys, monkeypatch, command):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the evaluation ran before the report name was checked")

    monkeypatch.setattr("kb.knowledge_base.KnowledgeBase.__init__", must_not_run)
    folder = _small_beir(tmp_path / "beir")
    with pytest.raises(SystemExit) as exit_info:
        main([*command, str(folder), "--home", str(tmp_path / "home"), "--report", str(tmp_path / "out.pdf")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "out.pdf: report format must be one of .md, .html, .json" in err
    assert not (tmp_path / "out.pdf").exists()
