"""``interaction``: is the effect of two motifs more (or less) than the sum of their parts?

In log-probability (logit) space the additive expectation of removing both motifs is
``orig + (ablate_A - orig) + (ablate_B - orig)``; the delta is
``loss(ablate A and B) - loss(additive expectation)``. For an AND-type rule removing one motif
already destroys the signal, so removing both hurts less than the sum: the delta is negative.
An OR-type (redundant) pair gives a positive delta; an additive model gives 0.
"""
from __future__ import annotations

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.ops import background_at, replace_masked
from motifprobe.engine.perturbation import PerturbationTest, Scorer, TestBatch


class InteractionTest(PerturbationTest):
    """Non-additivity of two motifs; the three ablations share their replacement bases."""

    n_motifs = 2
    feature = "interaction"
    primary_arm = "both"
    description = "loss(ablate both) - loss(additive expectation in logit space); AND rules give < 0"

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        a, b = batch.motifs
        n, length = batch.codes.shape
        mask_a, mask_b = batch.instance_mask((a,)), batch.instance_mask((b,))
        union = np.broadcast_to((mask_a | mask_b)[:, None, :], (n, batch.num_perturbs, length))
        draws = np.zeros(union.shape, dtype=np.uint8)
        draws[union] = background_at(rng, union, batch.background)
        k, bg = batch.num_perturbs, batch.background
        return {
            "ablate_a": replace_masked(batch.codes, mask_a, k, bg, rng, draws=draws),
            "ablate_b": replace_masked(batch.codes, mask_b, k, bg, rng, draws=draws),
            "both": replace_masked(batch.codes, mask_a | mask_b, k, bg, rng, draws=draws),
        }

    def deltas(self, arms, original, batch: TestBatch, scorer: Scorer) -> np.ndarray:
        labels = batch.labels[:, None]
        expected = scorer.additive(original, arms["ablate_a"], arms["ablate_b"])
        return scorer.score(arms["both"], labels) - scorer.score(expected, labels)


@hookimpl
def register_perturbation_tests(register):
    register("interaction", InteractionTest)
