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
from engine.kmers import kmer_counts
from engine.motif_library import Motif, get_motifs, sample_pwm
from engine.perturbation import PerturbationTest, Scorer, TestBatch
from engine.sequences import decode, encode, one_hot, reverse_complement, sample_background

__all__ = [
    "NAME", "hookimpl", "MotifprobeError", "Dataset", "read_dataset", "write_dataset", "GenerationSpec",
    "finish_dataset", "plan_sites", "validate_spec", "SequenceModel", "CallableModel", "resolve_params",
    "PerturbationTest", "Scorer", "TestBatch", "encode", "decode", "one_hot", "reverse_complement",
    "sample_background", "kmer_counts", "Motif", "get_motifs", "sample_pwm",
]
