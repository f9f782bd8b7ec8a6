"""Seeds: one check for every place a seed enters (CLI and Python API alike)."""
from __future__ import annotations

import numbers
from typing import Any

from motifprobe.engine.errors import MotifprobeError

# The narrowest range every seeded library accepts (scikit-learn's random_state: 0 .. 2**32 - 1).
MAX_SEED = 2**32 - 1


def check_seed(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` as a plain int, or raise if it is not an integer in 0 .. 2**32 - 1.

    Integers of any kind (Python, numpy) are accepted; bools, floats (even 3.0), strings and
    None are not, so a seed is never silently rounded or reinterpreted.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        shown = repr(seed) if isinstance(seed, str) else " ".join(str(seed).split())
        raise MotifprobeError(f"{name} must be an integer from 0 to {MAX_SEED}, got {shown[:60]} "
                              f"({type(seed).__name__})")
    value = int(seed)
    if not 0 <= value <= MAX_SEED:
        raise MotifprobeError(f"{name} must be an integer from 0 to {MAX_SEED}, got {value}")
    return value
