"""motifprobe-example-plugin: a complete third-party motifprobe plugin.

The entry point ``example = "motifprobe_example_plugin"`` (group ``motifprobe``) points at this
module; motifprobe registers the module with pluggy, which finds the three ``@hookimpl``
functions below by name (one per plugin kind). Each hook gets a ``register(name, factory, *, aliases=())`` callback.
"""
from __future__ import annotations

from motifprobe import hookimpl

from .generator import MarkovGCGenerator
from .model import KmerNaiveBayes
from .orientation import OrientationTest
from .rule import ExactlyOneRule

__version__ = "0.1.0"
__all__ = ["MarkovGCGenerator", "KmerNaiveBayes", "OrientationTest", "ExactlyOneRule",
           "register_generators", "register_models", "register_perturbation_tests", "register_rules"]


@hookimpl
def register_generators(register):
    register("markov-gc", MarkovGCGenerator)


@hookimpl
def register_models(register):
    register("example-kmer-nb", KmerNaiveBayes)


@hookimpl
def register_perturbation_tests(register):
    register("orientation", OrientationTest)


@hookimpl
def register_rules(register):
    register("exactly-one", ExactlyOneRule, aliases=("xor",))
