"""``strand``: the orientation profile, a motif (or a pair) inserted on each strand combination.

Registered as ``strand`` (feature ``orientation``): the name ``orientation`` is the example
third-party plugin's.
"""
from __future__ import annotations

from motifprobe import Param, hookimpl
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.insertion import CONTROL_ARM, InsertionTest, Placement, Point, consensus, is_palindrome

STRANDS_PAIR = ("++", "+-", "-+", "--")


class StrandTest(InsertionTest):
    """A pair inserted ``gap`` bp apart (A first), centred, in the four strand combinations
    (``++``, ``+-``, ``-+``, ``--``); with ``single=true`` one motif per unit, centred, on ``+``
    and ``-``. A ``-`` writes the reverse complement. Control: the same block with each motif's
    bases dinucleotide-shuffled (shared). A palindromic motif (its consensus is its own reverse
    complement) has no orientation and is refused. Scoreable on data generated with ``--rc-prob``.
    """

    test_name = "strand"
    n_motifs = 2
    feature = "orientation"
    description = "a pair (or one motif) inserted on each strand combination (a profile)"
    parameters = InsertionTest.parameters + (
        Param("gap", int, 4, "gap between the pair's motifs in bp", low=0),
        Param("single", bool, False, "one motif per unit (+ / -) instead of a pair"),
    )

    def __init__(self, **params):
        super().__init__(**params)
        self.n_motifs = 1 if self.params["single"] else 2

    def check_motifs(self, names, pwms):
        from motifprobe.engine.sequences import decode

        for name in names:
            if is_palindrome(pwms[name]):
                cons = decode(consensus(pwms[name])[None, :])[0]
                raise MotifprobeError(f"test 'strand': motif {name!r} is palindromic (its consensus {cons} equals its "
                                      "reverse complement), so its strands cannot be told apart; allowed: "
                                      "non-palindromic motifs")

    def layout(self, length, lengths):
        if len(lengths) == 1:
            (la,) = lengths
            if la > length:
                raise MotifprobeError(f"test 'strand': the motif ({la} bp) does not fit in {length} bp")
            start = (length - la) // 2
            points = [Point(s, None, s, "", CONTROL_ARM, (Placement(0, start, s),)) for s in ("+", "-")]
            return points, {CONTROL_ARM: (Placement(0, start),)}
        la, lb = lengths
        gap = self.params["gap"]
        if la + gap + lb > length:
            raise MotifprobeError(f"test 'strand': gap {gap} does not fit: the motifs ({la} and {lb} bp) need "
                                  f"{la + lb + gap} bp and the sequences are {length} bp; allowed: gap <= "
                                  f"{max(length - la - lb, 0)}")
        start = (length - (la + gap + lb)) // 2
        points = [Point(s, None, s, "AB", CONTROL_ARM,
                        (Placement(0, start, s[0]), Placement(1, start + la + gap, s[1]))) for s in STRANDS_PAIR]
        return points, {CONTROL_ARM: (Placement(0, start), Placement(1, start + la + gap))}


@hookimpl
def register_perturbation_tests(register):
    register("strand", StrandTest)
