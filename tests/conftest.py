"""Shared fixtures: small seeded datasets, built once per session."""
from __future__ import annotations

import warnings

import pytest

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

MOTIFS = ["STAT_known2", "CTCF_known1", "GATA_known1"]
POS = ["STAT_known2", "CTCF_known1"]


def make(gen_type: str, num_seqs: int = 2000, generator: str = "fast", seed: int = 3, **kw):
    from motifprobe import api

    spec = dict(num_seqs=num_seqs, seq_length=200, gen_type=gen_type, motifs=MOTIFS, pos_motifs=POS,
                min_dist=5, max_dist=25)
    if gen_type == "presence":
        spec["pos_motifs"] = ["STAT_known2"]
    spec.update(kw)
    return api.generate(generator, seed=seed, **spec)


@pytest.fixture(scope="session")
def order_ds():
    return make("order")


@pytest.fixture(scope="session")
def presence_ds():
    return make("presence")


@pytest.fixture(scope="session")
def distance_ds():
    return make("distance")
