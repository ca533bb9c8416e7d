"""Changing the embedding model of a knowledge base from the command line (real models, real Chroma)."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from tests.ingest.helpers import write

pytestmark = pytest.mark.slow


def test_switching_models_is_refused_until_reindex_then_searches_with_the_new_model(
        tmp_path, projected_model, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REPLYDESK_EMBEDDING_MODEL", raising=False)
    home = str(tmp_path / "home")
    docs = tmp_path / "docs"
    write(docs / "holds.md", "# Payout holds\n\nA payout hold lasts thirty days while the risk team reviews "
                             "the account.\n")
    write(docs / "lockout.md", "# Account lockout\n\nAn account locks after five failed sign-in attempts; "
                               "the user unlocks it from the email we send.\n")
    assert main(["ingest", str(docs), "--home", home, "--no-progress"]) == 0
    capsys.readouterr()

    monkeypatch.setenv("REPLYDESK_EMBEDDING_MODEL", str(projected_model))
    assert main(["search", "how long is my payout held", "--home", home]) == 2
    error = capsys.readouterr().err
    assert error.startswith("replydesk: error: the knowledge base in")
    assert "'all-MiniLM-L6-v2' (384 dimensions)" in error and f"'{projected_model}' (256 dimensions)" in error
    assert "Traceback" not in error

    write(docs / "chargebacks.md", "# Chargebacks\n\nChargebacks are answered by the payments team.\n")
    assert main(["ingest", str(docs), "--home", home, "--no-progress"]) == 2
    assert "replydesk reindex" in capsys.readouterr().err
    assert main(["docs", "list", "--home", home, "--json"]) == 0
    assert sorted(d["doc_id"] for d in json.loads(capsys.readouterr().out)) == ["holds.md", "lockout.md"]

    assert main(["reindex", "--home", home, "--json", "--no-progress"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["model"], report["dimension"], report["previous_model"]) == (
        str(projected_model), 256, "all-MiniLM-L6-v2")
    assert report["chunks"] >= 2

    assert main(["ingest", str(docs), "--home", home, "--no-progress"]) == 0
    capsys.readouterr()
    for query, doc_id in [("how long is my payout held", "holds.md"), ("I typed my password wrong and I'm "
                          "locked out", "lockout.md"), ("who handles a chargeback", "chargebacks.md")]:
        assert main(["search", query, "--home", home, "--json", "--k", "1"]) == 0
        (hit,) = json.loads(capsys.readouterr().out)["hits"]
        assert hit["doc_id"] == doc_id and hit["dense_score"] is not None

    # Back to the bundled model without a reindex: refused the other way round.
    monkeypatch.delenv("REPLYDESK_EMBEDDING_MODEL")
    assert main(["search", "payout", "--home", home]) == 2
    assert f"embedded with '{projected_model}' (256 dimensions)" in capsys.readouterr().err
