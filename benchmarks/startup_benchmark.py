"""Start-up: how long a new process takes to its first draft or first vector, with and without PyTorch.

Every CLI command and every app start is a new process. Importing sentence-transformers and
torch costs ~5 s of it; once an earlier process has exported and checked the ONNX graph
(:func:`kb.onnx_encoder.load_standalone`), queries and sentences are embedded without them.
This runs, in fresh processes, alternating the two set-ups on the same demo home:

* ``standalone``: the product as shipped (the graph, its standalone check and the risk
  layer's exemplar vectors are in the cache);
* ``pytorch_at_start``: what every process did before: the same graph with the standalone
  check marked unsupported (PyTorch loaded, ONNX Runtime for the transformer only) and no
  folder for exemplar vectors (the risk layer encodes its ~1,000 exemplars again).

Measured per process: ``replydesk draft --ticket ... --json`` wall time and peak RSS, the time
to a first query vector (imports included), and the app's warm-up (:meth:`Workspace.warm_up`:
one search and the risk exemplars). Writes ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine, write_result  # noqa: E402

TICKET = "My payout hasn't arrived and it's been two weeks since the campaign ended. What is going on?"

_FIRST_VECTOR = """
import sys, time, json
started = time.perf_counter()
from kb.config import Settings
from kb.embedder import get_embedder
get_embedder(Settings()).encode(["when is my payout sent?"])
print(json.dumps({"seconds": time.perf_counter() - started, "torch": "torch" in sys.modules}))
"""

_WARM_UP = """
import sys, time, json
started = time.perf_counter()
from kb.config import Settings
from kb.services.workspace import Workspace
warm = Workspace(Settings()).warm_up()
print(json.dumps({"seconds": time.perf_counter() - started, "warm_up": warm, "torch": "torch" in sys.modules}))
"""

_DRAFT = """
import resource, runpy, sys, json
sys.argv = ["replydesk", "draft", "--ticket", sys.argv[1], "--json"]
try:
    runpy.run_module("app.cli", run_name="__main__")
except SystemExit as exit:
    if exit.code:
        raise
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "torch": "torch" in sys.modules}), file=sys.stderr)
"""


def _run(code: str, env: dict, *args: str) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"child failed ({done.returncode}):\n{done.stderr[-2000:]}")
    stream = done.stderr if code is _DRAFT else done.stdout
    return seconds, json.loads(stream.strip().splitlines()[-1])


def _pytorch_at_start_cache(cache: Path, target: Path) -> Path:
    """A copy of ``cache``'s graphs whose standalone checks are marked unsupported."""
    for manifest_path in (cache / "onnx").glob("*/manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        if "standalone" not in manifest:
            continue
        folder = target / "onnx" / manifest_path.parent.name
        folder.mkdir(parents=True)
        (folder / "model.onnx").symlink_to(manifest_path.parent / "model.onnx")
        manifest.pop("standalone")
        manifest["standalone_unsupported"] = "startup benchmark: PyTorch at start, as before"
        (folder / "manifest.json").write_text(json.dumps(manifest))
    # A file where the vectors folder would be: the exemplar vectors cannot be kept.
    (target / "vectors").write_text("startup benchmark: no stored exemplar vectors, as before")
    return target


def _summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="processes per set-up and measurement")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "startup.json")
    args = parser.parse_args()

    from ingest.pipeline import Ingestor
    from kb.config import Settings
    from kb.embedder import get_embedder
    from kb.knowledge_base import KnowledgeBase
    from kb.onnx_encoder import default_cache_dir

    work = Path(tempfile.mkdtemp(prefix="replydesk-startup-"))
    try:
        settings = Settings(_env_file=None, home=work / "home")
        cache = settings.model_cache_dir or default_cache_dir()
        # Export and check the graph first, as any first use on a machine does.
        if get_embedder(settings).active_backend != "onnx":
            raise SystemExit("the ONNX path is not available here; nothing to compare")
        kb = KnowledgeBase(settings)
        for batch in ([REPO / "demo" / "kb" / "v1"], [REPO / "demo" / "kb" / "docs", REPO / "demo" / "kb" / "qa"]):
            Ingestor(kb).ingest_paths(batch)
        setups = {"standalone": Path(cache),
                  "pytorch_at_start": _pytorch_at_start_cache(Path(cache), work / "cache-pytorch")}
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
        base_env.update({"REPLYDESK_HOME": str(settings.home), "REPLYDESK_LLM_PROVIDER": "none"})
        rows: dict[str, dict[str, list]] = {name: {} for name in setups}
        for _ in range(args.runs):
            for name, cache_dir in setups.items():  # alternated, so host noise hits both alike
                env = {**base_env, "REPLYDESK_MODEL_CACHE_DIR": str(cache_dir)}
                row = rows[name]
                seconds, info = _run(_DRAFT, env, TICKET)
                row.setdefault("draft_cli_s", []).append(seconds)
                row.setdefault("draft_rss_mb", []).append(info["rss_mb"])
                row.setdefault("draft_imported_torch", []).append(info["torch"])
                seconds, info = _run(_FIRST_VECTOR, env)
                row.setdefault("first_vector_s", []).append(info["seconds"])
                seconds, info = _run(_WARM_UP, env)
                row.setdefault("app_warm_up_s", []).append(info["seconds"])
                row.setdefault("warm_up_imported_torch", []).append(info["torch"])
        result = {"machine": machine(), "runs": args.runs, "ticket": TICKET}
        for name, row in rows.items():
            # Flags are counted: in how many of the runs the process imported torch.
            result[name] = {key: (sum(values) if isinstance(values[0], bool) else _summary(values))
                            for key, values in row.items()}
        result["ratios"] = {key: round(result["pytorch_at_start"][key]["median"] / result["standalone"][key]["median"], 2)
                            for key in ("draft_cli_s", "first_vector_s", "app_warm_up_s")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
