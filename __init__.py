"""motifprobe: what has a trained sequence model learned about motif grammar?

The public API for plugin authors and scripts; everything here is stable and documented in
docs/plugins.md. Importing this package is cheap: no torch, xgboost or simdna import happens
here, and ``motifprobe.api`` loads on first use (conformance checks: ``motifprobe.engine.testing``).

>>> from motifprobe import hookimpl, SequenceModel
>>> from motifprobe import api
"""
from __future__ import annotations

import importlib
from typing import Any

from motifprobe.engine.dataset import Dataset, read_dataset, write_dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.features import FEATURES, Expectation, confounded, effect, no_effect
from motifprobe.engine.generation import GenerationSpec, finish_dataset, plan_sites, validate_spec, write_motifs
from motifprobe.engine.hookspecs import NAME, hookimpl
from motifprobe.engine.kmers import kmer_counts
from motifprobe.engine.models import CallableModel, SequenceModel, resolve_params
from motifprobe.engine.motif_library import Motif, get_motifs, sample_pwm
from motifprobe.engine.params import Param
from motifprobe.engine.perturbation import PerturbationTest, Scorer, TestBatch
from motifprobe.engine.rules import Rule
from motifprobe.engine.sequences import decode, encode, one_hot, reverse_complement, sample_background

_LAZY = {"api": "motifprobe.engine.api"}

__all__ = [
    "NAME", "hookimpl", "MotifprobeError", "Dataset", "read_dataset", "write_dataset", "GenerationSpec",
    "finish_dataset", "plan_sites", "validate_spec", "SequenceModel", "CallableModel", "resolve_params",
    "PerturbationTest", "Scorer", "TestBatch", "encode", "decode", "one_hot", "reverse_complement",
    "sample_background", "kmer_counts", "Motif", "get_motifs", "sample_pwm", "api", "Param", "Rule", "write_motifs",
    "FEATURES", "Expectation", "effect", "no_effect", "confounded",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'motifprobe' has no attribute {name!r}")
