"""``order`` rule: positive iff both pos motifs are present and the first comes first."""
from __future__ import annotations

import numpy as np

from motifprobe import Rule, hookimpl
from motifprobe.engine.features import Expectation, confounded, effect, no_effect
from motifprobe.engine.sites import any_pair


class OrderRule(Rule):
    """Label 1 iff some instance of the first pos motif starts before some instance of the second."""

    name = "order"
    description = "positive iff both pos motifs are present, the first before the second"
    min_pos_motifs = max_pos_motifs = 2
    default_pos_share = 0.6
    pair_features = ("order",)
    """Features that, applied to exactly the pos pair, should change the prediction."""

    def labels(self, sites, num_seqs):
        pairs = self.pos_pairs(sites)
        return any_pair(pairs, pairs["start_a"].to_numpy() < pairs["start_b"].to_numpy(), num_seqs).astype(np.int64)

    def expects(self, feature: str, motifs: tuple[str, ...]) -> Expectation:
        pos = set(self.pos_motifs)
        names = set(motifs)
        if feature == "presence" and names & pos:
            return effect(+1, "removing a pos motif turns a positive negative")
        if feature == "interaction" and len(motifs) >= 2 and names <= pos:
            return effect(-1, "both pos motifs are needed (AND-like), so removing both hurts less than the sum")
        if feature in ("order", "spacing") and names == pos:
            if feature in self.pair_features:
                return effect(+1, f"the rule depends on the pos motifs' {feature}")
            return no_effect(f"the rule ignores the pos motifs' {feature} (order kept)")
        if feature in ("order", "spacing") and names & pos:
            return confounded("moving a pos motif against a decoy changes its place relative to its partner, "
                              "and so the true label")
        return no_effect("not part of the rule")


@hookimpl
def register_rules(register):
    register("order", OrderRule)
