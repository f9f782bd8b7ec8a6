"""Rules: the grammar planted in a synthetic dataset, as plugins.

A rule owns everything that depends on the grammar: its parameters and their validation (how
many pos motifs, distances, ...), how sites are laid out so that both classes are well
represented, each sequence's label computed from its planted sites, and what it implies for
interpretation (:meth:`Rule.expects`, in the vocabulary of :mod:`motifprobe.engine.features`).
Nothing outside a rule branches on the rule's name.

A rule is stored in the dataset metadata as ``{"name", "pos_motifs", "params"}`` and rebuilt
from there with :func:`rule_from_dict` (which also reads the older ``gen_type`` form).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from motifprobe.engine.dataset import first_site_bounds
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.features import Expectation, no_effect
from motifprobe.engine.params import Param, declared_params, resolve
from motifprobe.engine.sites import instance_pairs, rows_with

if TYPE_CHECKING:
    from motifprobe.engine.generation import GenerationSpec
    from motifprobe.engine.registry import Registry


class Rule:
    """Base class for rule plugins (subclassing is the easy way; the methods are the contract).

    ``factory(pos_motifs, **params)`` builds one; ``__init__`` validates the motifs' count and
    the declared ``parameters``, raising :class:`MotifprobeError` with one line.

    Attributes
    ----------
    name : str
        The registered name (set by the registry; a class attribute gives the default).
    description : str
        One line for ``motifprobe plugins``.
    parameters : tuple of Param
        Declared parameters (``generate --rule-param KEY=VALUE``).
    min_pos_motifs, max_pos_motifs : int, int or None
        How many pos motifs the rule takes.
    default_pos_share : float
        The layout knob ``pos_share`` when the user gives none (see :meth:`draw_presence`).
    """

    name: str = "rule"
    description: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = ()
    min_pos_motifs: ClassVar[int] = 1
    max_pos_motifs: ClassVar[int | None] = None
    default_pos_share: ClassVar[float] = 0.6

    def __init__(self, pos_motifs: Sequence[str], **params: Any) -> None:
        self.pos_motifs = tuple(str(m) for m in pos_motifs)
        owner = f"rule {self.name!r}"
        if len(set(self.pos_motifs)) != len(self.pos_motifs):
            raise MotifprobeError(f"{owner}: pos motifs must differ, got {', '.join(self.pos_motifs)}")
        lo, hi = self.min_pos_motifs, self.max_pos_motifs
        if len(self.pos_motifs) < lo or (hi is not None and len(self.pos_motifs) > hi):
            need = f"exactly {lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            raise MotifprobeError(f"{owner} needs {need} pos motif(s), got {len(self.pos_motifs)}: "
                                  f"{', '.join(self.pos_motifs) or '(none)'}")
        self.params = resolve(declared_params(type(self)), params, owner)
        self.check_params()

    # -- what a rule plugin overrides ------------------------------------------------------
    def check_params(self) -> None:
        """Cross-parameter checks beyond each parameter's own range (raise MotifprobeError)."""

    def min_length(self, lengths: dict[str, int], motifs: Sequence[str]) -> int:
        """Shortest sequence that holds every motif in ``motifs`` in this rule's layout."""
        return int(sum(lengths[m] for m in motifs))

    def labels(self, sites: pd.DataFrame, num_seqs: int) -> np.ndarray:
        """Label of each of ``num_seqs`` sequences (int64 0/1) from its planted ``sites``."""
        raise NotImplementedError

    def expects(self, feature: str, motifs: tuple[str, ...]) -> Expectation:
        """What a model that learned this rule shows when a test of ``feature`` perturbs ``motifs``."""
        return no_effect()

    def profile_window(self, feature: str, motifs: tuple[str, ...]) -> tuple[int, int] | None:
        """For a profile of ``feature`` over ``motifs`` (an insertion test, e.g. ``spacing``), the
        inclusive range of the profile's x values (gap in bp, ...) where a model that learned the
        rule responds, with the motifs in the rule's own order (``pos_motifs``); None when the
        rule states none (default). The scorecard reads a profile's peak against it."""
        return None

    def draw_presence(self, names: list[str], n: int, pos_share: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Which motifs each sequence carries: bool (n, m), and which rows were forced (n,).

        Default: every motif with probability 1/2; with two or more pos motifs, a ``pos_share``
        of the rows gets all of them (so AND/order rules have enough positives).
        """
        present = rng.random((n, len(names))) < 0.5
        pos_idx = [names.index(p) for p in self.pos_motifs]
        forced = np.zeros(n, dtype=bool)
        if len(pos_idx) >= 2:
            forced = rng.random(n) < pos_share
            present[np.ix_(forced, pos_idx)] = True
        return present, forced

    def draw_pairs(self, names: list[str], lengths: np.ndarray, forced: np.ndarray, seq_length: int,
                   rng: np.random.Generator):
        """Pairs of motifs placed as one block with a chosen gap, or None (the default).

        Returns ``(rows, first_col, second_col, gap)`` arrays for rows whose first and second
        motif (column indices into ``names``) must sit ``gap`` bases apart, first on the left.
        """
        return None

    def plan(self, spec: "GenerationSpec", lengths: dict[str, int], n: int, rng: np.random.Generator) -> pd.DataFrame:
        """Site table for ``n`` sequences: which motifs, where (see :func:`place_sites`)."""
        from motifprobe.engine.generation import place_sites

        names = list(spec.motifs)
        mlen = np.array([lengths[x] for x in names], dtype=np.int64)
        present, forced = self.draw_presence(names, n, float(spec.pos_share), rng)
        pairs = self.draw_pairs(names, mlen, forced, int(spec.seq_length), rng)
        return place_sites(names, mlen, int(spec.seq_length), present, rng, pairs)

    # -- shared ----------------------------------------------------------------------------
    def first_sites(self, sites: pd.DataFrame, num_seqs: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(start, end) of the first instance of each pos motif per row (-1 where absent)."""
        return [first_site_bounds(sites, name, num_seqs) for name in self.pos_motifs]

    def carried(self, sites: pd.DataFrame, num_seqs: int) -> list[np.ndarray]:
        """Per pos motif, bool (num_seqs,): the rows with at least one instance of it."""
        return [rows_with(sites, name, num_seqs) for name in self.pos_motifs]

    def pos_pairs(self, sites: pd.DataFrame) -> pd.DataFrame:
        """Every (first pos motif, second pos motif) instance pair per row (see
        :func:`motifprobe.engine.sites.instance_pairs`): labels look at all instances."""
        return instance_pairs(sites, self.pos_motifs[0], self.pos_motifs[1])

    def to_dict(self) -> dict[str, Any]:
        """The rule as stored in dataset metadata."""
        return {"name": self.name, "pos_motifs": list(self.pos_motifs), "params": dict(self.params)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()})"


def make_rule(name: str, pos_motifs: Sequence[str], params: dict[str, Any] | None = None,
              registry: "Registry | None" = None) -> Rule:
    """Build the registered rule ``name`` (or alias) with ``pos_motifs`` and ``params``."""
    from motifprobe.engine.registry import get_registry

    registry = registry or get_registry()
    entry = registry.get("rule", name)
    try:
        rule = entry.factory(list(pos_motifs), **dict(params or {}))
    except MotifprobeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a rule plugin's fault is reported, not raised
        raise MotifprobeError(f"rule {entry.name!r} (plugin {entry.plugin}, {entry.distribution}) failed: "
                              f"{type(exc).__name__}: {exc}") from None
    rule.name = entry.name
    return rule


def rule_from_dict(data: Any, registry: "Registry | None" = None, motifs: Sequence[str] | None = None) -> Rule:
    """Rebuild a rule from dataset metadata; check its motifs against ``motifs`` if given.

    Reads ``{"name", "pos_motifs", "params"}`` and the older ``{"gen_type", "pos_motifs",
    "min_dist", "max_dist"}``.
    """
    if not isinstance(data, dict):
        raise MotifprobeError(f"the planted rule must be a JSON object, got {type(data).__name__}")
    name = data.get("name", data.get("gen_type"))
    if not isinstance(name, str):
        raise MotifprobeError("the planted rule has no name (key 'name')")
    pos = data.get("pos_motifs")
    if not isinstance(pos, list) or not all(isinstance(m, str) for m in pos):
        raise MotifprobeError(f"rule {name!r}: 'pos_motifs' must be a list of motif names, got {pos!r}")
    if "params" in data:
        params = data["params"]
        if not isinstance(params, dict):
            raise MotifprobeError(f"rule {name!r}: 'params' must be a JSON object, got {params!r}")
    else:  # the first format kept distance bounds at the top level
        params = {k: data[k] for k in ("min_dist", "max_dist") if k in data}
    from motifprobe.engine.registry import get_registry

    registry = registry or get_registry()
    entry = registry.get("rule", name)
    declared = {p.name for p in declared_params(entry.factory)}
    if "params" not in data:
        params = {k: v for k, v in params.items() if k in declared}
    rule = make_rule(name, pos, params, registry)
    if motifs is not None:
        missing = [m for m in rule.pos_motifs if m not in motifs]
        if missing:
            raise MotifprobeError(f"rule {rule.name!r} names motif(s) {', '.join(missing)} that the data does not "
                                  f"have; motifs: {', '.join(motifs) or '(none)'}")
    return rule


def as_rule(rule: Rule | dict | None, registry: "Registry | None" = None) -> Rule | None:
    """Accept a Rule, its metadata dict, or None."""
    if rule is None or isinstance(rule, Rule):
        return rule
    return rule_from_dict(rule, registry)


def label_mismatch(dataset: Any, registry: "Registry | None" = None) -> tuple[int, int] | None:
    """How many labeled sequences of ``dataset`` carry a label other than its planted rule gives
    them: ``(differing, labeled)``; None when there is no usable rule (none recorded, or its
    plugin is not installed here)."""
    try:
        rule = as_rule(dataset.rule, registry)
    except MotifprobeError:
        return None
    if rule is None:
        return None
    labeled = dataset.labels >= 0
    try:
        expected = np.asarray(rule.labels(dataset.sites, len(dataset)))
    except Exception:  # noqa: BLE001 - a broken rule plugin: nothing to compare with
        return None
    return int(np.sum(expected[labeled] != dataset.labels[labeled])), int(labeled.sum())
