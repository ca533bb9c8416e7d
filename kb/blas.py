"""Matrix products on one BLAS thread.

OpenBLAS wakes its other threads for a product of a few hundred thousand elements, and they
keep spinning afterwards, taking the cores from the next forward pass of the embedding
model (the risk layer's exemplar product: warm retrieval p95 2.1 -> 8 ms on the demo
tickets). On one thread the product itself costs a few milliseconds at most here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import lru_cache


@lru_cache(maxsize=1)
def _controller():
    """threadpoolctl's view of the loaded BLAS libraries (scanning them costs ~1 ms: once)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager:
    """A context in which numpy's BLAS products run on one thread (~35 µs to enter and leave)."""
    return _controller().limit(limits=1, user_api="blas")
