"""Insertion experiments: motifs written into background sequences at controlled places.

An *insertion test* (:class:`InsertionTest`) asks how the model's prediction changes when a
motif, or a pair, is inserted into sequences that do not otherwise carry it, as a function of
one geometric variable: the gap between two motifs (``spacing``), their strands (``strand``),
the number of copies (``dosage``) or where one sits (``position``). It runs on the ordinary
plan -> run -> summarize path with three differences:

- plan takes any rows (no sites or labels needed) and samples at most ``n_backgrounds`` of them
  by a keyed choice (the same ids for every insertion test of a run, in any subset);
- run replaces each row by a *background* drawn from it with keyed streams (``backgrounds``:
  ``dinuc-shuffle`` of the row's own bases (default), ``shuffle``, ``background`` (i.i.d. from
  the dataset's base composition) or ``dataset-negatives`` (label-0 rows as they are)), and
  scores the model on the background as the reference;
- every arm is one *point* of the profile: the background with the motif(s) inserted (``insert``:
  the PWM's ``consensus``, or a ``sample`` drawn from the PWM per background), and the control is
  the same insertion with each motif's bases dinucleotide-shuffled (per background).

A point's effect is (arm - background) - (control - background) on the probability scale,
paired per background: the change of P(class 1) that the motif's *arrangement* causes beyond
writing the same bases in another order. + means inserting raises the prediction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.ops import dinuc_shuffle_windows, refill_windows, shuffle_windows
from motifprobe.engine.params import Param
from motifprobe.engine.perturbation import PerturbationTest, Scorer, TestBatch, score_change
from motifprobe.engine.sequences import N_CODE, bases_from_uniform, reverse_complement
from motifprobe.engine.streams import RowStreams, context_key, row_keys

BACKGROUND_KINDS = ("dinuc-shuffle", "shuffle", "background", "dataset-negatives")
INSERT_MODES = ("consensus", "sample")
DEFAULT_BACKGROUNDS = 500
CONTROL_ARM = "control"


@dataclass(frozen=True)
class Placement:
    """One motif written at ``start`` on ``strand`` (``+`` or ``-``); ``motif`` indexes the unit's motifs."""

    motif: int
    start: int
    strand: str = "+"


@dataclass(frozen=True)
class Point:
    """One point of a profile: an arm of the test.

    ``point`` is the profile's x value (gap bp, copies, position bp; None for orientation),
    ``label`` how it is shown, ``order`` ``AB``/``BA`` for a pair in spacing ("" otherwise),
    ``control`` the arm the point is read against, ``placements`` what is inserted where.
    """

    arm: str
    point: float | None
    label: str
    order: str = ""
    control: str = CONTROL_ARM
    placements: tuple[Placement, ...] = field(default_factory=tuple)

    def record(self) -> dict[str, Any]:
        """The point as plain data (the unit record's ``profile`` list)."""
        return {"arm": self.arm, "point": self.point, "label": self.label, "order": self.order,
                "control": self.control}


class InsertionTest(PerturbationTest):
    """Base class of insertion tests: a subclass writes :meth:`layout`.

    ``layout(length, lengths)`` returns the profile's points (one arm each) and the control
    arms ``{name: placements}`` for sequences of ``length`` and motifs of ``lengths``; it raises
    :class:`MotifprobeError` (one line naming the value and what is allowed) when a point does
    not fit. The base class draws the inserted bases, writes the arms and the shuffled controls.
    """

    insertion: ClassVar[bool] = True
    deterministic = True
    control = CONTROL_ARM
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("backgrounds", str, "dinuc-shuffle", "what the motifs are inserted into", choices=BACKGROUND_KINDS),
        Param("insert", str, "consensus", "inserted bases: the PWM's consensus or a sample from it per background",
              choices=INSERT_MODES),
        Param("n_backgrounds", int, DEFAULT_BACKGROUNDS, "backgrounds per point (at most the dataset's rows)", low=1),
    )

    test_name: ClassVar[str] = "insertion"
    """The registered name, for messages."""

    def layout(self, length: int, lengths: tuple[int, ...]) -> tuple[list[Point], dict[str, tuple[Placement, ...]]]:
        """The points and the control arms for sequences of ``length`` and motifs of ``lengths``."""
        raise NotImplementedError

    def check_motifs(self, names: tuple[str, ...], pwms: dict[str, np.ndarray]) -> None:
        """Refuse motifs the profile cannot use (e.g. a palindrome for an orientation profile)."""

    def prepare(self, length: int, motifs: tuple[str, ...], pwms: dict[str, np.ndarray]) -> list[Point]:
        """Check the motifs, lay the profile out for ``length`` bp and fix the primary arm (the
        first point). Called by the engine before any arm is built; raises MotifprobeError."""
        self.check_motifs(tuple(motifs), pwms)
        lengths = tuple(int(np.asarray(pwms[m]).shape[0]) for m in motifs)
        self._points, self._controls = self.layout(int(length), lengths)
        self._prepared = (int(length), lengths)
        self.primary_arm = self._points[0].arm
        if self._points[0].control != CONTROL_ARM:  # per-point controls: the unit's own numbers read the first
            self.control = self._points[0].control
        return self._points

    # -- the arms -----------------------------------------------------------------------------
    def _layout_for(self, batch: TestBatch) -> tuple[list[Point], dict[str, tuple[Placement, ...]]]:
        if not batch.pwms:  # a batch built outside the engine (a conformance check): ENCODE names
            batch.pwms = motif_pwms({}, batch.motifs)
        lengths = tuple(int(np.asarray(batch.pwms[m]).shape[0]) for m in batch.motifs)
        if getattr(self, "_prepared", None) != (int(batch.codes.shape[1]), lengths):
            self.prepare(int(batch.codes.shape[1]), batch.motifs, batch.pwms)
        return self._points, self._controls

    def _instances(self, batch: TestBatch, rng) -> list[np.ndarray]:
        """The inserted bases of each motif, (n, len) per motif; shared by the arms and the controls."""
        key = ("insert", self.params.get("insert"))
        if key not in batch._bounds:
            batch._bounds[key] = motif_instances(batch.pwms, batch.motifs, len(batch), self.params["insert"], rng)
        return batch._bounds[key]

    def perturb(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        points, _ = self._layout_for(batch)
        inst = self._instances(batch, rng)
        return {p.arm: insert(batch.codes, inst, p.placements)[:, None, :] for p in points}

    def controls(self, batch: TestBatch, rng: np.random.Generator) -> dict[str, np.ndarray]:
        _, controls = self._layout_for(batch)
        inst = self._instances(batch, rng)
        shuffled = [dinuc_shuffle_windows(x, rng) for x in inst]
        return {name: insert(batch.codes, shuffled, placed)[:, None, :] for name, placed in controls.items()}

    def deltas(self, arms: dict[str, np.ndarray], original: np.ndarray, batch: TestBatch,
               scorer: Scorer) -> np.ndarray:
        """The unit's one number per background: the mean change over every point's arm."""
        names = [p.arm for p in self._points] if getattr(self, "_points", None) else list(arms)
        return np.mean([score_change(arms[a], original, batch.labels, scorer) for a in names], axis=0)


# -- primitives ---------------------------------------------------------------------------------
def insert(codes: np.ndarray, instances: list[np.ndarray], placements: tuple[Placement, ...]) -> np.ndarray:
    """Copies of ``codes`` (n, L) with each placement's motif bases written in, all rows at once.

    ``instances[m]`` holds motif m's bases per row (n, len); a ``-`` strand writes the reverse
    complement. Later placements overwrite earlier ones where they overlap.
    """
    out = np.array(codes, dtype=np.uint8, copy=True)
    for place in placements:
        bases = instances[place.motif]
        if place.strand == "-":
            bases = reverse_complement(bases)
        width = bases.shape[1]
        if place.start < 0 or place.start + width > out.shape[1]:
            raise ValueError(f"placement {place} does not fit in {out.shape[1]} bp")
        out[:, place.start:place.start + width] = bases
    return out


def motif_instances(pwms: dict[str, np.ndarray], motifs: tuple[str, ...], n: int, mode: str, rng) -> list[np.ndarray]:
    """Bases to insert, (n, len) uint8 per motif: the consensus on every row, or one PWM sample
    per row drawn from ``rng`` (keyed per row when it is a :class:`RowStreams`)."""
    out = []
    for name in motifs:
        pwm = np.asarray(pwms[name], dtype=np.float64)
        if mode == "consensus":
            out.append(np.broadcast_to(pwm.argmax(axis=1).astype(np.uint8), (n, pwm.shape[0])).copy())
            continue
        if mode != "sample":
            raise MotifprobeError(f"insert {mode!r} is not allowed; allowed: {', '.join(INSERT_MODES)}")
        cdf = np.cumsum(pwm, axis=1)
        cdf[:, -1] = 1.0
        u = rng.random((n, pwm.shape[0]))
        out.append((u[:, :, None] >= cdf[None, :, :]).sum(axis=2).astype(np.uint8))
    return out


def consensus(pwm: np.ndarray) -> np.ndarray:
    """The consensus codes (len,) of a PWM."""
    return np.asarray(pwm).argmax(axis=1).astype(np.uint8)


def is_palindrome(pwm: np.ndarray) -> bool:
    """True when the consensus equals its own reverse complement."""
    cons = consensus(pwm)
    return bool(np.array_equal(cons, reverse_complement(cons)))


def draw_backgrounds(kind: str, codes: np.ndarray, lengths: np.ndarray, background: np.ndarray,
                     rng: RowStreams) -> np.ndarray:
    """One background per row (n, L) from ``codes``, with the rows' keyed streams.

    ``dinuc-shuffle`` / ``shuffle`` shuffle each row's own first ``length`` bases (dinucleotide
    counts kept / composition kept); ``background`` draws i.i.d. bases from ``background``;
    ``dataset-negatives`` returns the rows as they are. Padding beyond a row's length stays N.
    """
    codes = np.asarray(codes, dtype=np.uint8)
    n, length = codes.shape
    if kind == "dataset-negatives":
        return codes.copy()
    if kind == "background":
        inside = np.arange(length)[None, :] < np.asarray(lengths)[:, None]
        out = np.full(codes.shape, N_CODE, dtype=np.uint8)
        out[inside] = bases_from_uniform(rng.random_masked(inside), background)
        return out
    if kind in ("dinuc-shuffle", "shuffle"):
        shuffle = dinuc_shuffle_windows if kind == "dinuc-shuffle" else shuffle_windows
        rows = np.arange(n)
        return refill_windows(codes, rows, np.zeros(n, np.int64), np.asarray(lengths, np.int64), 1, shuffle,
                              rng)[:, 0, :]
    raise MotifprobeError(f"backgrounds {kind!r} is not allowed; allowed: {', '.join(BACKGROUND_KINDS)}")


def background_rows(dataset: Any, kind: str, n: int, seed: int) -> np.ndarray:
    """Rows of ``dataset`` the backgrounds come from: at most ``n``, chosen by a keyed hash of
    each id (a row's inclusion depends on its id and the seed, never on the order), in dataset order.

    Full-length rows only (a background must hold every inserted base); ``dataset-negatives``
    takes label-0 rows.
    """
    ok = np.asarray(dataset.lengths) == dataset.seq_length
    if kind == "dataset-negatives":
        if not np.any(dataset.labels >= 0):
            raise MotifprobeError("backgrounds 'dataset-negatives' needs labels, and the dataset has none; "
                                  f"allowed without labels: {', '.join(k for k in BACKGROUND_KINDS if k != 'dataset-negatives')}")
        ok &= dataset.labels == 0
        if not ok.any():
            raise MotifprobeError("backgrounds 'dataset-negatives': the dataset has no full-length label-0 sequence")
    candidates = np.flatnonzero(ok)
    if len(candidates) <= n:
        return candidates
    keys = row_keys(context_key("backgrounds", seed), dataset.ids[candidates])
    chosen = np.argsort(keys, kind="stable")[:n]
    return np.sort(candidates[chosen])


def background_dataset(unit: Any, rows: Any, seed: int, background: np.ndarray) -> Any:
    """The unit's rows with their codes replaced by backgrounds (keyed by seed and id only, so
    every insertion test of a run sees the same background of a row), no sites, no labels
    (``dataset-negatives`` keeps its labels 0)."""
    from motifprobe.engine.dataset import Dataset, empty_sites

    kind = unit.params.get("backgrounds", "dinuc-shuffle")
    streams = RowStreams(row_keys(context_key("background", seed, kind), rows.ids))
    codes = draw_backgrounds(kind, rows.codes, rows.lengths, background, streams)
    labels = rows.labels if kind == "dataset-negatives" else np.full(len(rows), -1, dtype=np.int64)
    return Dataset(rows.ids, codes, labels, empty_sites(), dict(rows.metadata), rows.path, rows.sha256, rows.lengths)


# -- motif matrices -------------------------------------------------------------------------------
def motif_pwms(metadata: dict, names: tuple[str, ...] | list[str]) -> dict[str, np.ndarray]:
    """The PWM of each named motif, from what the dataset records.

    A scanned dataset lists its motifs' source and origin (``metadata['motifs']``): the matrix
    is read back from that source. Otherwise (generated data) a name is an ENCODE motif name.
    """
    from motifprobe.engine.motif_library import load_encode_motifs

    recorded = {e["name"]: e for e in metadata.get("motifs") or [] if isinstance(e, dict) and "name" in e}
    out = {}
    for name in names:
        entry = recorded.get(name)
        if entry is not None and isinstance(entry.get("pwm"), list):
            out[name] = np.asarray(entry["pwm"], dtype=np.float64)
            continue
        if entry is not None and entry.get("source") not in (None, "encode"):
            out[name] = _from_source(name, entry)
            continue
        library = load_encode_motifs()
        origin = entry.get("origin", name) if entry is not None else name
        if origin not in library:
            raise MotifprobeError(f"motif {name!r}: no matrix to insert (not an ENCODE motif and the dataset records "
                                  "no other source for it); insertion tests need the motif's PWM")
        out[name] = library[origin].pwm
    return out


def _from_source(name: str, entry: dict) -> np.ndarray:
    from motifprobe.engine.motif_sources import resolve_spec

    source, origin = entry.get("source"), entry.get("origin") or name
    try:
        kwargs = {"jaspar_release": entry["version"]} if source == "jaspar" and entry.get("version") else {}
        found = resolve_spec(f"{source}:{origin}", **kwargs)
    except MotifprobeError as exc:
        raise MotifprobeError(f"motif {name!r}: its matrix ({source}:{origin}) cannot be read back for insertion: "
                              f"{exc}") from None
    for motif in found:
        if motif.name == name or len(found) == 1:
            return motif.pwm
    raise MotifprobeError(f"motif {name!r}: {source}:{origin} holds no motif of that name")


def with_insertion_options(test_params: dict[str, dict[str, Any]] | None, tests: list[str] | None, registry: Any,
                           **options: Any) -> dict[str, dict[str, Any]]:
    """``test_params`` with ``options`` (``backgrounds``, ``insert``, ``n_backgrounds``; None: not
    given) added to every named insertion test that does not set them itself (the CLI's
    ``--backgrounds``, ``--insert``, ``--num-backgrounds``)."""
    from motifprobe.engine.interpret.plan import is_insertion_test

    out = {k: dict(v) for k, v in (test_params or {}).items()}
    given = {k: v for k, v in options.items() if v is not None}
    if not given:
        return out
    inserting = [name for name in tests or [] if is_insertion_test(registry, name)]
    for name in inserting:
        entry = registry.get("perturbation_test", name)
        key = next((k for k in out if registry.get("perturbation_test", k).name == entry.name), entry.name)
        for option, value in given.items():
            out.setdefault(key, {}).setdefault(option, value)
    if not inserting:
        raise MotifprobeError(f"{', '.join('--' + k.replace('_', '-') for k in given)} set(s) the insertion tests "
                              "(spacing, strand, dosage, position), and none is run; name one with --tests")
    return out

