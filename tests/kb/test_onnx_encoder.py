"""The ONNX Runtime path for small batches: exported locally, cached, checked against PyTorch."""

from __future__ import annotations

import copy
import json
import logging

import numpy as np
import pytest

from kb.config import BUNDLED_MODEL_SHA256
from kb.embedder import SentenceTransformerEmbedder, sha256_file
from kb.onnx_encoder import (OnnxUnavailableError, _export, _graph_folder, _transformer_inputs, load_onnx_transformer,
                             weights_key)

pytestmark = pytest.mark.slow

TEXTS = ["refund for a cancelled order", "my payout is on hold " * 200, "ok",
         "I received a legal notice about a copyright claim on my video."]


def _reference(embedder) -> np.ndarray:
    return embedder.model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def _graph(cache_dir):
    graphs = list(cache_dir.glob("onnx/*/model.onnx"))
    assert len(graphs) == 1, graphs
    return graphs[0]


def test_exported_graph_gives_pytorch_vectors_and_is_reused(tmp_path):
    first = SentenceTransformerEmbedder(backend="onnx", cache_dir=tmp_path)
    assert first.backend_status() == "onnx (decided when the model is first used)" and first._model is None
    assert first.active_backend == "onnx"
    assert first.backend_status().startswith("ONNX Runtime for queries")
    graph = _graph(tmp_path)
    manifest = json.loads((graph.parent / "manifest.json").read_text())
    assert manifest["onnx_sha256"] == sha256_file(graph)
    # Small batches (the long text is truncated to the window as the library does it).
    assert np.allclose(first.encode(TEXTS), _reference(first), atol=1e-5)

    exported_at = graph.stat().st_mtime_ns
    second = SentenceTransformerEmbedder(backend="onnx", cache_dir=tmp_path)
    assert second.active_backend == "onnx" and graph.stat().st_mtime_ns == exported_at
    assert np.allclose(second.encode(TEXTS[:2]), _reference(second)[:2], atol=1e-5)


def test_a_damaged_cached_graph_is_exported_again(tmp_path):
    SentenceTransformerEmbedder(backend="onnx", cache_dir=tmp_path).active_backend
    graph = _graph(tmp_path)
    graph.write_bytes(b"not an onnx graph")
    embedder = SentenceTransformerEmbedder(backend="onnx", cache_dir=tmp_path)
    assert embedder.active_backend == "onnx"
    assert json.loads((graph.parent / "manifest.json").read_text())["onnx_sha256"] == sha256_file(graph)
    assert np.allclose(embedder.encode(TEXTS), _reference(embedder), atol=1e-5)


def _plant_wrong_graph(embedder, cache_dir) -> None:
    """Export a graph of perturbed weights where the real model's graph belongs, with a valid
    manifest: only the comparison with PyTorch can tell."""
    model = embedder.model
    names = _transformer_inputs(model)
    folder = _graph_folder(cache_dir, embedder.model_name, weights_key(model, BUNDLED_MODEL_SHA256), names)
    wrong = copy.deepcopy(model)
    with __import__("torch").no_grad():
        wrong[0].auto_model.embeddings.word_embeddings.weight.mul_(0.5)
    _export(wrong, names, folder / "model.onnx")
    (folder / "manifest.json").write_text(json.dumps({"onnx_sha256": sha256_file(folder / "model.onnx")}))


def test_a_graph_that_disagrees_with_pytorch_is_never_used(tmp_path, caplog):
    embedder = SentenceTransformerEmbedder(backend="auto", cache_dir=tmp_path)
    _plant_wrong_graph(embedder, tmp_path)
    with pytest.raises(OnnxUnavailableError, match="differ from PyTorch"):
        load_onnx_transformer(embedder.model, model_name=embedder.model_name, weights_sha256=BUNDLED_MODEL_SHA256,
                              cache_dir=tmp_path, threads=1)
    with caplog.at_level(logging.WARNING, logger="kb.embedder"):
        assert embedder.active_backend == "torch"
    assert "differ from PyTorch" in caplog.text
    assert np.allclose(embedder.encode(TEXTS), _reference(embedder), atol=1e-5)


def test_forced_onnx_names_the_problem_and_auto_falls_back(tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    forced = SentenceTransformerEmbedder(backend="onnx", cache_dir=blocked)
    with pytest.raises(OnnxUnavailableError, match="not-a-folder"):
        forced.encode(["hello"])
    auto = SentenceTransformerEmbedder(backend="auto", cache_dir=blocked)
    with caplog.at_level(logging.WARNING, logger="kb.embedder"):
        vectors = auto.encode(TEXTS)
    assert auto.active_backend == "torch" and "not-a-folder" in caplog.text
    assert auto.backend_status().startswith("PyTorch (ONNX Runtime not used: ") and "not-a-folder" in auto.backend_status()
    assert np.allclose(vectors, _reference(auto), atol=1e-5)


def test_torch_backend_never_exports(tmp_path):
    embedder = SentenceTransformerEmbedder(backend="torch", cache_dir=tmp_path)
    assert np.allclose(embedder.encode(TEXTS), _reference(embedder), atol=1e-5)
    assert embedder.active_backend == "torch" and not list(tmp_path.rglob("*.onnx"))


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="'tensorrt'"):
        SentenceTransformerEmbedder(backend="tensorrt")


def test_large_passes_run_on_pytorch(tmp_path, monkeypatch):
    embedder = SentenceTransformerEmbedder(backend="onnx", cache_dir=tmp_path)
    runner = embedder._onnx_transformer()
    sizes = []
    original = type(runner).token_embeddings

    def counting(self, features):
        sizes.append(features["input_ids"].numel())
        return original(self, features)

    monkeypatch.setattr(type(runner), "token_embeddings", counting)
    chunks = [f"chunk {i}: " + "a policy paragraph about payouts and holds " * 20 for i in range(12)]
    vectors = embedder.encode(chunks + ["ok"])
    # The twelve ~200-token chunks pad to > ONNX_MAX_PADDED_TOKENS: PyTorch; "ok" alone: ONNX.
    assert sizes and max(sizes) <= embedder.ONNX_MAX_PADDED_TOKENS
    reference = embedder.model.encode(chunks + ["ok"], normalize_embeddings=True)
    assert np.allclose(vectors, reference, atol=1e-5)


def test_an_exporter_failure_leaves_pytorch_in_charge(tmp_path, monkeypatch, caplog):
    import torch

    def broken_export(*args, **kwargs):
        raise RuntimeError("exporter removed in this torch release")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    auto = SentenceTransformerEmbedder(backend="auto", cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="kb.embedder"):
        vectors = auto.encode(TEXTS)
    assert auto.active_backend == "torch" and "ONNX export failed" in caplog.text
    assert np.allclose(vectors, _reference(auto), atol=1e-5)
    assert not list(tmp_path.rglob("*.onnx"))  # no half-written graph left behind
    with pytest.raises(OnnxUnavailableError, match="exporter removed"):
        SentenceTransformerEmbedder(backend="onnx", cache_dir=tmp_path).encode(["hello"])
