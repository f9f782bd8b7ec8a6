"""``presence``: does the model rely on a motif being there?"""
from __future__ import annotations

import numpy as np

from motifprobe import Param, hookimpl
from motifprobe.engine.ops import dinuc_shuffle_windows, refill_windows, replace_masked, shuffle_windows
from motifprobe.engine.perturbation import SHAM, Check, PerturbationTest, TestBatch

FILLS = ("background", "shuffle", "dinuc-shuffle")


class PresenceTest(PerturbationTest):
    """Destroy every instance of the motif.

    ``fill`` chooses the replacement bases: ``background`` draws them from the dataset's
    background distribution; ``shuffle`` permutes each instance's own bases (same composition);
    ``dinuc-shuffle`` shuffles each instance keeping its dinucleotide counts (and first and
    last base), as tangermeme does by default.

    Controls: the engine's sham (a motif-free window as long as the instances, redrawn from the
    background) and ``composition``: every instance's own bases dinucleotide-shuffled in place.
    A model that reads only the GC content of the motif's region changes with the test but not
    with the composition control: such a call is read ``composition``, not ``effect``.
    """

    n_motifs = 1
    feature = "presence"
    description = "every instance of the motif destroyed (fill: background draws or a shuffle of its bases)"
    parameters = (Param("fill", str, "background", "replacement bases for the motif's instances", choices=FILLS),)
    checks = (Check("composition", SHAM, "composition",
                    "the motif shuffled in place (same dinucleotides) must matter too; else only its composition does"),)

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        fill = self.params["fill"]
        if fill == "background":
            mask = batch.instance_mask(batch.motifs)
            return {"perturbed": replace_masked(batch.codes, mask, batch.num_perturbs, batch.background, rng)}
        sites = batch.instances(batch.motifs)
        shuffle = shuffle_windows if fill == "shuffle" else dinuc_shuffle_windows
        return {"perturbed": refill_windows(batch.codes, sites["seq"].to_numpy(), sites["start"].to_numpy(),
                                            sites["end"].to_numpy(), batch.num_perturbs, shuffle, rng)}

    def controls(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        sites = batch.instances(batch.motifs)
        return {"composition": refill_windows(batch.codes, sites["seq"].to_numpy(), sites["start"].to_numpy(),
                                              sites["end"].to_numpy(), batch.num_perturbs, dinuc_shuffle_windows,
                                              rng)}


@hookimpl
def register_perturbation_tests(register):
    register("presence", PresenceTest)
