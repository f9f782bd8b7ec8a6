"""``distance``: does the model care how far apart two motifs are?"""
from __future__ import annotations

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.ops import pick_window_pair, relocate_pair, rows_of
from motifprobe.engine.perturbation import DELTA, Check, PerturbationTest, TestBatch


class DistanceTest(PerturbationTest):
    """Remove both motifs and reinsert them at random non-overlapping places, order kept.

    Acts on the chosen instance of each motif (the highest-scoring, else the leftmost; see
    :mod:`motifprobe.engine.sites`); each keeps its bases and so its strand. The new places
    avoid every other recorded site (other instances of the same motifs included) and every N;
    the old places get background bases.

    Controls: ``move_sham``, two random motif-free windows of the motifs' lengths moved the same
    way (the same operation on bases the model should not care about), which the verdict reads
    the test against; and ``translation``, the pair moved as a block keeping its gap. Moving
    the motifs apart changes the gap *and* their absolute positions; a call that does not
    exceed the translation's effect is explained by position and read ``position``.
    """

    n_motifs = 2
    feature = "spacing"
    description = "both motifs moved to random places, order kept"
    control = "move_sham"
    checks = (Check(DELTA, "translation", "position",
                    "moving the pair apart must matter beyond moving it as a block (gap kept); else position does"),)

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        first, second = (batch.bounds(m) for m in batch.motifs)
        blocked = batch.blocked(exclude=batch.motifs, keep_chosen=batch.motifs)
        out, _, _ = relocate_pair(batch.codes, first, second, blocked, batch.num_perturbs, batch.background, rng)
        return {"perturbed": out}

    def controls(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        first, second = (batch.bounds(m) for m in batch.motifs)
        blocked = batch.blocked(exclude=batch.motifs, keep_chosen=batch.motifs)
        k, bg = batch.num_perturbs, batch.background
        translation, _, _ = relocate_pair(batch.codes, first, second, blocked, k, bg, rng, keep_gap=True)
        # Two random motif-free windows of the motifs' lengths (in their order), moved like the motifs.
        left_first = first[0] <= second[0]
        len_l = np.where(left_first, first[1] - first[0], second[1] - second[0])
        len_r = np.where(left_first, second[1] - second[0], first[1] - first[0])
        free = batch.blocked()
        wl, wr = (w[:, 0] for w in pick_window_pair(free, len_l, len_r, 1, rng))
        sham = np.repeat(batch.codes[:, None, :], k, axis=1)
        fits = np.flatnonzero((wl >= 0) & (wr >= 0))
        if fits.size:
            sham[fits], _, _ = relocate_pair(batch.codes[fits], (wl[fits], wl[fits] + len_l[fits]),
                                             (wr[fits], wr[fits] + len_r[fits]), free[fits], k, bg,
                                             rows_of(rng, fits))
        return {"move_sham": sham, "translation": translation}


@hookimpl
def register_perturbation_tests(register):
    register("distance", DistanceTest)
