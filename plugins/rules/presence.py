"""``presence`` rule: positive iff every pos motif is present (an AND over motifs)."""
from __future__ import annotations

import numpy as np

from motifprobe import Rule, hookimpl
from motifprobe.engine.features import Expectation, effect, no_effect


class PresenceRule(Rule):
    """Label 1 iff every pos motif has a site; order, spacing and strand do not matter."""

    name = "presence"
    description = "positive iff every pos motif is present (AND)"
    default_pos_share = 0.3

    def labels(self, sites, num_seqs):
        label = np.ones(num_seqs, dtype=bool)
        for has in self.carried(sites, num_seqs):
            label &= has
        return label.astype(np.int64)

    def expects(self, feature: str, motifs: tuple[str, ...]) -> Expectation:
        pos = set(self.pos_motifs)
        if feature == "presence" and any(m in pos for m in motifs):
            return effect(+1, "removing a pos motif turns a positive negative")
        if feature == "interaction" and len(motifs) >= 2 and set(motifs) <= pos:
            return effect(-1, "AND: removing one pos motif already removes the signal, so both together "
                              "hurt less than the sum")
        return no_effect("the label depends only on which pos motifs are present")


@hookimpl
def register_rules(register):
    register("presence", PresenceRule, aliases=("and",))
