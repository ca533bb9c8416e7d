"""ONNX Runtime forward pass for the embedding model's transformer (the latency path).

A draft encodes a query, a ticket's sentences and a handful of passage sentences: many small
forward passes. On 2 CPU cores PyTorch spends ~8 ms of Python and dispatch per pass before it
computes anything; ONNX Runtime spends ~2 ms, at the same cost per token (measured in
benchmarks/README.md). So small batches run through ONNX Runtime and large ones (most of
ingest) stay on PyTorch, which is as fast or faster there.

The ONNX graph is exported locally from the already-loaded (and, for the bundled model,
checksum-verified) PyTorch weights, once per machine, into a cache folder; nothing is
downloaded. sentence-transformers' own ONNX backend needs ``optimum-onnx``, which pins an older
transformers than ours, hence this small exporter. Every load is checked against PyTorch on a
few probe sentences; a graph that disagrees is never used.

Once a graph is exported, later processes can skip PyTorch for small batches altogether
(:func:`load_standalone`): importing sentence-transformers and torch costs ~5 s of every CLI
command and app start, while ONNX Runtime and the tokenizer load in a fraction of a second. At
export, the tokenizer and the pooling are checked to reproduce the library's pipeline, and its
vectors of probe sentences are recorded in the manifest; each standalone load must reproduce
them, or PyTorch is used as before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.types import SetupError

log = logging.getLogger(__name__)

#: Bump when the export procedure changes, so old cached graphs are not reused.
EXPORT_FORMAT = 2
OPSET = 17
#: Largest difference from PyTorch's normalised sentence vectors a graph may show on the
#: probes (float32 rounding is ~1e-7; a wrong graph is off by 1e-2 or more).
MAX_PROBE_DIFFERENCE = 1e-4
PROBES = (
    "When is my payout sent?",
    "I received a legal notice about a copyright claim on my video and need to respond within 14 days.",
    "ok",
)
#: Also checked before a graph runs without PyTorch: a text longer than the model's window, so
#: the tokenizer must truncate exactly as the library does.
LONG_PROBE = "My payout has been on hold for three weeks and support keeps closing my ticket. " * 30
STANDALONE_PROBES = (*PROBES, LONG_PROBE)


class OnnxUnavailableError(SetupError):
    """The ONNX Runtime path cannot be used for this model on this machine."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/replydesk`` (``~/.cache/replydesk``): shared by every data home."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "replydesk"


@dataclass(frozen=True)
class OnnxTransformer:
    """The transformer module of a sentence-transformers model, run by ONNX Runtime.

    Attributes:
        session: the ``onnxruntime.InferenceSession`` (thread-safe for ``run``).
        input_names: feature keys the graph takes, in order.
        path: the ``.onnx`` file it was loaded from.
    """

    session: Any
    input_names: tuple[str, ...]
    path: Path

    def token_embeddings(self, features: dict) -> "Any":
        """Last hidden state (``torch.Tensor``, batch x tokens x dim) for tokenised ``features``."""
        import numpy as np
        import torch

        feeds = {name: np.ascontiguousarray(features[name].cpu().numpy(), dtype=np.int64) for name in self.input_names}
        (hidden,) = self.session.run(None, feeds)
        return torch.from_numpy(hidden)


def _transformer_inputs(model) -> tuple[str, ...]:
    """Tensor feature keys the model's first module feeds its transformer (checks support).

    Raises:
        OnnxUnavailableError: the pipeline is not a text transformer producing token embeddings.
    """
    first = model[0]
    auto_model = getattr(first, "auto_model", None)
    if auto_model is None or getattr(first, "module_output_name", "token_embeddings") != "token_embeddings":
        raise OnnxUnavailableError(f"{type(first).__name__}: not a text transformer producing token embeddings")
    text = getattr(first, "modality_config", {}).get("text", {"method": "forward"})
    if text.get("method", "forward") != "forward":
        raise OnnxUnavailableError(f"{type(first).__name__}: text goes through {text.get('method')!r}, not forward")
    features = model.preprocess(list(PROBES[:1]))
    names = tuple(k for k in ("input_ids", "attention_mask", "token_type_ids") if k in features)
    if "input_ids" not in names or "attention_mask" not in names:
        raise OnnxUnavailableError("the tokenizer does not produce input_ids and attention_mask")
    return names


def weights_key(model, weights_sha256: str | None, folder: Path | None = None) -> str:
    """Identity of the weights a graph is exported from: the verified checksum when there is
    one, else the checksum of the model folder's ``model.safetensors``, else a hash of every
    parameter (about 0.2 s for MiniLM)."""
    if weights_sha256:
        return weights_sha256
    if folder is not None and (Path(folder) / "model.safetensors").is_file():
        from kb.embedder import sha256_file

        return sha256_file(Path(folder) / "model.safetensors")
    import numpy as np

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(tensor.detach().cpu().float().numpy()).tobytes())
    return digest.hexdigest()


def _export(model, input_names: tuple[str, ...], target: Path) -> None:
    """Export ``model``'s transformer to ``target`` atomically (temp file, then rename)."""
    import copy

    import torch

    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as exc:
        raise OnnxUnavailableError("the onnx package is not installed (pip install onnx)") from exc

    # A private eager-attention copy: the exporter traces eager attention into plain MatMuls,
    # while the SDPA path traces into a graph ONNX Runtime runs ~1.5x slower.
    transformer = copy.deepcopy(model[0].auto_model).eval()
    if hasattr(transformer, "set_attn_implementation"):
        transformer.set_attn_implementation("eager")

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *tensors):
            return self.inner(**dict(zip(input_names, tensors)), return_dict=True).last_hidden_state

    features = model.preprocess(list(PROBES[:2]))
    example = tuple(features[name] for name in input_names)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=target.parent)
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _LastHiddenState(transformer), example, temp,
                input_names=list(input_names), output_names=["last_hidden_state"],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*input_names, "last_hidden_state")},
                opset_version=OPSET, dynamo=False,
            )
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _graph_folder(cache_dir: Path, model_name: str, key: str) -> Path:
    """Where the graph of these weights lives: found from package metadata alone, so a process
    that never imports torch finds the same folder as the one that exported it."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return ""

    recipe = json.dumps([EXPORT_FORMAT, OPSET, key, installed("torch"), installed("transformers")])
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(model_name).name)[:60] or "model"
    return cache_dir / "onnx" / f"{slug}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"


def _session(graph: Path, threads: int):
    """An ONNX Runtime session for ``graph`` on ``threads`` intra-op threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle ONNX Runtime threads spin by default, starving the PyTorch ops (pooling, the exact
    # dense search) that run right after each pass on the same two cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise OnnxUnavailableError(f"{graph}: onnxruntime cannot load it ({exc})") from exc


def load_onnx_transformer(model, *, model_name: str, weights_sha256: str | None, cache_dir: Path,
                          threads: int, model_folder: Path | None = None) -> OnnxTransformer:
    """The ONNX Runtime twin of ``model``'s transformer: from the cache, or exported into it.

    Args:
        model: a loaded ``SentenceTransformer``.
        model_name: its configured name (names the cache folder).
        weights_sha256: verified checksum of its weights, if any (else the weights are hashed).
        cache_dir: where exported graphs live (``<cache_dir>/onnx/<model>-<hash>/``).
        threads: intra-op threads (the cores PyTorch uses).
        model_folder: the model's local folder, if it has one (its weights file names the graph
            when no checksum is configured, so :func:`load_standalone` can find it without torch).

    Raises:
        OnnxUnavailableError: the model is not supported, onnxruntime/onnx are missing, the
            cache cannot be written, or the graph disagrees with PyTorch on the probes.
    """
    from kb.embedder import sha256_file

    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxUnavailableError("onnxruntime is not installed") from exc
    input_names = _transformer_inputs(model)
    folder = _graph_folder(Path(cache_dir), model_name, weights_key(model, weights_sha256, model_folder))
    graph, manifest_path = folder / "model.onnx", folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
        current = graph.is_file() and manifest.get("onnx_sha256") == sha256_file(graph)
    except (OSError, ValueError):
        current = False
    if not current:
        log.info("exporting %s to ONNX under %s (once per machine)", model_name, folder)
        try:
            _export(model, input_names, graph)
            manifest = {"format": EXPORT_FORMAT, "model": model_name, "inputs": list(input_names),
                        "onnx_sha256": sha256_file(graph)}
            handle, temp = tempfile.mkstemp(prefix=".manifest-", dir=folder)
            with os.fdopen(handle, "w") as out:
                json.dump(manifest, out, indent=2)
            os.replace(temp, manifest_path)
        except OSError as exc:
            raise OnnxUnavailableError(f"{folder}: cannot write the exported model ({exc})") from exc
        except OnnxUnavailableError:
            raise
        except Exception as exc:  # the exporter's failures have no common type across torch releases
            raise OnnxUnavailableError(f"{model_name}: ONNX export failed ({type(exc).__name__}: {exc})") from exc
    session = _session(graph, threads)
    runner = OnnxTransformer(session, input_names, graph)
    difference = probe_difference(model, runner)
    if difference > MAX_PROBE_DIFFERENCE:
        raise OnnxUnavailableError(
            f"{graph}: vectors differ from PyTorch by {difference:.2g} on the probe sentences; not used")
    recorded = manifest.get("standalone") or {}
    if (not recorded and "standalone_unsupported" not in manifest) or (
            recorded and model_folder is not None
            and recorded.get("model_folder_sha256") != model_folder_digest(model_folder)):
        _record_standalone(model, runner, folder, manifest, model_folder)
    return runner


def sentence_embeddings(model, runner: OnnxTransformer | None, features: dict):
    """Sentence embeddings of tokenised ``features``: the transformer through ``runner`` (or
    PyTorch when None), then the model's own pooling/normalising modules."""
    if runner is None:
        return model(features)["sentence_embedding"]
    features = dict(features)
    features["token_embeddings"] = runner.token_embeddings(features)
    for module in list(model)[1:]:
        features = module(features)
    return features["sentence_embedding"]


def probe_difference(model, runner: OnnxTransformer) -> float:
    """Largest absolute difference between PyTorch's and ``runner``'s normalised sentence
    vectors on :data:`PROBES`."""
    import torch

    with torch.inference_mode():
        features = model.preprocess(list(PROBES))
        reference = torch.nn.functional.normalize(sentence_embeddings(model, None, features), dim=1)
        candidate = torch.nn.functional.normalize(sentence_embeddings(model, runner, features), dim=1)
    return float((reference - candidate).abs().max())


# --- Without PyTorch ---------------------------------------------------------------------

_POOLINGS = ("mean", "cls")


@dataclass(frozen=True)
class StandaloneEncoder:
    """A sentence-transformers pipeline of transformer, mean or CLS pooling and (optional)
    normalisation, run by ONNX Runtime and the ``tokenizers`` library alone.

    Attributes:
        session: the ``onnxruntime.InferenceSession`` (thread-safe for ``run``).
        input_names: feature keys the graph takes, in order.
        tokenizer_json: the model's fast tokenizer, serialised.
        pooling: ``"mean"`` or ``"cls"``.
        max_seq_length: the model's window in tokens (special tokens included).
        dimension: sentence vector size.
        pad_id: the padding token's id.
        path: the ``.onnx`` file it was loaded from.
    """

    session: Any
    input_names: tuple[str, ...]
    tokenizer_json: str
    pooling: str
    max_seq_length: int
    dimension: int
    pad_id: int
    path: Path

    def tokenizer(self, *, truncate: bool):
        """A private ``tokenizers.Tokenizer`` (fast tokenizers toggle state while encoding, so
        each thread of use needs its own): no padding, truncated to the window or not at all."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(self.tokenizer_json)
        tokenizer.no_padding()
        if truncate:
            tokenizer.enable_truncation(self.max_seq_length)
        else:
            tokenizer.no_truncation()
        return tokenizer

    def embed(self, encodings: list) -> "Any":
        """L2-normalised float32 sentence vectors of already tokenised texts (``tokenizers.Encoding``)."""
        import numpy as np

        width = max(len(e.ids) for e in encodings)
        arrays = {"input_ids": np.full((len(encodings), width), self.pad_id, dtype=np.int64),
                  "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
                  "token_type_ids": np.zeros((len(encodings), width), dtype=np.int64)}
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            arrays["input_ids"][row, :length] = encoding.ids
            arrays["attention_mask"][row, :length] = encoding.attention_mask
            arrays["token_type_ids"][row, :length] = encoding.type_ids
        (hidden,) = self.session.run(None, {name: arrays[name] for name in self.input_names})
        if self.pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            mask = arrays["attention_mask"][:, :, None].astype(hidden.dtype)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)

    def vocabulary(self) -> dict[str, int]:
        """The tokenizer's vocabulary, added tokens included (as ``PreTrainedTokenizerFast.get_vocab``)."""
        return self.tokenizer(truncate=False).get_vocab(with_added_tokens=True)


def _standalone_layout(model) -> tuple[str, str]:
    """``(pooling, why not)`` for ``model``: ``why not`` is empty when its pipeline can run
    without PyTorch (transformer, mean or CLS pooling, optional normalisation, a fast tokenizer
    padding on the right)."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if len(modules) not in (2, 3) or names[1] != "Pooling" or (len(modules) == 3 and names[2] != "Normalize"):
        return "", f"modules {names}: only Transformer, Pooling[, Normalize] run without PyTorch"
    pooling = getattr(modules[1], "pooling_mode", None)
    if pooling not in _POOLINGS or not getattr(modules[1], "include_prompt", True):
        return "", f"pooling {pooling!r}: only mean or cls pooling run without PyTorch"
    tokenizer = getattr(model, "tokenizer", None)
    if getattr(tokenizer, "backend_tokenizer", None) is None or getattr(tokenizer, "pad_token_id", None) is None:
        return "", "the tokenizer is not a fast tokenizer with a padding token"
    if getattr(tokenizer, "padding_side", "right") != "right":
        return "", "the tokenizer pads on the left"
    return pooling, ""


#: Files of a model folder up to this size are hashed whole to identify its pipeline; larger
#: ones (other copies of the weights some folders carry) by name and size only.
_HASHED_FILE_MAX_BYTES = 20 << 20


def model_folder_digest(model_folder: Path) -> str:
    """Identity of everything in a model folder but its main weights (which name the graph's
    folder already): configs, tokenizer files, pooling and dense modules. Two folders sharing
    the transformer's weights but not the pipeline around it must not share a standalone check."""
    from kb.embedder import sha256_file

    digest = hashlib.sha256()
    root = Path(model_folder)
    # os.walk follows linked folders (a model folder may link its modules from another).
    files = sorted(Path(parent) / name for parent, _dirs, names in os.walk(root, followlinks=True) for name in names)
    for path in files:
        if not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        if relative == "model.safetensors":
            continue
        size = path.stat().st_size
        digest.update(f"{relative}\0{size}\0".encode())
        if size <= _HASHED_FILE_MAX_BYTES:
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def _record_standalone(model, runner: OnnxTransformer, folder: Path, manifest: dict,
                       model_folder: Path | None) -> None:
    """Check that ``model`` runs the same without PyTorch and record what that needs in the
    manifest (``standalone``; or ``standalone_unsupported`` with the reason). Best effort: a
    cache that cannot be written only means the next process loads PyTorch."""
    import numpy as np
    import torch

    pooling, why_not = _standalone_layout(model)
    if model_folder is None and not why_not:
        why_not = "the model is not a local folder"
    spec: dict = {}
    if not why_not:
        tokenizer_json = model.tokenizer.backend_tokenizer.to_str()
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        encoder = StandaloneEncoder(runner.session, runner.input_names, tokenizer_json, pooling,
                                    int(model.max_seq_length), int(dimension()), int(model.tokenizer.pad_token_id),
                                    runner.path)
        encodings = encoder.tokenizer(truncate=True).encode_batch(list(STANDALONE_PROBES))
        features = model.preprocess(list(STANDALONE_PROBES))
        with torch.inference_mode():
            reference = torch.nn.functional.normalize(sentence_embeddings(model, None, features), dim=1).numpy()
        same_tokens = all(
            features[key][row][: len(e.ids)].tolist() == list(getattr(e, attribute))
            and int(features["attention_mask"][row].sum()) == len(e.ids)
            for row, e in enumerate(encodings)
            for key, attribute in (("input_ids", "ids"), ("token_type_ids", "type_ids")) if key in features)
        if not same_tokens:
            why_not = "the tokenizer alone splits the probe sentences differently from the library"
        elif set(model.tokenizer.get_vocab()) != set(encoder.vocabulary()):
            why_not = "the tokenizer alone has another vocabulary than the library's"
        else:
            difference = float(np.abs(encoder.embed(encodings) - reference).max())
            if difference > MAX_PROBE_DIFFERENCE:
                why_not = f"vectors without PyTorch differ by {difference:.2g} on the probe sentences"
            else:
                (folder / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
                spec = {"model_folder_sha256": model_folder_digest(model_folder),
                        "pooling": pooling, "max_seq_length": encoder.max_seq_length, "dimension": encoder.dimension,
                        "pad_id": encoder.pad_id, "inputs": list(runner.input_names),
                        "tokenizer_sha256": hashlib.sha256(tokenizer_json.encode("utf-8")).hexdigest(),
                        "probe_vectors": reference.tolist()}
    updated = dict(manifest)
    updated.pop("standalone_unsupported", None)
    if spec:
        updated["standalone"] = spec
    else:
        updated["standalone_unsupported"] = why_not
        log.info("%s: small batches keep loading PyTorch (%s)", folder, why_not)
    try:
        handle, temp = tempfile.mkstemp(prefix=".manifest-", dir=folder)
        with os.fdopen(handle, "w") as out:
            json.dump(updated, out, indent=2)
        os.replace(temp, folder / "manifest.json")
    except OSError as exc:
        log.warning("%s: cannot record the standalone check (%s)", folder, exc)


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def load_standalone(model_folder: Path, *, model_name: str, weights_sha256: str | None, cache_dir: Path,
                    threads: int | None = None) -> StandaloneEncoder:
    """The model's small-batch pipeline without PyTorch, from a graph an earlier process
    exported and checked (:func:`load_onnx_transformer`).

    Args:
        model_folder: the model's local folder.
        model_name: its configured name (names the cache folder).
        weights_sha256: checksum its ``model.safetensors`` must have, if any: verified here
            too, so a damaged install fails the same way with or without PyTorch.
        cache_dir: where exported graphs live.
        threads: intra-op threads (default: the cores this process may use).

    Raises:
        OnnxUnavailableError: no checked graph for these weights yet, the cache was changed,
            or the vectors of the probe sentences are not the recorded ones.
        kb.embedder.ModelIntegrityError: the weights file does not have ``weights_sha256``.
    """
    import numpy as np

    from kb.embedder import sha256_file, verify_model_folder

    folder_of_model = Path(model_folder)
    if not folder_of_model.is_dir():
        raise OnnxUnavailableError(f"{model_folder}: not a local model folder")
    if weights_sha256:
        verify_model_folder(folder_of_model, weights_sha256)
    elif not (folder_of_model / "model.safetensors").is_file():
        raise OnnxUnavailableError(f"{model_folder}: no model.safetensors to identify the weights by")
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise OnnxUnavailableError("onnxruntime is not installed") from exc
    key = weights_key(None, weights_sha256, folder_of_model)
    folder = _graph_folder(Path(cache_dir), model_name, key)
    graph = folder / "model.onnx"
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        spec = manifest["standalone"]
        tokenizer_json = (folder / "tokenizer.json").read_text(encoding="utf-8")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OnnxUnavailableError(f"{folder}: no graph checked to run without PyTorch yet") from exc
    if spec.get("model_folder_sha256") != model_folder_digest(folder_of_model):
        raise OnnxUnavailableError(f"{model_folder}: not the pipeline the graph was checked with")
    if hashlib.sha256(tokenizer_json.encode("utf-8")).hexdigest() != spec.get("tokenizer_sha256"):
        raise OnnxUnavailableError(f"{folder / 'tokenizer.json'}: changed since it was checked")
    if not graph.is_file() or sha256_file(graph) != manifest.get("onnx_sha256"):
        raise OnnxUnavailableError(f"{graph}: missing or changed since it was checked")
    try:
        encoder = StandaloneEncoder(_session(graph, threads or available_cores()), tuple(spec["inputs"]),
                                    tokenizer_json, spec["pooling"], int(spec["max_seq_length"]),
                                    int(spec["dimension"]), int(spec["pad_id"]), graph)
        if encoder.pooling not in _POOLINGS:
            raise ValueError(f"pooling {encoder.pooling!r}")
        expected = np.asarray(spec["probe_vectors"], dtype=np.float32)
        actual = encoder.embed(encoder.tokenizer(truncate=True).encode_batch(list(STANDALONE_PROBES)))
    except OnnxUnavailableError:
        raise
    except Exception as exc:  # a damaged spec or tokenizer: whatever it raises, PyTorch takes over
        raise OnnxUnavailableError(f"{folder}: cannot run the recorded pipeline ({type(exc).__name__}: {exc})") from exc
    if actual.shape != expected.shape or float(np.abs(actual - expected).max()) > MAX_PROBE_DIFFERENCE:
        raise OnnxUnavailableError(f"{graph}: vectors without PyTorch are not the recorded ones; not used")
    return encoder
