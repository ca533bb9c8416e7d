"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine() -> dict:
    """What the numbers were measured on, with the versions that move them."""
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in ("torch", "transformers", "sentence-transformers", "onnxruntime", "chromadb", "streamlit", "bm25s",
                 "numpy"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "packages": packages}


def write_result(result: dict, out: Path) -> None:
    """Write the result JSON to ``out`` and print it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    out.write_text(text)
    print(text)
