"""``distance`` rule: the order rule, plus the gap between the pos motifs within bounds."""
from __future__ import annotations

import numpy as np

from motifprobe import MotifprobeError, Param, hookimpl
from motifprobe.engine.sites import any_pair
from motifprobe.plugins.rules.order import OrderRule


class DistanceRule(OrderRule):
    """Label 1 iff some pair of instances of the pos motifs is in order with its gap (bases
    between the end of the first and the start of the second) within [min_dist, max_dist].

    Layout: of the rows forced to carry both pos motifs, half get a gap inside the window in the
    right order, a quarter a near-miss gap just outside it, and a quarter the reversed order.
    """

    name = "distance"
    description = "order rule, and the gap between the pos motifs within [min_dist, max_dist]"
    parameters = (Param("min_dist", int, 0, "smallest gap in bp", low=0),
                  Param("max_dist", int, 10, "largest gap in bp", low=0))
    pair_features = ("order", "spacing")

    def check_params(self):
        if self.params["min_dist"] > self.params["max_dist"]:
            raise MotifprobeError(f"rule 'distance': min_dist ({self.params['min_dist']}) must not exceed "
                                  f"max_dist ({self.params['max_dist']})")

    def min_length(self, lengths, motifs):
        return super().min_length(lengths, motifs) + int(self.params["max_dist"])

    def labels(self, sites, num_seqs):
        pairs = self.pos_pairs(sites)
        sa, ea, sb = (pairs[c].to_numpy() for c in ("start_a", "end_a", "start_b"))
        gap = sb - ea
        inside = (gap >= self.params["min_dist"]) & (gap <= self.params["max_dist"])
        return any_pair(pairs, (sa < sb) & inside, num_seqs).astype(np.int64)

    def profile_window(self, feature, motifs):
        if feature == "spacing" and set(motifs) == set(self.pos_motifs) and len(motifs) == 2:
            return int(self.params["min_dist"]), int(self.params["max_dist"])
        return None

    def _near_miss_gaps(self, n, cap, rng):
        lo, hi = self.params["min_dist"], self.params["max_dist"]
        width = max(hi - lo + 1, 5)
        ranges = []
        if lo > 0:
            ranges.append((max(0, lo - width), lo - 1))
        if cap > hi:
            ranges.append((hi + 1, min(hi + width, cap)))
        if not ranges:
            return None
        lows = np.array([r[0] for r in ranges])
        highs = np.array([r[1] for r in ranges])
        pick = rng.integers(0, len(ranges), size=n)
        return rng.integers(lows[pick], highs[pick] + 1)

    def draw_pairs(self, names, lengths, forced, seq_length, rng):
        if not forced.any():
            return None
        first = names.index(self.pos_motifs[0])
        second = names.index(self.pos_motifs[1])
        rows = np.flatnonzero(forced)
        k = len(rows)
        cap = seq_length - int(lengths.sum())
        kind = rng.random(k)
        inside = rng.integers(self.params["min_dist"], self.params["max_dist"] + 1, size=k)
        near = self._near_miss_gaps(k, cap, rng)
        near_miss = (kind >= 0.5) & (kind < 0.75) & (near is not None)
        reverse = (kind >= 0.75) | ((kind >= 0.5) & (near is None))
        gaps = np.where(near_miss, near if near is not None else 0, inside).astype(np.int64)
        first_col = np.where(reverse, second, first)
        second_col = np.where(reverse, first, second)
        return rows, first_col, second_col, gaps


@hookimpl
def register_rules(register):
    register("distance", DistanceRule, aliases=("spacing",))
