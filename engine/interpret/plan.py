"""Plan: the units of work of an interpretation, as plain data.

A unit is one test on one motif set with its parameters and the ids of the sequences it
perturbs (those carrying every motif of the set, non-overlapping). Units know nothing of
models or statistics; they can be written out, split by ids and run anywhere, because every
random draw is keyed by (seed, test, motif set, sequence id) (see :mod:`motifprobe.engine.streams`).
"""
from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.params import declared_params, resolve
from motifprobe.engine.registry import Registry
from motifprobe.engine.sites import chosen_instances


@dataclass
class Unit:
    """One test on one motif set: what to run and on which sequences.

    Attributes
    ----------
    test : str
        Registered test name.
    motifs : tuple of str
    params : dict
        The test's parameters (checked and coerced).
    feature : str
        What the test probes (from the test itself).
    deterministic : bool
    num_perturbs : int
        K for this unit (1 for a deterministic test).
    ids : list of str
        Eligible sequence ids, in dataset order.
    control : str
        The arm the verdict reads the test against (``"sham"`` or one of the test's controls).
    checks : list of [arm, against, status]
        Alternative explanations the verdict rules out (:class:`motifprobe.engine.perturbation.Check`).
    insertion : bool
        An insertion test (:mod:`motifprobe.engine.insertion`): ``ids`` are the rows the backgrounds
        are drawn from, and ``points`` its profile's points (arm, point, label, order, control).
    """

    test: str
    motifs: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    feature: str = ""
    deterministic: bool = False
    num_perturbs: int = 1
    ids: list[str] = field(default_factory=list)
    control: str = "sham"
    checks: list[list[str]] = field(default_factory=list)
    insertion: bool = False
    points: list[dict[str, Any]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.test} {'+'.join(self.motifs)}"

    @property
    def params_json(self) -> str:
        return json.dumps(self.params, sort_keys=True) if self.params else ""

    @property
    def needs_sham(self) -> bool:
        """Whether the verdict reads the engine's sham (as the control, or in a check)."""
        return self.control == "sham" or any("sham" in check[:2] for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-serializable)."""
        out = asdict(self)
        out["motifs"] = list(self.motifs)
        return out

    def with_ids(self, ids: list[str]) -> "Unit":
        """The same unit on other ids (a shard)."""
        return Unit(self.test, self.motifs, dict(self.params), self.feature, self.deterministic, self.num_perturbs,
                    list(ids), self.control, [list(c) for c in self.checks], self.insertion,
                    [dict(p) for p in self.points])


def is_insertion_test(registry: Registry, name: str) -> bool:
    """Whether the registered test ``name`` inserts motifs into backgrounds (a profile, not a
    perturbation of recorded sites): its factory declares ``insertion = True``."""
    return bool(getattr(registry.get("perturbation_test", name).factory, "insertion", False))


def make_test(registry: Registry, name: str, params: dict[str, Any]) -> Any:
    """Build a registered test with its (already checked) parameters."""
    entry = registry.get("perturbation_test", name)
    try:
        return entry.factory(**params)
    except MotifprobeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's fault is named, not a traceback
        raise MotifprobeError(f"test {entry.name!r} (plugin {entry.plugin}, {entry.distribution}) failed to "
                              f"start: {type(exc).__name__}: {exc}") from None


def plan_tests(motifs: list[str], tests: list[str] | None, registry: Registry,
               test_params: dict[str, dict[str, Any]] | None = None) -> list[tuple[str, tuple[str, ...], dict[str, Any]]]:
    """Expand test names into (test, motifs, params) jobs: an ``n_motifs`` test runs once per
    combination of ``n_motifs`` of the motifs. ``test_params`` (``{test: {key: value}}``) are
    checked against each test's declared parameters before any work starts."""
    explicit = tests is not None
    # Insertion tests (profiles) run only when named: they ask other questions, at other costs.
    names = list(tests) if explicit else [n for n in registry.names("perturbation_test")
                                          if not is_insertion_test(registry, n)]
    run_names = [registry.get("perturbation_test", n).name for n in names]
    canonical = {}
    for key, values in dict(test_params or {}).items():
        entry = registry.get("perturbation_test", key)
        if entry.name not in run_names:
            raise MotifprobeError(f"--test-param for test {key!r}, which is not among the tests run "
                                  f"({', '.join(names)})")
        canonical[entry.name] = values
    jobs = []
    for name in names:
        entry = registry.get("perturbation_test", name)
        params = resolve(declared_params(entry.factory), canonical.get(entry.name), f"perturbation test {entry.name!r}")
        n_motifs = getattr(make_test(registry, entry.name, params), "n_motifs", 1)
        if isinstance(n_motifs, bool) or not isinstance(n_motifs, int) or n_motifs < 1:
            raise MotifprobeError(f"test {entry.name!r} (plugin {entry.plugin}, {entry.distribution}) declares "
                                  f"n_motifs={n_motifs!r}; it must be a positive integer")
        if len(motifs) < n_motifs:
            if explicit:
                raise MotifprobeError(f"test {entry.name!r} needs {n_motifs} motifs; got {len(motifs)}: {', '.join(motifs)}")
            continue
        jobs.extend((entry.name, combo, params) for combo in itertools.combinations(motifs, n_motifs))
    return jobs


def eligible_rows(dataset: Dataset, motifs: tuple[str, ...]) -> np.ndarray:
    """Rows carrying every motif of the set, their chosen instances (the highest-scoring, else the
    leftmost: :func:`motifprobe.engine.sites.chosen_instances`) not overlapping."""
    ok = np.ones(len(dataset), dtype=bool)
    bounds = [chosen_instances(dataset.sites, m, len(dataset)) for m in motifs]
    for start, _ in bounds:
        ok &= start >= 0
    for (s1, e1), (s2, e2) in itertools.combinations(bounds, 2):
        ok &= (e1 <= s2) | (e2 <= s1)
    return np.flatnonzero(ok)


def plan(dataset: Dataset, motifs: list[str], tests: list[str] | None, registry: Registry, *, num_perturbs: int,
         test_params: dict[str, dict[str, Any]] | None = None, seed: int = 0) -> list[Unit]:
    """The units of an interpretation of ``dataset`` (see :class:`Unit`).

    An insertion test's unit takes at most its ``n_backgrounds`` rows, any rows (a keyed choice by
    ``seed`` and id: :func:`motifprobe.engine.insertion.background_rows`), and its profile is laid
    out here, so a gap range or copy count that does not fit fails before any work.
    """
    units = []
    for name, combo, params in plan_tests(motifs, tests, registry, test_params):
        test = make_test(registry, name, params)
        feature = getattr(test, "feature", None)
        deterministic = bool(getattr(test, "deterministic", False))
        control, checks = _controls_of(test, name, registry)
        if getattr(test, "insertion", False):
            units.append(_insertion_unit(dataset, name, tuple(combo), params, test, control, seed))
            continue
        rows = eligible_rows(dataset, combo)
        units.append(Unit(name, tuple(combo), dict(params), feature if isinstance(feature, str) else "",
                          deterministic, 1 if deterministic else int(num_perturbs), list(dataset.ids[rows]),
                          control, checks))
    return units


def _insertion_unit(dataset: Dataset, name: str, combo: tuple[str, ...], params: dict[str, Any], test: Any,
                    control: str, seed: int) -> Unit:
    from motifprobe.engine.insertion import background_rows, motif_pwms

    points = test.prepare(dataset.seq_length, combo, motif_pwms(dataset.metadata, combo))
    rows = background_rows(dataset, params["backgrounds"], int(params["n_backgrounds"]), seed)
    feature = getattr(test, "feature", None)
    return Unit(name, combo, dict(params), feature if isinstance(feature, str) else "", True, 1,
                list(dataset.ids[rows]), getattr(test, "control", control), [], True, [p.record() for p in points])


def _controls_of(test: Any, name: str, registry: Registry) -> tuple[str, list[list[str]]]:
    """A test's declared control and checks, checked for shape (a plugin's mistake is one line)."""
    entry = registry.get("perturbation_test", name)
    who = f"test {entry.name!r} (plugin {entry.plugin}, {entry.distribution})"
    control = getattr(test, "control", "sham") or "sham"
    if not isinstance(control, str):
        raise MotifprobeError(f"{who} declares control={control!r}; it must be an arm name")
    checks = []
    for check in getattr(test, "checks", ()) or ():
        parts = check.to_list() if hasattr(check, "to_list") else check
        if not (isinstance(parts, (list, tuple)) and len(parts) == 3 and all(isinstance(x, str) and x for x in parts)):
            raise MotifprobeError(f"{who} declares a check {check!r}; use motifprobe.engine.perturbation.Check")
        checks.append(list(parts))
    return control, checks
