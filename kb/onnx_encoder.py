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
EXPORT_FORMAT = 1
OPSET = 17
#: Largest difference from PyTorch's normalised sentence vectors a graph may show on the
#: probes (float32 rounding is ~1e-7; a wrong graph is off by 1e-2 or more).
MAX_PROBE_DIFFERENCE = 1e-4
PROBES = (
    "When is my payout sent?",
    "I received a legal notice about a copyright claim on my video and need to respond within 14 days.",
    "ok",
)


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


def weights_key(model, weights_sha256: str | None) -> str:
    """Identity of the weights a graph is exported from: the verified checksum when there is
    one, else a hash of every parameter (about 0.2 s for MiniLM)."""
    if weights_sha256:
        return weights_sha256
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


def _graph_folder(cache_dir: Path, model_name: str, key: str, input_names: tuple[str, ...]) -> Path:
    import torch
    import transformers

    recipe = json.dumps([EXPORT_FORMAT, OPSET, key, input_names, torch.__version__, transformers.__version__])
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(model_name).name)[:60] or "model"
    return cache_dir / "onnx" / f"{slug}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"


def load_onnx_transformer(model, *, model_name: str, weights_sha256: str | None, cache_dir: Path,
                          threads: int) -> OnnxTransformer:
    """The ONNX Runtime twin of ``model``'s transformer: from the cache, or exported into it.

    Args:
        model: a loaded ``SentenceTransformer``.
        model_name: its configured name (names the cache folder).
        weights_sha256: verified checksum of its weights, if any (else the weights are hashed).
        cache_dir: where exported graphs live (``<cache_dir>/onnx/<model>-<hash>/``).
        threads: intra-op threads (the cores PyTorch uses).

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
    folder = _graph_folder(Path(cache_dir), model_name, weights_key(model, weights_sha256), input_names)
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
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle ONNX Runtime threads spin by default, starving the PyTorch ops (pooling, the exact
    # dense search) that run right after each pass on the same two cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise OnnxUnavailableError(f"{graph}: onnxruntime cannot load it ({exc})") from exc
    runner = OnnxTransformer(session, input_names, graph)
    difference = probe_difference(model, runner)
    if difference > MAX_PROBE_DIFFERENCE:
        raise OnnxUnavailableError(
            f"{graph}: vectors differ from PyTorch by {difference:.2g} on the probe sentences; not used")
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
