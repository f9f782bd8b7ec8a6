"""``spacing``: a pair inserted into backgrounds at every gap, both orders: the spacing profile."""
from __future__ import annotations

from motifprobe import Param, hookimpl
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.insertion import CONTROL_ARM, InsertionTest, Placement, Point

MAX_DEFAULT_GAP = 50
"""Without ``max_gap``, the profile goes this far (or as far as the sequences allow)."""


class SpacingTest(InsertionTest):
    """Both motifs inserted as one block ``A + gap + B`` (order ``AB``) and ``B + gap + A``
    (``BA``), centred in the background, for gaps ``min_gap..max_gap`` in steps of ``step``.

    One arm per gap and order. Control (shared by every point): the block at the middle gap, order
    AB, with each motif's bases dinucleotide-shuffled per background. The summary row's ``window``
    is the preferred window estimated from the curve: the gaps around the peak whose effect is at
    least half the peak's, in the peak's order.
    """

    test_name = "spacing"
    n_motifs = 2
    feature = "spacing"
    description = "a pair inserted into backgrounds at gaps 0..G, both orders (a profile)"
    parameters = InsertionTest.parameters + (
        Param("min_gap", int, 0, "smallest gap in bp", low=0),
        Param("max_gap", int, None, f"largest gap in bp (default: {MAX_DEFAULT_GAP}, or as far as fits)", low=0),
        Param("step", int, 1, "gap step in bp", low=1),
    )

    def layout(self, length, lengths):
        la, lb = lengths
        room = length - la - lb
        lo, hi, step = self.params["min_gap"], self.params["max_gap"], self.params["step"]
        if hi is None:
            hi = min(MAX_DEFAULT_GAP, room)
        if hi > room or lo > hi:
            raise MotifprobeError(f"test 'spacing': gaps {lo}..{hi} do not fit: the motifs ({la} and {lb} bp) "
                                  f"{hi} bp apart need {la + lb + hi} bp and the sequences are {length} bp; allowed: "
                                  f"min_gap <= max_gap <= {max(room, 0)}")
        gaps = list(range(lo, hi + 1, step))
        points = []
        for order, (first, second) in (("AB", (0, 1)), ("BA", (1, 0))):
            l1, l2 = lengths[first], lengths[second]
            for gap in gaps:
                start = (length - (l1 + gap + l2)) // 2
                points.append(Point(f"{order}:{gap}", float(gap), str(gap), order, CONTROL_ARM,
                                    (Placement(first, start), Placement(second, start + l1 + gap))))
        mid = gaps[len(gaps) // 2]
        start = (length - (la + mid + lb)) // 2
        return points, {CONTROL_ARM: (Placement(0, start), Placement(1, start + la + mid))}


@hookimpl
def register_perturbation_tests(register):
    register("spacing", SpacingTest)
