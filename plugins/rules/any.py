"""``any`` rule: positive iff at least one pos motif is present (an OR over motifs)."""
from __future__ import annotations

import numpy as np

from motifprobe import Rule, hookimpl
from motifprobe.engine.features import Expectation, effect, no_effect


class AnyRule(Rule):
    """Label 1 iff some pos motif has a site.

    Layout: a ``pos_share`` of the rows is positive; each gets every pos motif with probability
    1/2 and at least one, so rows with several pos motifs (the redundancy an OR model must
    handle) are common. Negatives carry no pos motif; decoys appear anywhere with probability 1/2.
    """

    name = "any"
    description = "positive iff at least one pos motif is present (OR)"
    default_pos_share = 0.5

    def labels(self, sites, num_seqs):
        label = np.zeros(num_seqs, dtype=bool)
        for has in self.carried(sites, num_seqs):
            label |= has
        return label.astype(np.int64)

    def draw_presence(self, names, n, pos_share, rng):
        present = rng.random((n, len(names))) < 0.5
        pos_idx = np.array([names.index(p) for p in self.pos_motifs])
        positive = rng.random(n) < pos_share
        pick = pos_idx[rng.integers(0, len(pos_idx), size=n)]
        present[np.ix_(~positive, pos_idx)] = False
        lacking = positive & ~present[:, pos_idx].any(axis=1)
        present[np.flatnonzero(lacking), pick[lacking]] = True
        return present, np.zeros(n, dtype=bool)

    def expects(self, feature: str, motifs: tuple[str, ...]) -> Expectation:
        pos = set(self.pos_motifs)
        if feature == "presence" and any(m in pos for m in motifs):
            return effect(+1, "removing the only pos motif turns a positive negative")
        if feature == "interaction" and len(motifs) >= 2 and set(motifs) <= pos:
            return effect(+1, "OR: each pos motif can stand in for the other, so removing both hurts more "
                              "than the sum")
        return no_effect("the label depends only on whether any pos motif is present")


@hookimpl
def register_rules(register):
    register("any", AnyRule, aliases=("or",))
