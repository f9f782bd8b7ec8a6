"""``dosage``: 1..k copies of a motif inserted into backgrounds: the dosage profile."""
from __future__ import annotations

from motifprobe import Param, hookimpl
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.insertion import InsertionTest, Placement, Point


class DosageTest(InsertionTest):
    """``c`` copies of the motif (c = 1..``max_copies``), spread evenly: copy j (of c) centred at
    ``(j + 1) * L / (c + 1)``. Each count has its own control: the same c places with the motif's
    bases dinucleotide-shuffled (so the composition added grows with c in both). Additive,
    saturating or synergistic shows in the curve: the profile table's effect per count.
    """

    test_name = "dosage"
    n_motifs = 1
    feature = "dosage"
    description = "1..k copies of a motif inserted into backgrounds (a profile)"
    parameters = InsertionTest.parameters + (
        Param("max_copies", int, 4, "largest number of copies", low=1),
    )

    def layout(self, length, lengths):
        (la,) = lengths
        k = self.params["max_copies"]
        fits = max(0, length // (la + 1))  # evenly spread copies keep at least one base between them
        if k > fits or k * la > length:
            raise MotifprobeError(f"test 'dosage': max_copies {k} do not fit: {k} copies of a {la} bp motif spread "
                                  f"over {length} bp; allowed: max_copies <= {fits}")
        points, controls = [], {}
        for c in range(1, k + 1):
            starts = [int(round((j + 1) * length / (c + 1) - la / 2)) for j in range(c)]
            starts = [min(max(0, s), length - la) for s in starts]
            placed = tuple(Placement(0, s) for s in starts)
            points.append(Point(str(c), float(c), str(c), "", f"control:{c}", placed))
            controls[f"control:{c}"] = placed
        return points, controls


@hookimpl
def register_perturbation_tests(register):
    register("dosage", DosageTest)
