"""``control``: the sham perturbation every other test is read against."""
from __future__ import annotations

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.features import CONTROL
from motifprobe.engine.perturbation import PerturbationTest, TestBatch, sham_perturb


class ControlTest(PerturbationTest):
    """Sham: a random motif-free window of the motif's length gets background bases."""

    n_motifs = 1
    feature = CONTROL
    description = "sham: a random motif-free window of the motif's length replaced (the null)"

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"perturbed": sham_perturb(batch, rng)}


@hookimpl
def register_perturbation_tests(register):
    register("control", ControlTest, aliases=("sham",))
