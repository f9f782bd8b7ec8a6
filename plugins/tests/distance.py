"""``distance``: does the model care how far apart two motifs are?"""
from __future__ import annotations

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.ops import (PairSegments, fits_at, pick_window_pair, relocate_pair, replace_masked,
                                   rows_of)
from motifprobe.engine.perturbation import DELTA, Check, PerturbationTest, TestBatch


class DistanceTest(PerturbationTest):
    """Remove both motifs and reinsert them at random non-overlapping places, order kept.

    Acts on the chosen instance of each motif (the highest-scoring, else the leftmost; see
    :mod:`motifprobe.engine.sites`); each keeps its bases and so its strand. The new places
    avoid every other recorded site (other instances of the same motifs included) and every N;
    the old places get background bases.

    Moving the motifs apart changes their gap *and* where each sits. Two more arms separate the
    two, from the same draws: ``translate_first`` moves the pair as a block (gap kept) so that the
    first motif (of the pair as named) lands where the test put it, ``translate_second`` so that
    the second one does. A model that reads one motif's absolute position changes exactly as
    much under one of them as under the test; a call must exceed both (the ``position``
    checks), else it reads ``position``. Where a block does not fit, that translation copies the test's arm (no
    evidence for spacing from that perturbation).

    The control the verdict reads against is ``move_sham``: two random motif-free windows of the
    motifs' lengths moved the same way (the same operation on bases the model should ignore).
    """

    n_motifs = 2
    feature = "spacing"
    description = "both motifs moved to random places, order kept"
    control = "move_sham"
    checks = (Check(DELTA, "translate_first", "position",
                    "moving apart must matter beyond moving the pair as a block to the first motif's new place"),
              Check(DELTA, "translate_second", "position",
                    "moving apart must matter beyond moving the pair as a block to the second motif's new place"))

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        first, second = (batch.bounds(m) for m in batch.motifs)
        blocked = batch.blocked(exclude=batch.motifs, keep_chosen=batch.motifs)
        seg = PairSegments.of(batch.codes, first, second)
        new_l, new_r = pick_window_pair(blocked, seg.len_l, seg.len_r, batch.num_perturbs, rng)
        base = replace_masked(batch.codes, seg.old_mask(), batch.num_perturbs, batch.background, rng)
        moved = seg.place(base, batch.codes, new_l, new_r)
        offset = (seg.rs - seg.ls)[:, None]
        block = {}
        for side, (left, right) in (("left", (new_l, new_l + offset)), ("right", (new_r - offset, new_r))):
            ok = (new_l >= 0) & fits_at(blocked, seg.len_l, left) & fits_at(blocked, seg.len_r, right)
            placed = seg.place(base, batch.codes, np.where(ok, left, -1), np.where(ok, right, -1))
            block[side] = np.where(ok[:, :, None], placed, moved)
        first_is_left = (first[0] <= second[0])[:, None, None]
        return {"perturbed": moved,
                "translate_first": np.where(first_is_left, block["left"], block["right"]),
                "translate_second": np.where(first_is_left, block["right"], block["left"])}

    def controls(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        first, second = (batch.bounds(m) for m in batch.motifs)
        seg = PairSegments.of(batch.codes, first, second)
        k = batch.num_perturbs
        # Two random motif-free windows of the motifs' lengths (in their order), moved like the motifs.
        free = batch.blocked()
        wl, wr = (w[:, 0] for w in pick_window_pair(free, seg.len_l, seg.len_r, 1, rng))
        sham = np.repeat(batch.codes[:, None, :], k, axis=1)
        fits = np.flatnonzero((wl >= 0) & (wr >= 0))
        if fits.size:
            sham[fits], _, _ = relocate_pair(batch.codes[fits], (wl[fits], wl[fits] + seg.len_l[fits]),
                                             (wr[fits], wr[fits] + seg.len_r[fits]), free[fits], k,
                                             batch.background, rows_of(rng, fits))
        return {"move_sham": sham}


@hookimpl
def register_perturbation_tests(register):
    register("distance", DistanceTest)
