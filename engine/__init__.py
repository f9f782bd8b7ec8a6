"""motifprobe's engine: what a trained sequence model has learned about motif grammar.

Public API for plugin authors and scripts. Importing this package is cheap: no torch,
xgboost or simdna import happens here.
"""
from __future__ import annotations

from engine.dataset import Dataset, read_dataset, write_dataset
from engine.errors import MotifprobeError
from engine.generation import GenerationSpec, finish_dataset, plan_sites, validate_spec
from engine.hookspecs import NAME, hookimpl
from engine.models import CallableModel, SequenceModel, resolve_params
from engine.perturbation import PerturbationTest, TestBatch
from engine.sequences import decode, encode, one_hot

__all__ = [
    "NAME", "hookimpl", "MotifprobeError", "Dataset", "read_dataset", "write_dataset", "GenerationSpec",
    "finish_dataset", "plan_sites", "validate_spec", "SequenceModel", "CallableModel", "resolve_params",
    "PerturbationTest", "TestBatch", "encode", "decode", "one_hot",
]
