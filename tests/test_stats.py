"""The statistics layer: p-values, effect sizes, CIs, FDR and the verdict rule."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from motifprobe.engine.stats import (Thresholds, benjamini_hochberg, bootstrap_ci, decide, paired_p, rank_biserial,
                                     summarize, wilcoxon_p, zero_small)

# ---------------------------------------------------------------- wilcoxon_p

KNOWN = [
    np.array([0.3, -0.1, 0.5, 0.8, -0.2, 0.9, 0.4, 0.05, -0.7, 1.1, 0.6, 0.25]),
    np.array([1.0, 2.0, 2.0, -3.0, 4.0, 0.0, 0.0, 5.0, 5.0, 5.0, -1.0, 6.0]),  # ties and zeros
    np.random.default_rng(0).normal(0.1, 1.0, 300),
    np.random.default_rng(1).normal(0.0, 1.0, 50),
    -np.arange(1, 31, dtype=float),
]


def hand_wilcoxon(x: np.ndarray) -> float:
    """Normal approximation with tie correction, zeros dropped, no continuity correction."""
    x = x[x != 0]
    n = x.size
    r = sps.rankdata(np.abs(x))
    t = min(r[x > 0].sum(), r[x < 0].sum())
    _, counts = np.unique(np.abs(x), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - (counts ** 3 - counts).sum() / 48
    z = (t - n * (n + 1) / 4) / math.sqrt(var)
    return float(2 * sps.norm.sf(abs(z)))


@pytest.mark.parametrize("i", range(len(KNOWN)))
def test_wilcoxon_matches_scipy(i):
    x = KNOWN[i]
    want = sps.wilcoxon(x, zero_method="wilcox", method="asymptotic").pvalue
    got = wilcoxon_p(x)
    assert isinstance(got, float)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-300)
    assert got == pytest.approx(hand_wilcoxon(x), rel=1e-9)


def test_wilcoxon_list_input_and_edge_cases():
    assert wilcoxon_p(list(KNOWN[0])) == pytest.approx(wilcoxon_p(KNOWN[0]))
    assert wilcoxon_p(np.zeros(20)) == 1.0
    assert wilcoxon_p(np.zeros(1)) == 1.0
    assert math.isnan(wilcoxon_p(np.array([])))
    assert math.isnan(wilcoxon_p([]))
    # strongly shifted data: tiny p
    assert wilcoxon_p(np.random.default_rng(2).normal(1.0, 0.1, 100)) < 1e-10


# ---------------------------------------------------------------- rank_biserial

def test_rank_biserial_extremes_and_symmetry():
    assert rank_biserial(np.array([0.1, 2.0, 3.0, 0.5])) == 1.0
    assert rank_biserial(np.array([-0.1, -2.0, -3.0])) == -1.0
    assert rank_biserial(np.array([1.0, -1.0, 2.0, -2.0, 3.5, -3.5])) == pytest.approx(0.0, abs=1e-15)
    assert rank_biserial(np.zeros(5)) == 0.0
    assert rank_biserial(np.array([])) == 0.0
    x = np.random.default_rng(3).normal(0.2, 1, 200)
    assert rank_biserial(-x) == pytest.approx(-rank_biserial(x))


def test_rank_biserial_hand_computation():
    # |x| ranks 1, 2, 3, 4; R+ = 1 + 3 + 4 = 8, R- = 2 -> (8 - 2) / 10
    assert rank_biserial(np.array([1.0, -2.0, 3.0, 4.0])) == pytest.approx(0.6)
    # zeros are dropped
    assert rank_biserial(np.array([0.0, 1.0, -2.0, 0.0, 3.0, 4.0])) == pytest.approx(0.6)
    # ties get mean ranks: 1.5, 1.5, 3 -> R+ = 4.5, R- = 1.5 -> 3 / 6
    assert rank_biserial(np.array([1.0, -1.0, 2.0])) == pytest.approx(0.5)
    # -5 has rank 3: R+ = 3, R- = 3 -> 0
    assert rank_biserial(np.array([1.0, 2.0, -5.0])) == pytest.approx(0.0)


# ---------------------------------------------------------------- bootstrap_ci

def test_bootstrap_ci_deterministic_and_contains_mean():
    x = np.random.default_rng(4).normal(0.3, 1.0, 500)
    a = bootstrap_ci(x, np.random.default_rng(42))
    b = bootstrap_ci(x, np.random.default_rng(42))
    assert a == b
    assert a[0] < x.mean() < a[1]
    # A 95% CI of the mean is about +-1.96 SE wide. Over 200 seeds the ratio below stays in
    # 0.91..1.07; a 90% interval gives ~0.84 and a 99% one ~1.31, so both fail this band.
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert 0.92 < (a[1] - a[0]) / (2 * 1.96 * se) < 1.08
    lo90, hi90 = bootstrap_ci(x, np.random.default_rng(42), level=0.90)
    assert 0.92 < (hi90 - lo90) / (2 * 1.645 * se) < 1.08
    c = bootstrap_ci(x, np.random.default_rng(43))
    assert c != a


def test_bootstrap_ci_width_shrinks_with_n():
    rng = np.random.default_rng(5)
    widths = []
    for n in (50, 500, 5000):
        lo, hi = bootstrap_ci(rng.normal(0, 1, n), np.random.default_rng(0))
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] == pytest.approx(10, rel=0.35)  # ~ sqrt(100)


def test_bootstrap_ci_edge_cases():
    lo, hi = bootstrap_ci(np.array([]), np.random.default_rng(0))
    assert math.isnan(lo) and math.isnan(hi)
    assert bootstrap_ci(np.array([2.5]), np.random.default_rng(0)) == (2.5, 2.5)
    assert bootstrap_ci(np.full(10, -1.0), np.random.default_rng(0)) == (-1.0, -1.0)
    # block-wise resampling with many draws still works and stays ordered
    lo, hi = bootstrap_ci(np.random.default_rng(6).normal(0, 1, 3000), np.random.default_rng(0), n_boot=1500)
    assert lo < hi


# ---------------------------------------------------------------- benjamini_hochberg

def slow_bh(p) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    finite = [v for v in p if np.isfinite(v)]
    m = len(finite)
    out = np.full(p.shape, np.nan)
    for i, pi in enumerate(p):
        if not np.isfinite(pi):
            continue
        best = 1.0
        for pj in finite:
            if pj >= pi:
                rank = sum(1 for v in finite if v <= pj)
                best = min(best, pj * m / rank)
        out[i] = best
    return out


def test_bh_known_values():
    q = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.005]))
    np.testing.assert_allclose(q, [0.02, 0.04, 0.04, 0.02])
    # a classic example
    p = np.array([0.01, 0.02, 0.03, 0.04, 0.05])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.05] * 5)
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.9, 0.8])), [0.9, 0.9])
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.7])), [0.7])


@pytest.mark.parametrize("seed", range(5))
def test_bh_matches_slow_reference(seed):
    rng = np.random.default_rng(seed)
    p = rng.random(60) ** 3
    p[rng.random(60) < 0.2] = 0.5  # ties
    p[rng.random(60) < 0.1] = np.nan
    p[:2] = [1.0, 0.0]
    q = benjamini_hochberg(p)
    np.testing.assert_allclose(q, slow_bh(p), rtol=1e-12)
    assert np.all(np.isnan(q) == np.isnan(p))
    ok = np.isfinite(p)
    assert np.all(q[ok] >= p[ok]) and np.all(q[ok] <= 1)
    # monotone in p
    order = np.argsort(p[ok])
    assert np.all(np.diff(q[ok][order]) >= -1e-15)


def test_bh_keeps_nan():
    q = benjamini_hochberg(np.array([0.01, np.nan, 0.04, 0.03, 0.005]))
    assert math.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2, 3, 4]], [0.02, 0.04, 0.04, 0.02])  # NaN is not counted in m
    assert np.all(np.isnan(benjamini_hochberg(np.array([np.nan, np.nan]))))
    assert benjamini_hochberg(np.array([])).shape == (0,)


# ---------------------------------------------------------------- zero_small

def test_zero_small():
    x = np.array([1e-7, -5e-7, 1e-6, -2e-6, 0.5, 0.0, -1e-9])
    before = x.copy()
    got = zero_small(x, 1e-6)
    np.testing.assert_array_equal(got, [0.0, 0.0, 1e-6, -2e-6, 0.5, 0.0, 0.0])
    np.testing.assert_array_equal(x, before)  # input untouched
    assert got.dtype == np.float64
    np.testing.assert_array_equal(zero_small([1, 2], 0.0), [1.0, 2.0])


# ---------------------------------------------------------------- summarize

def run(deltas, sham, labels, thresholds=Thresholds(), seed=0):
    n = len(deltas)
    return summarize(np.asarray(deltas, float), np.asarray(sham, float), np.asarray(labels, np.int64),
                     np.zeros(n), np.zeros(n), thresholds, np.random.default_rng(seed))


def half_labels(n):
    return np.repeat([0, 1], n // 2)


def test_summarize_effect_in_positives():
    rng = np.random.default_rng(10)
    n = 400
    labels = half_labels(n)
    sham = rng.normal(0, 0.01, n)
    deltas = sham + 0.5 * (labels == 1)
    row = run(deltas, sham, labels)
    assert row["verdict"] == "effect"
    called = row["called_in"].split(",")
    assert "label1" in called and "label0" not in called
    assert row["count"] == n and row["n_label0"] == 200 and row["n_label1"] == 200
    assert row["mean_label1"] - row["control_mean_label1"] == pytest.approx(0.5)
    assert row["p_vs_control_label1"] < 1e-10
    assert row["p_vs_control_label0"] == 1.0  # identical to the sham there
    assert row["ci_low"] <= row["avg_loss_diff"] <= row["ci_high"]
    assert row["note"] == ""


def test_summarize_same_distribution_is_none():
    rng = np.random.default_rng(11)
    n = 400
    labels = half_labels(n)
    sham = rng.normal(0, 0.01, n)
    deltas = rng.normal(0, 0.01, n)
    row = run(deltas, sham, labels)
    assert row["verdict"] == "none"
    assert row["called_in"] == ""


def test_summarize_empty_is_untestable():
    row = run(np.array([]), np.array([]), np.array([], dtype=np.int64))
    assert row["verdict"] == "untestable"
    assert row["count"] == 0
    assert row["note"]
    assert row["called_in"] == ""
    assert row["n_label0"] == 0 and row["n_label1"] == 0


def test_summarize_all_zero():
    n = 100
    row = run(np.zeros(n), np.zeros(n), half_labels(n))
    assert row["verdict"] == "none"
    assert "all deltas are 0" in row["note"]
    assert row["p_vs_zero"] == 1
    assert row["p_vs_control"] == 1
    assert row["n_nonzero"] == 0
    assert row["ci_low"] == row["ci_high"] == 0


def test_summarize_tiny_deltas_count_as_zero():
    n = 100
    rng = np.random.default_rng(12)
    row = run(rng.normal(0, 1e-8, n), rng.normal(0, 1e-8, n), half_labels(n))
    assert row["n_nonzero"] == 0
    assert "all deltas are 0" in row["note"]
    assert row["verdict"] == "none"


def test_summarize_too_few_is_untestable():
    rng = np.random.default_rng(13)
    sham = rng.normal(0, 0.01, 5)
    row = run(sham + 1.0, sham, [0, 1, 0, 1, 1])
    assert row["verdict"] == "untestable"
    assert row["called_in"] == ""
    assert "min_count" in row["note"]


def test_summarize_min_count_gates_strong_effects():
    """Fewer than min_count sequences cannot call an effect even when p and the effect are clear."""
    rng = np.random.default_rng(18)
    n = 40
    sham = rng.normal(0, 0.01, n)
    row = run(sham + 1.0, sham, half_labels(n), Thresholds(min_count=50))
    assert row["p_vs_control"] < 1e-6
    assert row["verdict"] == "untestable" and row["called_in"] == ""
    # per stratum: only 8 positives, below min_count 10, with the effect only there
    labels = np.r_[np.zeros(392, np.int64), np.ones(8, np.int64)]
    sham = rng.normal(0, 0.01, 400)
    row = run(sham + 1.0 * (labels == 1), sham, labels, Thresholds(alpha=0.5))
    assert row["p_vs_control_label1"] < 0.5
    assert "label1" not in row["called_in"].split(",")


def test_summarize_small_effect_below_min_effect():
    rng = np.random.default_rng(14)
    n = 400
    labels = half_labels(n)
    sham = rng.normal(0, 0.01, n)
    deltas = sham + 0.02 + rng.normal(0, 1e-4, n)
    row = run(deltas, sham, labels)
    assert row["p_vs_control"] < 1e-10  # highly significant ...
    assert row["verdict"] == "none"  # ... but too small to matter
    assert row["called_in"] == ""
    row = run(deltas, sham, labels, Thresholds(min_effect=0.01))
    assert row["verdict"] == "effect"
    assert set(row["called_in"].split(",")) == {"pooled", "label0", "label1"}


def test_summarize_reads_effect_against_sham_mean():
    """A large mean delta that the sham shares is no effect: the rule uses mean - sham mean."""
    rng = np.random.default_rng(17)
    n = 400
    sham = rng.normal(0.3, 0.01, n)
    deltas = sham + 0.01 + rng.normal(0, 1e-4, n)
    row = run(deltas, sham, half_labels(n))
    assert row["p_vs_control"] < 1e-10 and row["avg_loss_diff"] > 0.3
    assert row["verdict"] == "none"
    assert row["control_mean"] == pytest.approx(sham.mean())


def test_summarize_negative_effect_is_called_too():
    """Ablation lowers the loss of negatives: |mean - control mean| counts, not the sign."""
    rng = np.random.default_rng(15)
    n = 400
    labels = half_labels(n)
    sham = rng.normal(0, 0.01, n)
    deltas = sham - 0.3 * (labels == 0)
    row = run(deltas, sham, labels)
    assert row["verdict"] == "effect"
    assert "label0" in row["called_in"].split(",")


def test_summarize_deterministic():
    rng = np.random.default_rng(16)
    n = 200
    sham = rng.normal(0, 0.01, n)
    deltas = sham + rng.normal(0.1, 0.05, n)
    a, b = run(deltas, sham, half_labels(n), seed=3), run(deltas, sham, half_labels(n), seed=3)
    assert pd.Series(a).equals(pd.Series(b))  # NaN == NaN here
    assert a["ci_low"] == b["ci_low"] and a["ci_high"] == b["ci_high"]


# ---------------------------------------------------------------- exact behaviour (mutation tests)
# Each test below pins one behaviour a plausible code change would break; `make mutate` checks
# that together they catch such changes (docs/testing.md).

def test_bootstrap_ci_is_the_percentile_bootstrap_of_the_given_stream():
    """Same draws as a one-block reference: n_boot resamples, indices over all of x, drawn from the
    given generator (so the CI is what the hand-written bootstrap gave; scipy's quantile and
    numpy's percentile differ in the last bit only)."""
    x = np.random.default_rng(8).normal(0, 1, 40)
    for n_boot, level in ((200, 0.95), (57, 0.8)):
        idx = np.random.default_rng(7).integers(0, x.size, size=(n_boot, x.size))
        means = x[idx].mean(axis=1)
        tail = (1 - level) / 2 * 100
        want = (float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail)))
        assert bootstrap_ci(x, np.random.default_rng(7), n_boot=n_boot, level=level) == pytest.approx(want, rel=1e-12)
    # the default is 1000 resamples at 95%
    assert bootstrap_ci(x, np.random.default_rng(1)) == bootstrap_ci(x, np.random.default_rng(1), 1000, 0.95)


def test_bootstrap_ci_batches_bound_memory_without_changing_the_draws(monkeypatch):
    """Large n is resampled a few rows at a time; the rows come from the same stream, so the CI is
    the one of a single batch, and no batch holds more than BOOTSTRAP_BATCH_CELLS values."""
    import scipy.stats

    x = np.random.default_rng(10).normal(0, 1, 500)
    whole = bootstrap_ci(x, np.random.default_rng(2), n_boot=300)
    seen = []
    real = scipy.stats.bootstrap

    def spy(*args, **kwargs):
        seen.append(kwargs["batch"])
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.stats, "bootstrap", spy)
    monkeypatch.setattr("motifprobe.engine.stats.BOOTSTRAP_BATCH_CELLS", 1200)  # 2 rows of 500 at a time
    assert bootstrap_ci(x, np.random.default_rng(2), n_boot=300) == whole
    monkeypatch.setattr("motifprobe.engine.stats.BOOTSTRAP_BATCH_CELLS", 100)  # fewer cells than n: 1 row
    assert bootstrap_ci(x, np.random.default_rng(2), n_boot=300) == whole
    assert seen == [2, 1]


def test_bootstrap_ci_short_cuts_and_float64():
    # constant input: exactly the value (a resampled mean of 7 x 0.1 is 0.09999999999999999)
    assert bootstrap_ci(np.full(7, 0.1), np.random.default_rng(0)) == (0.1, 0.1)
    # two different values: a real interval inside [min, max], not a short cut
    lo, hi = bootstrap_ci(np.array([1.0, 3.0]), np.random.default_rng(0))
    assert 1.0 <= lo < hi <= 3.0
    # float32 input is resampled in float64: the same numbers as its float64 copy
    x = np.random.default_rng(9).normal(0, 1, 60).astype(np.float32)
    assert bootstrap_ci(x, np.random.default_rng(3)) == bootstrap_ci(x.astype(np.float64), np.random.default_rng(3))


def test_zero_small_returns_float64_for_any_input():
    assert zero_small([1, 2], 0.5).dtype == np.float64
    got = zero_small(np.array([0.25, 3.0], dtype=np.float32), 0.5)
    assert got.dtype == np.float64 and got.tolist() == [0.0, 3.0]


def test_bh_computes_in_float64():
    p = np.random.default_rng(3).random(30).astype(np.float32) * 0.01
    q = benjamini_hochberg(p)
    assert q.dtype == np.float64
    np.testing.assert_array_equal(q, benjamini_hochberg(p.astype(np.float64)))


def _threshold_error(**kwargs) -> str:
    from motifprobe.engine.errors import MotifprobeError

    with pytest.raises(MotifprobeError) as info:
        Thresholds(**kwargs)
    return str(info.value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(alpha=0), "verdict threshold alpha (--alpha) must be a number with 0 < alpha <= 1, got 0.0"),
    (dict(alpha=1.5), "verdict threshold alpha (--alpha) must be a number with 0 < alpha <= 1, got 1.5"),
    (dict(alpha=float("nan")), "verdict threshold alpha (--alpha) must be a number with 0 < alpha <= 1, got nan"),
    (dict(alpha="0.1"), "verdict threshold alpha (--alpha) must be a number with 0 < alpha <= 1, got '0.1'"),
    (dict(min_effect=-0.5), "verdict threshold min_effect (--min-effect) must be a finite number >= 0, got -0.5"),
    (dict(min_effect=float("inf")), "min_effect (--min-effect) must be a finite number >= 0, got inf"),
    (dict(min_count=0), "verdict threshold min_count (--min-count) must be an integer >= 1, got 0"),
    (dict(min_count=2.5), "verdict threshold min_count (--min-count) must be an integer >= 1, got 2.5"),
    (dict(min_count=True), "verdict threshold min_count (--min-count) must be an integer >= 1, got True"),
    (dict(tolerance=-1.0), "verdict threshold tolerance must be a finite number >= 0, got -1.0"),
    (dict(n_bootstrap=0), "verdict threshold n_bootstrap must be an integer >= 1, got 0"),
    (dict(alpha=np.array([[1, 2], [3, 4]])), "0 < alpha <= 1, got [[1 2] [3 4]]"),  # one line
    (dict(alpha=list(range(40))), "got " + str(list(range(40)))[:60]),
])
def test_threshold_errors_name_the_flag_the_range_and_the_value(kwargs, message):
    error = _threshold_error(**kwargs)
    assert error.endswith(message), error
    assert "\n" not in error


def test_thresholds_accept_their_boundaries_and_serialize():
    t = Thresholds(alpha=1, min_effect=0, min_count=1, tolerance=0, n_bootstrap=1)
    assert t.to_dict() == {"alpha": 1.0, "min_effect": 0.0, "min_count": 1, "tolerance": 0.0, "n_bootstrap": 1}
    assert Thresholds().to_dict() == {"alpha": 0.01, "min_effect": 0.02, "min_count": 10, "tolerance": 1e-6,
                                      "n_bootstrap": 1000}


def full_run(deltas, sham, labels, flips=None, sham_flips=None, thresholds=Thresholds(), seed=0):
    n = len(deltas)
    flips = np.zeros(n) if flips is None else np.asarray(flips, float)
    sham_flips = np.zeros(n) if sham_flips is None else np.asarray(sham_flips, float)
    return summarize(np.asarray(deltas, float), np.asarray(sham, float), np.asarray(labels, np.int64), flips,
                     sham_flips, thresholds, np.random.default_rng(seed))


ROW_KEYS = {"count", "n_nonzero", "effect_size", "avg_loss_diff", "median", "ci_low", "ci_high", "p_vs_zero",
            "p_vs_control", "q_vs_control", "control_mean", "effect", "control_effect", "effect_scale", "effect_sd",
            "rank_biserial", "flip_rate", "control_flip_rate", "verdict", "called_in", "direction", "note",
            "reason", "subset", "subset_effect", "subset_control", "subset_q", "checks", "check", "check_effect",
            "check_q"} | {
    f"{k}_label{i}" for k in ("n", "mean", "control_mean", "effect", "control_effect", "p_vs_control",
                              "q_vs_control") for i in (0, 1)}


def test_summarize_empty_row_is_complete_and_nan():
    row = run(np.array([]), np.array([]), np.array([], dtype=np.int64))
    assert set(row) == ROW_KEYS
    nan_keys = ROW_KEYS - {"count", "n_nonzero", "effect_size", "verdict", "called_in", "direction", "note",
                           "n_label0", "n_label1", "effect_scale", "reason", "subset", "checks", "check"}
    for key in nan_keys:
        assert isinstance(row[key], float) and math.isnan(row[key]), key
    assert row["effect_size"] == 0.0 and type(row["effect_size"]) is float
    assert (row["verdict"], row["called_in"], row["direction"], row["subset"]) == ("untestable", "", "", "")
    assert row["note"] == row["reason"] == "no test sequence contains the motif(s)"


def test_summarize_every_column_is_the_statistic_it_names():
    rng = np.random.default_rng(20)
    n = 60
    labels = half_labels(n)
    sham = rng.normal(0, 0.05, n)
    deltas = sham + rng.normal(0.2, 0.1, n)
    flips, sham_flips = rng.random(n), rng.random(n) / 2
    t = Thresholds(n_bootstrap=50)
    row = full_run(deltas, sham, labels, flips, sham_flips, t, seed=5)
    assert set(row) == ROW_KEYS
    assert row["count"] == n and row["n_nonzero"] == n
    assert row["effect_size"] == float(deltas.sum())
    assert row["avg_loss_diff"] == float(deltas.mean())
    assert row["median"] == float(np.median(deltas))
    assert (row["ci_low"], row["ci_high"]) == bootstrap_ci(deltas, np.random.default_rng(5), 50)
    diff = deltas - sham
    assert row["p_vs_zero"] == wilcoxon_p(deltas)
    assert row["p_vs_control"] == paired_p(diff) == wilcoxon_p(diff)  # n 60 > 50: the normal approximation
    assert row["control_mean"] == float(sham.mean())
    assert row["effect"] == float(diff.mean()) and row["control_effect"] == float(sham.mean())
    assert row["effect_scale"] == "delta"  # no probability-scale deltas given
    assert row["effect_sd"] == pytest.approx(diff.mean() / diff.std(ddof=1))
    assert row["rank_biserial"] == rank_biserial(diff)
    assert row["flip_rate"] == float(flips.mean()) and row["control_flip_rate"] == float(sham_flips.mean())
    ps = [row["p_vs_control"]]
    for label in (0, 1):
        sel = labels == label
        assert row[f"n_label{label}"] == sel.sum()
        assert row[f"mean_label{label}"] == float(deltas[sel].mean())
        assert row[f"control_mean_label{label}"] == float(sham[sel].mean())
        assert row[f"effect_label{label}"] == pytest.approx(float(diff[sel].mean()))
        # 30 distinct differences: the exact null, not the approximation
        assert row[f"p_vs_control_label{label}"] == paired_p(diff[sel]) != wilcoxon_p(diff[sel])
        ps.append(row[f"p_vs_control_label{label}"])
    qs = benjamini_hochberg(np.array(ps))
    assert [row["q_vs_control"], row["q_vs_control_label0"], row["q_vs_control_label1"]] == list(qs)
    assert row["verdict"] == "effect" and row["called_in"] == "pooled,label0,label1" and row["direction"] == "+"
    assert row["subset"] == "pooled" and row["subset_effect"] == row["effect"] and row["subset_q"] == qs[0]
    assert row["reason"].startswith("pooled: effect ")


def test_summarize_one_sequence_is_a_row_not_the_empty_row():
    row = full_run([0.5], [0.0], [1], thresholds=Thresholds(min_count=1, alpha=1))
    assert row["count"] == 1 and row["avg_loss_diff"] == 0.5 and row["effect_size"] == 0.5
    assert row["note"] == ""


def test_summarize_an_empty_stratum_is_nan_without_warnings():
    import warnings

    rng = np.random.default_rng(21)
    sham = rng.normal(0, 0.01, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = full_run(sham + 1.0, sham, np.zeros(50, np.int64))
    assert row["n_label1"] == 0
    assert math.isnan(row["mean_label1"]) and math.isnan(row["control_mean_label1"])
    assert math.isnan(row["p_vs_control_label1"])
    assert row["called_in"] == "pooled"  # every sequence is label 0: one test, not two


def test_summarize_thresholds_are_inclusive_where_documented():
    # min_count: a stratum with exactly min_count sequences may call an effect; the row is testable
    sham = np.zeros(20)
    deltas = np.linspace(0.5, 1.5, 20)
    row = full_run(deltas, sham, np.zeros(20, np.int64), thresholds=Thresholds(min_count=20))
    assert row["called_in"] == "pooled" and row["verdict"] == "effect" and row["note"] == ""
    row = full_run(deltas, sham, np.zeros(20, np.int64), thresholds=Thresholds(min_count=20, min_effect=5))
    assert row["verdict"] == "none" and row["note"] == ""
    # min_effect: |mean - control mean| equal to min_effect is enough
    row = full_run(np.full(30, 0.5), np.zeros(30), np.zeros(30, np.int64), thresholds=Thresholds(min_effect=0.5))
    assert "pooled" in row["called_in"]
    # alpha: q equal to alpha is not enough (q < alpha); one tested subset, so q = p
    p = paired_p(deltas)
    row = full_run(deltas, sham, np.zeros(20, np.int64), thresholds=Thresholds(alpha=p, min_count=1))
    assert row["called_in"] == "" and row["verdict"] == "none"
    row = full_run(deltas, sham, np.zeros(20, np.int64), thresholds=Thresholds(alpha=min(1.0, p * 1.01), min_count=1))
    assert row["called_in"] == "pooled"


def test_summarize_direction_prefers_pooled_then_positives_then_negatives():
    n = 200
    labels = half_labels(n)
    base = np.linspace(0.5, 1.5, n // 2)
    sham = np.zeros(n)
    # negatives lose, positives gain: the pooled mean is ~0, so only the strata call
    both = np.r_[-base, base]
    row = full_run(both, sham, labels)
    assert row["called_in"] == "label0,label1" and row["direction"] == "+"
    row = full_run(-both, sham, labels)
    assert row["called_in"] == "label0,label1" and row["direction"] == "-"
    # only the negatives change: their sign
    row = full_run(np.r_[-base, np.zeros(n // 2)], sham, labels, thresholds=Thresholds(min_effect=0.6))
    assert row["called_in"] == "label0" and row["direction"] == "-"
    # pooled first, even where the positives go the other way
    row = full_run(np.r_[base, -0.1 * base], sham, labels, thresholds=Thresholds(min_effect=0.06))
    assert row["called_in"] == "pooled,label0,label1" and row["direction"] == "+"
    # nothing called: no direction
    row = full_run(np.zeros(n), sham, labels)
    assert row["direction"] == "" and row["called_in"] == ""


def test_summarize_a_zero_mean_difference_that_is_significant_reads_plus():
    # 90 small gains and 10 large losses: mean difference exactly 0, Wilcoxon p ~ 2.5e-9
    diff = np.r_[np.ones(90), np.full(10, -9.0)]
    row = full_run(diff, np.zeros(100), np.zeros(100, np.int64), thresholds=Thresholds(min_effect=0))
    assert row["avg_loss_diff"] == 0.0 and row["called_in"] == "pooled" and row["direction"] == "+"


def test_summarize_notes_are_joined():
    row = full_run(np.zeros(5), np.zeros(5), [0, 1, 0, 1, 1])
    assert row["note"] == "all deltas are 0: the model's output did not change; only 5 sequences (< min_count 10)"
    assert row["verdict"] == "untestable"


def test_wilcoxon_computes_in_float64():
    """scipy keeps float32 input in float32: a p of 0.3515065 instead of 0.351506503144448."""
    x = np.random.default_rng(0).normal(0.1, 1, 300).astype(np.float32)
    got = wilcoxon_p(x)
    assert type(got) is float and got == wilcoxon_p(x.astype(np.float64))


# ---------------------------------------------------------------- small n, the family, the scale

def test_paired_p_is_exact_for_small_n():
    x = np.arange(1, 11, dtype=float)  # 10 sequences all moving the same way
    assert paired_p(x) == pytest.approx(2 / 1024)
    assert wilcoxon_p(x) > 0.004  # the normal approximation could never reach 1e-3 here
    tied = np.r_[np.ones(8), -np.ones(2)]  # tied magnitudes: every sign flip enumerated
    # P(|#positives - 5| >= 3) under fair coin flips = 2 * (1 + 10 + 45) / 1024
    assert paired_p(tied) == pytest.approx(2 * 56 / 1024)
    assert paired_p(np.zeros(5)) == 1.0 and math.isnan(paired_p(np.zeros(0)))
    big = np.random.default_rng(0).normal(0.1, 1, 200)
    assert paired_p(big) == wilcoxon_p(big)


def test_min_count_means_what_it_says():
    """10 sequences that all show the effect can be called at the default thresholds."""
    row = run(np.linspace(0.5, 1.5, 10), np.zeros(10), np.ones(10, np.int64))
    assert row["verdict"] == "effect" and row["called_in"] == "pooled"


def test_probability_scale_decides_the_magnitude():
    """A confident model's big loss change is a small probability change: the verdict reads the latter."""
    rng = np.random.default_rng(4)
    n = 300
    sham = rng.normal(0, 0.001, n)
    deltas = sham + 0.5  # half a nat
    small_p = rng.normal(0.01, 0.001, n)  # ... that moves the true class's probability by 0.01
    row = summarize(deltas, sham, half_labels(n), np.zeros(n), np.zeros(n), Thresholds(), np.random.default_rng(0),
                    effect=small_p, control_effect=np.zeros(n))
    assert row["effect_scale"] == "probability" and row["effect"] == pytest.approx(0.01, abs=1e-3)
    assert row["verdict"] == "none" and "|effect|" in row["reason"]
    row = summarize(deltas, sham, half_labels(n), np.zeros(n), np.zeros(n), Thresholds(), np.random.default_rng(0),
                    effect=small_p * 5, control_effect=np.zeros(n))
    assert row["verdict"] == "effect"
    # missing probabilities (a regression output): back to the delta's own scale
    row = summarize(deltas, sham, half_labels(n), np.zeros(n), np.zeros(n), Thresholds(), np.random.default_rng(0),
                    effect=np.full(n, np.nan), control_effect=np.full(n, np.nan))
    assert row["effect_scale"] == "delta" and row["effect"] == pytest.approx(0.5)


def test_decide_corrects_over_the_whole_family():
    """A p that calls alone is not called among many nulls: q is BH over every tested subset of every row."""
    import pandas as pd

    rng = np.random.default_rng(8)
    n = 60
    labels = np.ones(n, np.int64)
    sham = rng.normal(0, 0.1, n)
    weak = sham + rng.normal(0.045, 0.1, n)
    rows = [summarize(weak, sham, labels, np.zeros(n), np.zeros(n), Thresholds(), np.random.default_rng(0))]
    alone = rows[0]
    assert alone["verdict"] == "effect", alone["p_vs_control"]
    for i in range(40):
        null = rng.normal(0, 0.1, n)
        rows.append(summarize(null, sham, labels, np.zeros(n), np.zeros(n), Thresholds(), np.random.default_rng(i)))
    table = decide(pd.DataFrame(rows), Thresholds())
    assert table.loc[0, "p_vs_control"] == alone["p_vs_control"]
    ps = np.array([[r["p_vs_control"], r["p_vs_control_label1"]] for r in rows]).ravel()
    assert table.loc[0, "q_vs_control"] == benjamini_hochberg(ps)[0]
    assert table.loc[0, "q_vs_control"] > alone["q_vs_control"]
    assert table.loc[0, "verdict"] == "none" and table.loc[0, "reason"].startswith("closest subset")
    assert (table["verdict"] == "none").all()
    # untested subsets (label 0 has no sequence) are not part of the family
    assert table["q_vs_control_label0"].isna().all()


def test_mean_ci_is_the_bootstrap_for_few_values_and_the_t_interval_for_many():
    from motifprobe.engine import stats

    rng = np.random.default_rng(5)
    few = rng.normal(0.2, 1.0, stats.BOOTSTRAP_MAX_N - 1)
    assert stats.mean_ci(few, np.random.default_rng(1)) == stats.bootstrap_ci(few, np.random.default_rng(1))
    many = rng.exponential(1.0, stats.BOOTSTRAP_MAX_N)
    lo, hi = stats.mean_ci(many, np.random.default_rng(1))
    half = 1.9612 * many.std(ddof=1) / np.sqrt(many.size)  # t(0.975, 1999)
    assert abs(lo - (many.mean() - half)) < 1e-4 and abs(hi - (many.mean() + half)) < 1e-4
    # where both apply, they agree: the bootstrap's percentile CI of a mean of 2,000 values
    blo, bhi = stats.bootstrap_ci(many, np.random.default_rng(1), 4000)
    assert abs(blo - lo) < 0.01 and abs(bhi - hi) < 0.01
