"""``presence``: does the model rely on a motif being there?"""
from __future__ import annotations

import numpy as np

from motifprobe import Param, hookimpl
from motifprobe.engine.ops import dinuc_shuffle_windows, refill_windows, replace_masked, sham_windows, shuffle_windows
from motifprobe.engine.perturbation import Check, PerturbationTest, TestBatch

FILLS = ("background", "shuffle", "dinuc-shuffle")


class PresenceTest(PerturbationTest):
    """Destroy every instance of the motif.

    ``fill`` chooses the replacement bases: ``background`` draws them from the dataset's
    background distribution; ``shuffle`` permutes each instance's own bases (same composition);
    ``dinuc-shuffle`` shuffles each instance keeping its dinucleotide counts (and first and
    last base), as tangermeme does by default.

    Control: the engine's sham (a motif-free window as long as the instances, redrawn from the
    background). Check: ``composition``, every instance's own bases dinucleotide-shuffled in
    place, read against ``composition_sham``, a motif-free window of the same length shuffled
    the same way. A model that reads only the GC content of the motif's region changes with the
    test but not with the composition arm: such a call is read ``composition``, not ``effect``.
    """

    n_motifs = 1
    feature = "presence"
    description = "every instance of the motif destroyed (fill: background draws or a shuffle of its bases)"
    parameters = (Param("fill", str, "background", "replacement bases for the motif's instances", choices=FILLS),)
    checks = (Check("composition", "composition_sham", "composition",
                    "the motif shuffled in place (same dinucleotides) must matter beyond a motif-free window "
                    "shuffled the same way; else only its composition does"),)

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
        k = batch.num_perturbs
        composition = refill_windows(batch.codes, sites["seq"].to_numpy(), sites["start"].to_numpy(),
                                     sites["end"].to_numpy(), k, dinuc_shuffle_windows, rng)
        # Its own null: a motif-free window as long as the instances, shuffled the same way (the
        # background sham changes composition itself, which a composition model would read).
        lengths = batch.motif_lengths()
        starts = sham_windows(batch.blocked(), lengths, 1, rng)[:, 0]
        rows = np.flatnonzero(starts >= 0)
        composition_sham = refill_windows(batch.codes, rows, starts[rows], starts[rows] + lengths[rows], k,
                                          dinuc_shuffle_windows, rng)
        return {"composition": composition, "composition_sham": composition_sham}


@hookimpl
def register_perturbation_tests(register):
    register("presence", PresenceTest)
