"""``distance``: does the model care how far apart two motifs are?"""
from __future__ import annotations

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.ops import relocate_pair
from motifprobe.engine.perturbation import PerturbationTest, TestBatch


class DistanceTest(PerturbationTest):
    """Remove both motifs and reinsert them at random non-overlapping places, order kept.

    The new places avoid every other recorded motif; the old places get background bases.
    """

    n_motifs = 2
    feature = "spacing"
    description = "both motifs moved to random places, order kept"

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        first, second = (batch.bounds(m) for m in batch.motifs)
        blocked = batch.blocked(exclude=batch.motifs)
        out, _, _ = relocate_pair(batch.codes, first, second, blocked, batch.num_perturbs, batch.background, rng)
        return {"perturbed": out}


@hookimpl
def register_perturbation_tests(register):
    register("distance", DistanceTest)
