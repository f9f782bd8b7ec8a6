"""``exactly-one``: a rule motifprobe does not ship, scored by motifprobe's scorecard unchanged.

Positive iff exactly one of the pos motifs is present (an exclusive OR over motifs). The rule
states what a model that learned it should show, per feature: removing a pos motif changes the
label both ways (alone: positive -> negative; beside the other: negative -> positive), so in
loss mode a presence effect is positive; removing both from a row that has both turns a
negative, which the additive (logit) expectation calls strongly positive, back into a correct
negative, so the interaction is negative. Order, spacing and strand do not matter.
"""
from __future__ import annotations

import numpy as np

from motifprobe import Rule, effect, no_effect


class ExactlyOneRule(Rule):
    """Label 1 iff exactly one pos motif has a site."""

    name = "exactly-one"
    description = "positive iff exactly one pos motif is present (XOR)"
    min_pos_motifs = 2
    default_pos_share = 0.2  # a fifth of the rows get every pos motif: the negatives XOR is about

    def labels(self, sites, num_seqs):
        present = sum((start >= 0).astype(np.int64) for start, _ in self.first_sites(sites, num_seqs))
        return (present == 1).astype(np.int64)

    def expects(self, feature, motifs):
        pos = set(self.pos_motifs)
        if feature == "presence" and any(m in pos for m in motifs):
            return effect(+1, "removing a pos motif flips the label either way")
        if feature == "interaction" and len(motifs) == 2 and set(motifs) <= pos:
            return effect(-1, "removing both restores a negative that the additive expectation calls positive")
        return no_effect("only the number of pos motifs present matters")
