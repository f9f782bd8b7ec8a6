"""The fast generator is statistically indistinguishable from the simdna one where it matters."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from conftest import make
from motifprobe.engine.motif_library import load_encode_motifs

N = 2500


@pytest.fixture(scope="module")
def pair():
    kw = dict(num_seqs=N, seed=17, background=[0.35, 0.15, 0.2, 0.3])
    return make("distance", generator="fast", **kw), make("distance", generator="simdna", **kw)


def test_background_composition_per_position_matches(pair):
    fast, sim = pair
    for ds_pair_pos in range(0, 200, 25):
        window = slice(ds_pair_pos, ds_pair_pos + 25)
        counts = []
        for ds in (fast, sim):
            free = ~ds.occupied()[:, window]
            counts.append(np.bincount(ds.codes[:, window][free], minlength=4))
        assert chi2_contingency(np.array(counts)).pvalue > 1e-4, ds_pair_pos


def test_motif_sites_follow_the_pwm_in_both(pair):
    pwm = load_encode_motifs()["CTCF_known1"].pwm
    for ds in pair:
        rows = ds.sites[ds.sites["name"] == "CTCF_known1"]
        bases = ds.codes[rows["seq"].to_numpy()[:, None], rows["start"].to_numpy()[:, None] + np.arange(len(pwm))]
        freq = np.stack([np.bincount(bases[:, j], minlength=4) / len(bases) for j in range(len(pwm))])
        assert np.abs(freq - pwm).max() < 0.06


def test_class_balance_matches(pair):
    fast, sim = pair
    table = [[fast.labels.sum(), N - fast.labels.sum()], [sim.labels.sum(), N - sim.labels.sum()]]
    assert chi2_contingency(table).pvalue > 1e-3


def test_gap_distribution_matches(pair):
    gaps = []
    for ds in pair:
        a, b = (ds.site_bounds(m) for m in ds.rule["pos_motifs"])
        both = (a[0] >= 0) & (b[0] >= 0)
        gaps.append(np.where(a[0] < b[0], b[0] - a[1], a[0] - b[1])[both])
    assert ks_2samp(*gaps).pvalue > 1e-3
