"""``order``: does the model care which of two motifs comes first?"""
from __future__ import annotations

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.ops import swap_random_windows, swap_segments
from motifprobe.engine.perturbation import PerturbationTest, TestBatch


class OrderTest(PerturbationTest):
    """Swap the two motifs in place, length preserving: before + second + between + first + after.

    Acts on the chosen instance of each motif (the highest-scoring, else the leftmost; see
    :mod:`motifprobe.engine.sites`); each keeps its bases and so its strand; other instances stay.

    Deterministic, so it is scored once per sequence, not ``num_perturbs`` identical times.

    Control ``swap_sham``: two random motif-free windows of the same lengths swapped in place
    (a swap adds no new bases, so neither does its control).
    """

    n_motifs = 2
    feature = "order"
    deterministic = True
    description = "the two motifs swapped in place (deterministic: scored once)"
    control = "swap_sham"

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        s1, e1 = batch.bounds(batch.motifs[0])
        s2, e2 = batch.bounds(batch.motifs[1])
        return {"perturbed": swap_segments(batch.codes, s1, e1, s2, e2)[:, None, :]}

    def controls(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        s1, e1 = batch.bounds(batch.motifs[0])
        s2, e2 = batch.bounds(batch.motifs[1])
        first = s1 <= s2
        len_l, len_r = np.where(first, e1 - s1, e2 - s2), np.where(first, e2 - s2, e1 - s1)
        return {"swap_sham": swap_random_windows(batch.codes, len_l, len_r, batch.blocked(), 1, rng)}


@hookimpl
def register_perturbation_tests(register):
    register("order", OrderTest)
