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
    folder = _graph_folder(cache_dir, embedder.model_name, weights_key(model, BUNDLED_MODEL_SHA256))
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
    # The process that exports the graph (no standalone pipeline yet) runs small passes through
    # the exported transformer inside the PyTorch pipeline.
    monkeypatch.setattr(SentenceTransformerEmbedder, "_load_standalone", lambda self: None)
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


# --- Without PyTorch ---------------------------------------------------------------------

_CHILD = """
import json, sys
from pathlib import Path
from kb.embedder import SentenceTransformerEmbedder
embedder = SentenceTransformerEmbedder(sys.argv[1], cache_dir=Path(sys.argv[2]))
texts = json.loads(sys.argv[3])
vectors = embedder.encode(texts)
print(json.dumps({"torch": "torch" in sys.modules, "sentence_transformers": "sentence_transformers" in sys.modules,
                  "backend": embedder.active_backend, "status": embedder.backend_status(),
                  "dimension": embedder.dimension, "window": embedder.max_tokens,
                  "tokens": embedder.count_tokens(texts[0]), "known": "night" in embedder.known_words(),
                  "vectors": vectors.tolist()}))
"""


def _in_a_new_process(model: str, cache_dir, texts: list[str]) -> dict:
    """Embed ``texts`` in a fresh Python process, as a CLI command or an app start would."""
    import subprocess
    import sys

    from tests.conftest import REPO

    done = subprocess.run([sys.executable, "-c", _CHILD, model, str(cache_dir), json.dumps(texts)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_later_process_embeds_without_loading_pytorch(tmp_path):
    exporter = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert exporter.active_backend == "onnx"  # exports the graph and checks the standalone pipeline
    manifest = json.loads((_graph(tmp_path).parent / "manifest.json").read_text())
    assert manifest["standalone"]["pooling"] == "mean" and "standalone_unsupported" not in manifest

    texts = ["Where is my payout?", "my payout is on hold " * 200, "ok", "Ünïcode — émojis 🙂 and ñ"]
    child = _in_a_new_process("all-MiniLM-L6-v2", tmp_path, texts)
    assert not child["torch"] and not child["sentence_transformers"]
    assert child["backend"] == "onnx" and "loaded only when one comes" in child["status"]
    reference = exporter.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert np.allclose(np.asarray(child["vectors"]), reference, atol=1e-5)
    assert (child["dimension"], child["window"]) == (384, exporter.model.max_seq_length)
    assert child["tokens"] == len(exporter.model.tokenizer(texts[0], add_special_tokens=False)["input_ids"])
    assert child["known"]


def test_standalone_pipeline_matches_the_library_in_process(tmp_path, monkeypatch):
    SentenceTransformerEmbedder(cache_dir=tmp_path).active_backend
    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path)
    texts = TEXTS + ["", "   ", "a" * 3000, "refund " * 5]
    vectors = embedder.encode(texts)
    # A small ingest (80 chunks of ~200 tokens) stays on ONNX Runtime too: loading PyTorch
    # would cost more than it saves.
    chunks = [f"chunk {i}: " + "a policy paragraph about payouts and holds " * 20 for i in range(80)]
    small_ingest = embedder.encode(chunks)
    assert embedder._standalone_encoder() is not None and embedder._model is None
    assert np.allclose(vectors, _reference_of(embedder, texts), atol=1e-5)
    assert np.allclose(small_ingest, _reference_of(embedder, chunks), atol=1e-5)
    # A large one loads PyTorch for its large passes, with the same vectors.
    fresh = SentenceTransformerEmbedder(cache_dir=tmp_path)
    monkeypatch.setattr(fresh, "STANDALONE_BULK_TOKENS", 1000)
    bulk = fresh.encode(chunks)
    assert fresh._model is not None
    assert np.allclose(bulk, small_ingest, atol=1e-5)


def test_bulk_lists_count_together_and_drafts_never_load_pytorch(tmp_path, monkeypatch):
    SentenceTransformerEmbedder(cache_dir=tmp_path).active_backend
    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path)
    chunks = [f"chunk {i}: " + "a policy paragraph about payouts and holds " * 20 for i in range(80)]
    tokens = sum(embedder.count_tokens(c) + 2 for c in chunks)
    monkeypatch.setattr(embedder, "STANDALONE_BULK_TOKENS", int(tokens * 1.5))
    # A draft's passes, however many and however long, are never what loads PyTorch.
    for _ in range(5):
        embedder.encode(["the creator asked about payouts " * 50] * 6 + ["refund please"] * 20)
    embedder.encode(chunks)
    assert embedder._model is None
    embedder.encode(chunks)  # past the limit: a large ingest loads PyTorch for its large passes
    assert embedder._model is not None


def _reference_of(embedder, texts):
    return embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def test_a_changed_cache_is_not_run_without_pytorch(tmp_path):
    from kb.onnx_encoder import load_standalone
    from kb.embedder import resolve_model

    SentenceTransformerEmbedder(cache_dir=tmp_path).active_backend
    folder, sha = resolve_model("all-MiniLM-L6-v2")
    tokenizer = _graph(tmp_path).parent / "tokenizer.json"
    changed = tokenizer.read_text().replace('"lowercase":true', '"lowercase":false')
    assert changed != tokenizer.read_text()
    tokenizer.write_text(changed)
    with pytest.raises(OnnxUnavailableError, match="tokenizer.json: changed"):
        load_standalone(folder, model_name="all-MiniLM-L6-v2", weights_sha256=sha, cache_dir=tmp_path)
    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert np.allclose(embedder.encode(TEXTS), _reference(embedder), atol=1e-5)
    assert embedder._standalone_encoder() is None and embedder.active_backend == "onnx"


def test_a_wrong_graph_with_a_valid_manifest_is_refused(tmp_path):
    from kb.embedder import resolve_model
    from kb.onnx_encoder import load_standalone

    SentenceTransformerEmbedder(cache_dir=tmp_path).active_backend
    graph = _graph(tmp_path)
    manifest = json.loads((graph.parent / "manifest.json").read_text())
    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path)
    _plant_wrong_graph(embedder, tmp_path)  # rewrites graph and manifest; keep the real standalone record
    planted = json.loads((graph.parent / "manifest.json").read_text())
    (graph.parent / "manifest.json").write_text(json.dumps({**manifest, "onnx_sha256": planted["onnx_sha256"]}))
    folder, sha = resolve_model("all-MiniLM-L6-v2")
    with pytest.raises(OnnxUnavailableError, match="not the recorded ones"):
        load_standalone(folder, model_name="all-MiniLM-L6-v2", weights_sha256=sha, cache_dir=tmp_path)


def test_tampered_weights_fail_before_anything_runs(tmp_path):
    from kb.embedder import ModelIntegrityError, resolve_model

    SentenceTransformerEmbedder(cache_dir=tmp_path).active_backend
    source = resolve_model("all-MiniLM-L6-v2")[0]
    folder = tmp_path / "copy"
    folder.mkdir()
    for item in __import__("pathlib").Path(source).iterdir():
        if item.name != "model.safetensors":
            (folder / item.name).symlink_to(item)
    (folder / "model.safetensors").write_bytes(b"not the weights")
    embedder = SentenceTransformerEmbedder(str(folder), sha256=BUNDLED_MODEL_SHA256, cache_dir=tmp_path)
    with pytest.raises(ModelIntegrityError, match="does not match the pinned"):
        embedder.encode(["hello"])


def test_a_pipeline_it_cannot_run_alone_is_recorded_and_left_to_pytorch(tmp_path, projected_model):
    embedder = SentenceTransformerEmbedder(str(projected_model), cache_dir=tmp_path)
    assert embedder.active_backend == "onnx"
    manifest = json.loads((_graph(tmp_path).parent / "manifest.json").read_text())
    assert "standalone" not in manifest and "Dense" in manifest["standalone_unsupported"]
    again = SentenceTransformerEmbedder(str(projected_model), cache_dir=tmp_path)
    vectors = again.encode(TEXTS)
    assert again._standalone_encoder() is None and vectors.shape == (len(TEXTS), 256)
    assert np.allclose(vectors, _reference(again), atol=1e-5)


def test_folders_sharing_weights_and_name_do_not_share_a_pipeline(tmp_path):
    """Same weights, same folder name, another pooling: the second must not run the first's."""
    from kb.embedder import resolve_model

    source = __import__("pathlib").Path(resolve_model("all-MiniLM-L6-v2")[0])
    folders = []
    for parent, pooling in (("a", "mean"), ("b", "cls")):
        folder = tmp_path / parent / "minilm"
        folder.mkdir(parents=True)
        for item in source.iterdir():
            if item.name != "1_Pooling":
                (folder / item.name).symlink_to(item)
        (folder / "1_Pooling").mkdir()
        config = json.loads((source / "1_Pooling" / "config.json").read_text())
        config.update({"pooling_mode": pooling} if "pooling_mode" in config else
                      {"pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_cls_token": pooling == "cls"})
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(config))
        folders.append(folder)
    cache = tmp_path / "cache"
    first = SentenceTransformerEmbedder(str(folders[0]), cache_dir=cache)
    assert first.active_backend == "onnx"
    second = SentenceTransformerEmbedder(str(folders[1]), cache_dir=cache)
    vectors = second.encode(TEXTS)
    assert second._standalone_encoder() is None
    assert np.allclose(vectors, _reference(second), atol=1e-5)
    assert not np.allclose(vectors, _reference(first), atol=1e-2)
