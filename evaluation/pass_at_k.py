"""The unbiased pass@k estimator of the Codex paper, which the CodeGen paper uses."""

from __future__ import annotations

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn from n (c of them correct) passes.

    1 - C(n-c, k) / C(n, k), computed as a product so large n does not overflow.
    """
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, not {n}.")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(counts: list[tuple[int, int]], k: int) -> float:
    """Mean pass@k over problems given (samples, correct) per problem."""
    return float(np.mean([pass_at_k(n, c, k) for n, c in counts])) if counts else 0.0
