"""``order``: does the model care which of two motifs comes first?"""
from __future__ import annotations

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.ops import swap_segments
from motifprobe.engine.perturbation import PerturbationTest, TestBatch


class OrderTest(PerturbationTest):
    """Swap the two motifs in place, length preserving: before + second + between + first + after.

    Deterministic, so it is scored once per sequence, not ``num_perturbs`` identical times.
    """

    n_motifs = 2
    feature = "order"
    deterministic = True
    description = "the two motifs swapped in place (deterministic: scored once)"

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        s1, e1 = batch.bounds(batch.motifs[0])
        s2, e2 = batch.bounds(batch.motifs[1])
        return {"perturbed": swap_segments(batch.codes, s1, e1, s2, e2)[:, None, :]}


@hookimpl
def register_perturbation_tests(register):
    register("order", OrderTest)
