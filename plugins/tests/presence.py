"""``presence``: does the model rely on a motif being there?"""
from __future__ import annotations

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.perturb import replace_masked
from motifprobe.engine.perturbation import PerturbationTest, TestBatch


class PresenceTest(PerturbationTest):
    """Replace every instance of the motif with bases drawn from the background."""

    n_motifs = 1
    description = "every instance of the motif replaced by background bases"

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        mask = batch.instance_mask(batch.motifs)
        return {"perturbed": replace_masked(batch.codes, mask, batch.num_perturbs, batch.background, rng)}


@hookimpl
def register_perturbation_tests(register):
    register("presence", PresenceTest)
