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

# Every name loads on first use (PEP 562): ``import motifprobe`` (and so the CLI's --help)
# imports neither numpy nor pandas.
_LAZY = {
    "Dataset": "motifprobe.engine.dataset",
    "read_dataset": "motifprobe.engine.dataset",
    "write_dataset": "motifprobe.engine.dataset",
    "MotifprobeError": "motifprobe.engine.errors",
    "FEATURES": "motifprobe.engine.features",
    "Expectation": "motifprobe.engine.features",
    "confounded": "motifprobe.engine.features",
    "effect": "motifprobe.engine.features",
    "no_effect": "motifprobe.engine.features",
    "GenerationSpec": "motifprobe.engine.generation",
    "finish_dataset": "motifprobe.engine.generation",
    "plan_sites": "motifprobe.engine.generation",
    "validate_spec": "motifprobe.engine.generation",
    "write_motifs": "motifprobe.engine.generation",
    "NAME": "motifprobe.engine.hookspecs",
    "hookimpl": "motifprobe.engine.hookspecs",
    "kmer_counts": "motifprobe.engine.kmers",
    "CallableModel": "motifprobe.engine.models",
    "ExternalModel": "motifprobe.engine.models",
    "SequenceModel": "motifprobe.engine.models",
    "resolve_params": "motifprobe.engine.models",
    "Motif": "motifprobe.engine.motif_library",
    "get_motifs": "motifprobe.engine.motif_library",
    "sample_pwm": "motifprobe.engine.motif_library",
    "Param": "motifprobe.engine.params",
    "PerturbationTest": "motifprobe.engine.perturbation",
    "Scorer": "motifprobe.engine.perturbation",
    "TestBatch": "motifprobe.engine.perturbation",
    "Rule": "motifprobe.engine.rules",
    "decode": "motifprobe.engine.sequences",
    "encode": "motifprobe.engine.sequences",
    "one_hot": "motifprobe.engine.sequences",
    "reverse_complement": "motifprobe.engine.sequences",
    "sample_background": "motifprobe.engine.sequences",
    "api": "motifprobe.engine.api",
}

__all__ = [
    "NAME", "hookimpl", "MotifprobeError", "Dataset", "read_dataset", "write_dataset", "GenerationSpec",
    "finish_dataset", "plan_sites", "validate_spec", "SequenceModel", "CallableModel", "resolve_params",
    "ExternalModel", "PerturbationTest", "Scorer", "TestBatch", "encode", "decode", "one_hot", "reverse_complement",
    "sample_background", "kmer_counts", "Motif", "get_motifs", "sample_pwm", "api", "Param", "Rule", "write_motifs",
    "FEATURES", "Expectation", "effect", "no_effect", "confounded",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if name == "api" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'motifprobe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
