"""The same knowledge-base code against a real Chroma server (HttpClient) on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.knowledge_base import KnowledgeBase
from kb.retrieval import Retriever
from tests.conftest import make_settings
from tests.ingest.helpers import write

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(chroma).exists():
        pytest.skip("the chroma CLI (chromadb package) is not installed")
    port = free_port()
    proc = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_ingest_version_switch_and_search_through_a_chroma_server(chroma_server, tmp_path, keyword_embedder):
    settings = make_settings(tmp_path / "home", chroma_host="127.0.0.1", chroma_port=chroma_server)
    kb = KnowledgeBase(settings, embedder=keyword_embedder)
    write(tmp_path / "v1" / "holds.md", "---\ndoc_id: sop-holds\ntitle: Payout holds\nversion: 1\n---\n"
          "## Hold period\n\nA payout hold lasts thirty days.\n")
    write(tmp_path / "v2" / "holds.md", "---\ndoc_id: sop-holds\ntitle: Payout holds\nversion: 2\n---\n"
          "## Hold period\n\nA payout hold lasts fourteen days.\n")
    assert Ingestor(kb).ingest_paths([tmp_path / "v1"]).ingested == 1
    report = Ingestor(kb).ingest_paths([tmp_path / "v2"])
    assert report.superseded == 1
    assert not (tmp_path / "home" / "chroma").exists()  # vectors live on the server, not in the home
    hits = Retriever(kb).search("how long does a payout hold last", k=5)
    assert hits and hits[0].doc_id == "sop-holds" and "fourteen" in hits[0].text
    assert kb.vectors.count() == 1


def test_reindex_through_a_chroma_server_swaps_the_collection(chroma_server, tmp_path, keyword_embedder):
    from tests.conftest import WideKeywordEmbedder

    settings = make_settings(tmp_path / "home", chroma_host="127.0.0.1", chroma_port=chroma_server)
    write(tmp_path / "docs" / "holds.md", "# Payout holds\n\nA payout hold lasts fourteen days.\n")
    write(tmp_path / "docs" / "locks.md", "# Account lockout\n\nAn account locks after five failed sign-ins.\n")
    assert Ingestor(KnowledgeBase(settings, embedder=keyword_embedder)).ingest_paths([tmp_path / "docs"]).ingested == 2
    reader = KnowledgeBase(settings, embedder=WideKeywordEmbedder())  # a second client, opened before the swap
    assert reader.vectors.count() == 2

    assert KnowledgeBase(settings, embedder=WideKeywordEmbedder()).reindex().chunks == 2
    hits = Retriever(reader).search("account locks after failed sign-ins", k=1)
    assert hits[0].doc_id == "locks.md" and hits[0].dense_score is not None
    names = sorted(c.name for c in reader.vectors.client.list_collections())
    assert names == [settings.collection]  # the staging collection took the name; nothing left behind
