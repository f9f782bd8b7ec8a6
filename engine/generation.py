"""Synthetic datasets with a known rule: the spec, its validation, motif placement and labels.

Generator plugins share this module so that every generator places motifs and labels rows
the same way; they differ only in how they draw background and motif bases. What depends on
the planted grammar (how many pos motifs, the layout that gives both classes, the label of each
sequence) belongs to the rule plugin named by ``gen_type`` (see :mod:`motifprobe.engine.rules`);
this module only calls it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.rules import Rule, make_rule, rule_from_dict
from motifprobe.engine.params import declared_params
from motifprobe.engine.sequences import reverse_complement, validate_background

DEFAULT_BACKGROUND = (0.3, 0.2, 0.2, 0.3)
Progress = Callable[..., None]


@dataclass
class GenerationSpec:
    """What to generate.

    ``gen_type`` names a registered rule (``motifprobe plugins`` lists them); ``rule_params``
    are its parameters, and ``min_dist``/``max_dist`` reach a rule that declares them (the
    ``distance`` rule). ``pos_share`` is the rule's layout knob (None: the rule's default; for
    the built-ins the share of sequences given every pos motif, or for ``any`` the share of
    positives). ``rc_prob`` is the probability that a site is planted on the minus strand (its
    bases the reverse complement of a PWM sample); 0 plants everything on the plus strand.
    """

    num_seqs: int = 10_000
    seq_length: int = 200
    gen_type: str = "order"
    motifs: list[str] = field(default_factory=lambda: ["STAT_known2", "CTCF_known1"])
    pos_motifs: list[str] | None = None
    background: list[float] = field(default_factory=lambda: list(DEFAULT_BACKGROUND))
    min_dist: int = 0
    max_dist: int = 10
    pos_share: float | None = None
    rc_prob: float = 0.0
    rule_params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pos_motifs is None:
            self.pos_motifs = list(self.motifs)
        self._rule: Rule | None = None

    def make_rule(self) -> Rule:
        """The rule object (built once; raises MotifprobeError for a bad rule or parameters)."""
        if self._rule is None:
            from motifprobe.engine.registry import get_registry

            entry = get_registry().get("rule", self.gen_type)
            declared = {p.name for p in declared_params(entry.factory)}
            params = {k: getattr(self, k) for k in ("min_dist", "max_dist") if k in declared}
            params.update(self.rule_params or {})
            self._rule = make_rule(entry.name, list(self.pos_motifs or []), params)
            if self.pos_share is None:
                self.pos_share = float(self._rule.default_pos_share)
        return self._rule

    @property
    def rule(self) -> dict[str, Any]:
        """The planted rule as stored in the dataset metadata."""
        return self.make_rule().to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


class Generator(Protocol):
    """What a generator plugin's factory returns."""

    def motif_lengths(self, names: list[str]) -> dict[str, int]:
        """Length of each named motif; unknown names raise MotifprobeError."""

    def generate(self, spec: GenerationSpec, *, seed: int, progress: Progress | None = None) -> Dataset:
        """Generate ``spec.num_seqs`` sequences deterministically from ``seed``."""


def validate_spec(spec: GenerationSpec, lengths: dict[str, int]) -> GenerationSpec:
    """Check a spec, its rule and the motif lengths; raise MotifprobeError if anything is bad."""
    for key in ("num_seqs", "seq_length"):
        value = getattr(spec, key)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
            raise MotifprobeError(f"{key} must be an integer of at least 1, got {value}")
    if not spec.motifs:
        raise MotifprobeError("give at least one motif (--motifs)")
    dupes = sorted({m for m in spec.motifs if spec.motifs.count(m) > 1})
    if dupes:
        raise MotifprobeError(f"motif(s) listed twice: {', '.join(dupes)}")
    spec.background = list(validate_background(spec.background))
    if not spec.pos_motifs:
        raise MotifprobeError("give at least one pos motif (--pos-motifs)")
    for name in spec.pos_motifs:
        if name not in spec.motifs:
            raise MotifprobeError(f"pos motif {name!r} is not among --motifs ({', '.join(spec.motifs)})")
    rule = spec.make_rule()
    if not 0.0 <= float(spec.pos_share) <= 1.0:
        raise MotifprobeError(f"pos_share must lie in [0, 1], got {spec.pos_share}")
    if not 0.0 <= float(spec.rc_prob) <= 1.0:
        raise MotifprobeError(f"rc_prob must lie in [0, 1], got {spec.rc_prob}")
    need = rule.min_length(lengths, spec.motifs)
    if spec.seq_length < need:
        raise MotifprobeError(
            f"seq_length {spec.seq_length} is too short for rule {rule.name!r} with motifs "
            f"{' + '.join(f'{m} {lengths[m]}' for m in spec.motifs)} bp; use --seq-length {need} or more")
    return spec


def place_sites(names: list[str], mlen: np.ndarray, seq_length: int, present: np.ndarray, rng: np.random.Generator,
                pairs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Put the ``present`` motifs of every row at random non-overlapping places.

    Blocks are put in random order with random spacers (stars and bars), which is uniform over
    non-overlapping layouts. ``pairs`` = ``(rows, first_col, second_col, gap)`` glues two
    motifs of those rows into one block, first + gap + second.

    Returns
    -------
    pandas.DataFrame
        Site table (``seq``, ``name``, ``start``, ``end``, ``strand``), sorted; strands ``+``.
    """
    n, m = present.shape
    block = np.where(present, mlen[None, :], 0)
    if pairs is not None:
        rows, first, second, gap = pairs
        block[rows, first] = mlen[first] + gap + mlen[second]
        block[rows, second] = 0
    order = np.argsort(rng.random((n, m)), axis=1)
    block_perm = np.take_along_axis(block, order, axis=1)
    free = seq_length - block_perm.sum(axis=1)
    spacers = np.sort(rng.integers(0, free[:, None] + 1, size=(n, m)), axis=1)
    before = np.cumsum(block_perm, axis=1) - block_perm
    start = np.empty_like(spacers)
    np.put_along_axis(start, order, spacers + before, axis=1)
    if pairs is not None:
        start[rows, second] = start[rows, first] + mlen[first] + gap
    seq_i, mot_i = np.nonzero(present)
    starts = start[seq_i, mot_i]
    sites = pd.DataFrame({
        "seq": seq_i.astype(np.int64),
        "name": np.asarray(names, dtype=object)[mot_i],
        "start": starts.astype(np.int64),
        "end": (starts + mlen[mot_i]).astype(np.int64),
        "strand": np.full(len(seq_i), "+", dtype=object),
    })
    return sites.sort_values(["seq", "start"], kind="stable").reset_index(drop=True)


def plan_sites(spec: GenerationSpec, lengths: dict[str, int], num_seqs: int, rng: np.random.Generator) -> pd.DataFrame:
    """Choose which motifs each sequence carries, where, and on which strand.

    The rule lays the sites out (:meth:`Rule.plan`); then each site goes on the minus strand
    with probability ``spec.rc_prob`` (no draw at all when it is 0, so plus-strand data is
    unchanged by the option's existence).

    Returns
    -------
    pandas.DataFrame
        Site table (``seq``, ``name``, ``start``, ``end``, ``strand``), sorted.
    """
    sites = spec.make_rule().plan(spec, lengths, num_seqs, rng)
    if spec.rc_prob and len(sites):
        minus = rng.random(len(sites)) < float(spec.rc_prob)
        sites["strand"] = np.where(minus, "-", "+").astype(object)
    return sites


def compute_labels(sites: pd.DataFrame, num_seqs: int, rule: dict[str, Any] | Rule) -> np.ndarray:
    """Apply the planted rule (a Rule or its metadata dict) to recorded sites -> 0/1 labels."""
    rule = rule if isinstance(rule, Rule) else rule_from_dict(rule)
    labels = np.asarray(rule.labels(sites, num_seqs))
    if labels.shape != (num_seqs,) or not np.isin(labels, (0, 1)).all():
        raise MotifprobeError(f"rule {rule.name!r} returned labels of shape {labels.shape} or outside 0/1")
    return labels.astype(np.int64)


def write_motifs(codes: np.ndarray, sites: pd.DataFrame, name: str, bases: np.ndarray) -> None:
    """Write sampled motif ``bases`` (n_sites, len) into ``codes`` at the sites of ``name``.

    Sites on the minus strand get the reverse complement of their sample.
    """
    rows = sites[sites["name"] == name]
    if len(rows) == 0:
        return
    minus = (rows["strand"] == "-").to_numpy()
    if minus.any():
        bases = bases.copy()
        bases[minus] = reverse_complement(bases[minus])
    cols = rows["start"].to_numpy()[:, None] + np.arange(bases.shape[1])[None, :]
    codes[rows["seq"].to_numpy()[:, None], cols] = bases


def finish_dataset(spec: GenerationSpec, codes: np.ndarray, sites: pd.DataFrame, *, generator: str, seed: int,
                   id_offset: int = 0) -> Dataset:
    """Label the rows by the planted rule and attach the metadata every generator writes."""
    n = codes.shape[0]
    labels = compute_labels(sites, n, spec.make_rule())
    ids = np.array([f"seq{i:07d}" for i in range(id_offset, id_offset + n)], dtype=object)
    params = {k: v for k, v in spec.to_dict().items() if k != "background"}
    metadata = {"generator": generator, "parameters": params, "seed": int(seed),
                "background": [float(x) for x in spec.background], "rule": spec.rule}
    return Dataset(ids, codes, labels, sites, metadata)
