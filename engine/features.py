"""Features: the shared vocabulary between perturbation tests and rules.

A perturbation test declares the one feature of motif grammar it probes (``feature = "order"``);
a rule says, for a feature and a motif set, what a model that learned the rule should show.
The scorecard meets the two there, so a new test and a new rule work together without either
knowing the other.

Sign convention (loss mode): a delta is perturbed loss minus original loss, so ``+1`` means the
perturbation hurt the model (it relied on what was destroyed) and ``-1`` means it helped.
"""
from __future__ import annotations

from dataclasses import dataclass

FEATURES: dict[str, str] = {
    "presence": "the motif being there at all",
    "order": "which of two motifs comes first",
    "spacing": "how far apart motifs are",
    "interaction": "motifs combining non-additively (AND-like: negative; OR-like: positive)",
    "orientation": "the strand a motif is on",
    "dosage": "how many copies of a motif there are",
    "position": "where in the sequence a motif sits",
}
CONTROL = "control"
"""The feature of a sham test: it probes nothing, so any call it makes is a false call."""


@dataclass(frozen=True)
class Expectation:
    """What a rule implies for one feature and motif set.

    Attributes
    ----------
    status : {'effect', 'none', 'confounded'}
        ``effect``: a model that learned the rule shows an effect; ``none``: it does not;
        ``confounded``: the perturbation changes the true label in ways the test does not
        control, so neither outcome says anything.
    sign : {+1, -1, 0}
        For ``effect``, the expected direction in loss mode (0: either direction).
    reason : str
        One line: why.
    """

    status: str
    sign: int = 0
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status not in ("effect", "none", "confounded"):
            raise ValueError(f"Expectation status must be effect, none or confounded, got {self.status!r}")
        if self.sign not in (-1, 0, 1):
            raise ValueError(f"Expectation sign must be -1, 0 or +1, got {self.sign!r}")

    @property
    def symbol(self) -> str:
        """``+``, ``-``, ``±`` for an effect; empty otherwise."""
        return {1: "+", -1: "-", 0: "±"}[self.sign] if self.status == "effect" else ""


def effect(sign: int, reason: str = "") -> Expectation:
    """An expected effect with ``sign`` (+1, -1, or 0 for either)."""
    return Expectation("effect", sign, reason)


def no_effect(reason: str = "") -> Expectation:
    """No effect expected."""
    return Expectation("none", 0, reason)


def confounded(reason: str = "") -> Expectation:
    """The test cannot say anything about the rule here."""
    return Expectation("confounded", 0, reason)
