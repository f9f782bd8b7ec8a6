"""``position``: one motif inserted at places along the background: the position profile."""
from __future__ import annotations

from motifprobe import Param, hookimpl
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.insertion import InsertionTest, Placement, Point


class PositionTest(InsertionTest):
    """The motif inserted with its start at ``0, step, 2 step, ...`` up to the last start that fits
    (``point`` is the start in bp). Each position has its own control: the motif's bases
    dinucleotide-shuffled at the same place (a model that reads composition near the centre
    changes with both). A model that only looks at the centre gives a peaked curve.
    """

    test_name = "position"
    n_motifs = 1
    feature = "position"
    description = "one motif inserted at positions along the sequence (a profile)"
    parameters = InsertionTest.parameters + (
        Param("step", int, 10, "distance between tested starts in bp", low=1),
    )

    def layout(self, length, lengths):
        (la,) = lengths
        if la > length:
            raise MotifprobeError(f"test 'position': the motif ({la} bp) does not fit in {length} bp")
        points, controls = [], {}
        for start in range(0, length - la + 1, self.params["step"]):
            name = f"control:{start}"
            points.append(Point(str(start), float(start), str(start), "", name, (Placement(0, start),)))
            controls[name] = (Placement(0, start),)
        return points, controls


@hookimpl
def register_perturbation_tests(register):
    register("position", PositionTest)
