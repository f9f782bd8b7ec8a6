"""``orientation``: does the model care which strand the motif is read from?

The first instance of the motif is replaced, in place, by its reverse complement; nothing
else changes, and the sequence keeps its length. Deterministic, so the engine scores it once
per sequence. A model that learned the motif strand-agnostically (as a TF binding double-
stranded DNA would read it) shows no change; a model that memorised one orientation loses
confidence. For a palindromic motif the test is a near no-op by construction.
"""
from __future__ import annotations

import numpy as np

from motifprobe import PerturbationTest, TestBatch


def reverse_complement_segment(codes: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Copies of ``codes`` (n, L) with [start, end) of each row reverse-complemented.

    Vectorized: one gather with an index array, no loop over sequences. Rows with
    ``start < 0`` (motif absent) are returned unchanged. Complement of code c is 3 - c.
    """
    length = codes.shape[1]
    p = np.arange(length)[None, :]
    s, e = start[:, None], end[:, None]
    inside = (s >= 0) & (p >= s) & (p < e)
    src = np.where(inside, s + e - 1 - p, p)  # position p reads from its mirror image in the segment
    gathered = np.take_along_axis(codes, src, axis=1)
    return np.where(inside, np.uint8(3) - gathered, gathered).astype(np.uint8)


class OrientationTest(PerturbationTest):
    """Reverse-complement the motif's first instance in place."""

    n_motifs = 1
    feature = "orientation"
    deterministic = True
    description = "the motif's first instance reverse-complemented in place (deterministic: scored once)"

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        start, end = batch.bounds(batch.motifs[0])
        return {"perturbed": reverse_complement_segment(batch.codes, start, end)[:, None, :]}
