"""Synthetic datasets with a known rule: the spec, its validation, motif placement and labels.

Generator plugins share this module so that every generator places motifs and labels rows
by the same rules; they differ only in how they draw background and motif bases.

Label rules (computed from the placed positions, never assumed):

- presence: 1 iff every pos motif is present;
- order: 1 iff both pos motifs are present and the first starts before the second;
- distance: 1 iff both are present, in that order, and the gap (bases between the end of the
  first and the start of the second) lies within [min_dist, max_dist].
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import Dataset, first_site_bounds
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.sequences import validate_background

GEN_TYPES = ("presence", "order", "distance")
DEFAULT_BACKGROUND = (0.3, 0.2, 0.2, 0.3)
Progress = Callable[..., None]
DEFAULT_POS_SHARE = {"presence": 0.3, "order": 0.6, "distance": 0.6}


@dataclass
class GenerationSpec:
    """What to generate. See the module docstring for the label rules.

    ``pos_share`` is the share of sequences given every pos motif when there are two or more
    (order: in random order; distance: half inside the window in the right order, a quarter
    with a near-miss gap, a quarter reversed), so positives land near 30-50%. ``None`` picks
    the default for the rule: 0.3 for presence, 0.6 for order and distance.
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
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pos_motifs is None:
            self.pos_motifs = list(self.motifs)
        if self.pos_share is None:
            self.pos_share = DEFAULT_POS_SHARE.get(self.gen_type, 0.6)

    @property
    def rule(self) -> dict[str, Any]:
        """The planted rule as stored in the dataset metadata."""
        return {"gen_type": self.gen_type, "pos_motifs": list(self.pos_motifs),
                "min_dist": int(self.min_dist), "max_dist": int(self.max_dist)}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Generator(Protocol):
    """What a generator plugin's factory returns."""

    def motif_lengths(self, names: list[str]) -> dict[str, int]:
        """Length of each named motif; unknown names raise MotifprobeError."""

    def generate(self, spec: GenerationSpec, *, seed: int, progress: Progress | None = None) -> Dataset:
        """Generate ``spec.num_seqs`` sequences deterministically from ``seed``."""


def validate_spec(spec: GenerationSpec, lengths: dict[str, int]) -> GenerationSpec:
    """Check a spec against the rules and the motif lengths; raise MotifprobeError if bad."""
    if int(spec.num_seqs) < 1:
        raise MotifprobeError(f"num_seqs must be at least 1, got {spec.num_seqs}")
    if int(spec.seq_length) < 1:
        raise MotifprobeError(f"seq_length must be at least 1, got {spec.seq_length}")
    if spec.gen_type not in GEN_TYPES:
        raise MotifprobeError(f"unknown gen_type {spec.gen_type!r}; allowed: {', '.join(GEN_TYPES)}")
    if not spec.motifs:
        raise MotifprobeError("give at least one motif (--motifs)")
    dupes = sorted({m for m in spec.motifs if spec.motifs.count(m) > 1})
    if dupes:
        raise MotifprobeError(f"motif(s) listed twice: {', '.join(dupes)}")
    spec.background = list(validate_background(spec.background))
    for name in spec.pos_motifs:
        if name not in spec.motifs:
            raise MotifprobeError(f"pos motif {name!r} is not among --motifs ({', '.join(spec.motifs)})")
    if not spec.pos_motifs:
        raise MotifprobeError("give at least one pos motif (--pos-motifs)")
    if spec.gen_type in ("order", "distance") and len(spec.pos_motifs) != 2:
        raise MotifprobeError(
            f"gen_type {spec.gen_type} needs exactly 2 pos motifs, got {len(spec.pos_motifs)}: {', '.join(spec.pos_motifs)}")
    if len(set(spec.pos_motifs)) != len(spec.pos_motifs):
        raise MotifprobeError(f"pos motifs must differ, got {', '.join(spec.pos_motifs)}")
    if spec.min_dist < 0 or spec.max_dist < 0:
        raise MotifprobeError(f"min_dist and max_dist must be >= 0, got {spec.min_dist} and {spec.max_dist}")
    if spec.min_dist > spec.max_dist:
        raise MotifprobeError(f"min_dist ({spec.min_dist}) must not exceed max_dist ({spec.max_dist})")
    if not 0.0 <= spec.pos_share <= 1.0:
        raise MotifprobeError(f"pos_share must lie in [0, 1], got {spec.pos_share}")
    total = sum(lengths[m] for m in spec.motifs)
    need = total + (spec.max_dist if spec.gen_type == "distance" else 0)
    if spec.seq_length < need:
        detail = f" plus a gap of up to {spec.max_dist}" if spec.gen_type == "distance" else ""
        raise MotifprobeError(
            f"seq_length {spec.seq_length} is too short to hold the motifs "
            f"({' + '.join(f'{m} {lengths[m]}' for m in spec.motifs)} = {total} bp{detail}); "
            f"use --seq-length {need} or more")
    return spec


def _near_miss_gaps(n: int, spec: GenerationSpec, cap: int, rng: np.random.Generator) -> np.ndarray | None:
    """Gaps just outside [min_dist, max_dist] (either side where there is room), or None."""
    width = max(spec.max_dist - spec.min_dist + 1, 5)
    ranges = []
    if spec.min_dist > 0:
        ranges.append((max(0, spec.min_dist - width), spec.min_dist - 1))
    if cap > spec.max_dist:
        ranges.append((spec.max_dist + 1, min(spec.max_dist + width, cap)))
    if not ranges:
        return None
    lows = np.array([r[0] for r in ranges])
    highs = np.array([r[1] for r in ranges])
    pick = rng.integers(0, len(ranges), size=n)
    return rng.integers(lows[pick], highs[pick] + 1)


def plan_sites(spec: GenerationSpec, lengths: dict[str, int], num_seqs: int, rng: np.random.Generator) -> pd.DataFrame:
    """Choose which motifs each sequence carries and where, without overlaps.

    Each motif is present with probability 1/2; for two or more pos motifs a ``pos_share`` of
    sequences gets all of them (see :class:`GenerationSpec`). Blocks are put in random order
    with random spacers (stars and bars), which is uniform over non-overlapping layouts.

    Returns
    -------
    pandas.DataFrame
        Site table (``seq``, ``name``, ``start``, ``end``, ``strand``), sorted.
    """
    names = list(spec.motifs)
    n, m, seq_len = num_seqs, len(names), int(spec.seq_length)
    mlen = np.array([lengths[x] for x in names], dtype=np.int64)
    present = rng.random((n, m)) < 0.5
    pos_idx = [names.index(p) for p in spec.pos_motifs]
    if len(pos_idx) >= 2:
        forced = rng.random(n) < spec.pos_share
        present[np.ix_(forced, pos_idx)] = True
    else:
        forced = np.zeros(n, dtype=bool)
    block = np.where(present, mlen[None, :], 0)

    # Distance data: the forced pair is placed as one block, first + gap + second.
    paired = forced & (spec.gen_type == "distance")
    first_col = np.full(n, pos_idx[0] if pos_idx else 0)
    second_col = np.full(n, pos_idx[1] if len(pos_idx) > 1 else 0)
    gap = np.zeros(n, dtype=np.int64)
    if paired.any():
        k = int(paired.sum())
        cap = seq_len - int(mlen.sum())
        kind = rng.random(k)
        inside = rng.integers(spec.min_dist, spec.max_dist + 1, size=k)
        near = _near_miss_gaps(k, spec, cap, rng)
        near_miss = (kind >= 0.5) & (kind < 0.75) & (near is not None)
        reverse = (kind >= 0.75) | ((kind >= 0.5) & (near is None))
        gaps = np.where(near_miss, near if near is not None else 0, inside)
        rows = np.flatnonzero(paired)
        gap[rows] = gaps
        swap = rows[reverse]
        first_col[swap], second_col[swap] = second_col[swap], first_col[swap]
        block[rows, first_col[rows]] = mlen[first_col[rows]] + gaps + mlen[second_col[rows]]
        block[rows, second_col[rows]] = 0

    order = np.argsort(rng.random((n, m)), axis=1)
    block_perm = np.take_along_axis(block, order, axis=1)
    free = seq_len - block_perm.sum(axis=1)
    spacers = np.sort(rng.integers(0, free[:, None] + 1, size=(n, m)), axis=1)
    before = np.cumsum(block_perm, axis=1) - block_perm
    start_perm = spacers + before
    start = np.empty_like(start_perm)
    np.put_along_axis(start, order, start_perm, axis=1)

    rows_all = np.arange(n)
    if paired.any():
        rows = np.flatnonzero(paired)
        start[rows, second_col[rows]] = start[rows, first_col[rows]] + mlen[first_col[rows]] + gap[rows]
    seq_i, mot_i = np.nonzero(present)
    starts = start[seq_i, mot_i]
    sites = pd.DataFrame({
        "seq": rows_all[seq_i].astype(np.int64),
        "name": np.asarray(names, dtype=object)[mot_i],
        "start": starts.astype(np.int64),
        "end": (starts + mlen[mot_i]).astype(np.int64),
        "strand": np.full(len(seq_i), "+", dtype=object),
    })
    return sites.sort_values(["seq", "start"], kind="stable").reset_index(drop=True)


def compute_labels(sites: pd.DataFrame, num_seqs: int, rule: dict[str, Any]) -> np.ndarray:
    """Apply the planted rule to recorded sites (first instance of each motif) -> 0/1 labels."""
    bounds = [first_site_bounds(sites, name, num_seqs) for name in rule["pos_motifs"]]
    label = np.ones(num_seqs, dtype=bool)
    for start, _ in bounds:
        label &= start >= 0
    if rule["gen_type"] in ("order", "distance"):
        (sa, ea), (sb, _) = bounds
        label &= sa < sb
        if rule["gen_type"] == "distance":
            gap = sb - ea
            label &= (gap >= rule["min_dist"]) & (gap <= rule["max_dist"])
    return label.astype(np.int64)


def write_motifs(codes: np.ndarray, sites: pd.DataFrame, name: str, bases: np.ndarray) -> None:
    """Write sampled motif ``bases`` (n_sites, len) into ``codes`` at the sites of ``name``."""
    rows = sites[sites["name"] == name]
    if len(rows) == 0:
        return
    cols = rows["start"].to_numpy()[:, None] + np.arange(bases.shape[1])[None, :]
    codes[rows["seq"].to_numpy()[:, None], cols] = bases


def finish_dataset(spec: GenerationSpec, codes: np.ndarray, sites: pd.DataFrame, *, generator: str, seed: int,
                   id_offset: int = 0) -> Dataset:
    """Label the rows by the planted rule and attach the metadata every generator writes."""
    n = codes.shape[0]
    labels = compute_labels(sites, n, spec.rule)
    ids = np.array([f"seq{i:07d}" for i in range(id_offset, id_offset + n)], dtype=object)
    params = {k: v for k, v in spec.to_dict().items() if k != "background"}
    metadata = {"generator": generator, "parameters": params, "seed": int(seed),
                "background": [float(x) for x in spec.background], "rule": spec.rule}
    return Dataset(ids, codes, labels, sites, metadata)
