"""Hook specifications: the plugin author's manual.

A plugin is any module or object with functions marked ``@hookimpl`` named after these specs.
Each hook receives a ``register`` callback built by the host, so the host owns names,
aliases and duplicate checks, and new keyword arguments never break old plugins. The author's manual with each contract,
a minimal plugin and the conformance checks is docs/plugins.md.
"""
from __future__ import annotations

from typing import Callable

import pluggy

NAME = "motifprobe"
"""Project name: the pluggy marker, the plugin manager and the entry-point group."""

hookspec = pluggy.HookspecMarker(NAME)
hookimpl = pluggy.HookimplMarker(NAME)

Register = Callable[..., None]


@hookspec
def register_generators(register: Register) -> None:
    """Register dataset generators.

    Parameters
    ----------
    register : callable
        ``register(name, factory, *, aliases=())``. ``factory()`` returns an object with
        ``motif_lengths(names)`` and ``generate(spec, *, seed, progress=None) -> motifprobe.Dataset``
        (see ``motifprobe.engine.generation.Generator``). The factory's declared ``parameters``
        (``generate --param KEY=VALUE``) reach ``generate`` checked and coerced, as ``spec.options``.
    """


@hookspec
def register_models(register: Register) -> None:
    """Register model wrappers.

    Parameters
    ----------
    register : callable
        ``register(name, factory, *, aliases=())``. ``factory(**params)`` returns a
        ``motifprobe.SequenceModel``: ``fit(codes, labels, *, val=None, seed=None,
        progress=None)``, ``predict_proba(codes)``, ``save(dir)`` and the classmethod
        ``load(dir)``. The factory's ``parameters`` (``motifprobe.Param``) are the accepted
        ``--param`` keys.
    """


@hookspec
def register_perturbation_tests(register: Register) -> None:
    """Register in-silico perturbation tests.

    Parameters
    ----------
    register : callable
        ``register(name, factory, *, aliases=())``. ``factory()`` returns an
        ``motifprobe.PerturbationTest``: ``n_motifs``, ``feature`` (what it probes, from
        ``motifprobe.engine.features.FEATURES``), ``deterministic``, ``perturb(batch, rng)``
        returning named arms of perturbed codes, and optionally ``deltas(...)`` to combine arm
        scores into one value per sequence. ``factory(**params)`` takes the test's declared
        ``parameters`` (``--test-param TEST:KEY=VALUE``).
    """


@hookspec
def register_rules(register: Register) -> None:
    """Register planted rules (the grammar a generated dataset's labels follow).

    Parameters
    ----------
    register : callable
        ``register(name, factory, *, aliases=())``. ``factory(pos_motifs, **params)`` returns
        a ``motifprobe.Rule``: it validates its parameters and motifs, lays out sites so both
        classes are well represented (``plan``), labels each sequence from its planted sites
        (``labels``) and says what interpretation should find (``expects(feature, motifs)``).
    """
