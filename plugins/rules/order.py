"""``order`` rule: positive iff both pos motifs are present and the first comes first."""
from __future__ import annotations

import numpy as np

from motifprobe import Rule, hookimpl
from motifprobe.engine.features import Expectation, confounded, effect, no_effect


class OrderRule(Rule):
    """Label 1 iff both pos motifs have a site and the first one's (first instance) starts first."""

    name = "order"
    description = "positive iff both pos motifs are present, the first before the second"
    min_pos_motifs = max_pos_motifs = 2
    default_pos_share = 0.6
    pair_features = ("order",)
    """Features that, applied to exactly the pos pair, should change the prediction."""

    def labels(self, sites, num_seqs):
        (sa, _), (sb, _) = self.first_sites(sites, num_seqs)
        return ((sa >= 0) & (sb >= 0) & (sa < sb)).astype(np.int64)

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
