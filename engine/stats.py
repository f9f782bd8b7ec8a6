"""One statistics layer for every perturbation test.

Calibration (see README, "How a verdict is reached"): testing deltas against 0 calls a sham
"significant" most of the time, because averaging K draws against one original skews the
deltas and n is large. So every test is read against a sham run on the *same sequences* with
the same K: a paired Wilcoxon test of (delta - sham delta), and the mean must exceed the sham
mean by a minimum effect. Ablating a motif raises the loss of positives and lowers that of
negatives, so the rule is checked pooled and within each label.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np

from motifprobe.engine.errors import MotifprobeError

STRATA = ("pooled", "label0", "label1")


@dataclass(frozen=True)
class Thresholds:
    """The verdict rule's knobs (all overridable from the CLI and the API).

    alpha : paired p-value against the sham must be below this.
    min_effect : |mean delta - mean sham delta| must reach this (nats in loss mode,
        probability in prediction mode).
    min_count : fewer sequences than this in a stratum -> that stratum cannot call an effect.
    tolerance : |delta| below this counts as exactly 0 (float32 model noise).
    n_bootstrap : resamples for the 95% CI of the mean.
    """

    alpha: float = 1e-3
    min_effect: float = 0.05
    min_count: int = 10
    tolerance: float = 1e-6
    n_bootstrap: int = 1000

    def __post_init__(self) -> None:
        """Refuse values that would make every verdict meaningless; store plain Python numbers."""
        checks = (  # field, CLI flag, integer?, lowest, lowest allowed?, highest
            ("alpha", "--alpha", False, 0.0, False, 1.0),
            ("min_effect", "--min-effect", False, 0.0, True, None),
            ("min_count", "--min-count", True, 1, True, None),
            ("tolerance", None, False, 0.0, True, None),
            ("n_bootstrap", None, True, 1, True, None),
        )
        for name, flag, integer, low, low_ok, high in checks:
            value = getattr(self, name)
            label = f"{name} ({flag})" if flag else name
            allowed = (f"an integer >= {low}" if integer else f"a finite number >= {low:g}" if high is None else
                       f"a number with {low:g} {'<=' if low_ok else '<'} {name} <= {high:g}")
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or (
                    integer and not isinstance(value, numbers.Integral)):
                shown = repr(value) if isinstance(value, str) else " ".join(str(value).split())[:60]
                raise MotifprobeError(f"verdict threshold {label} must be {allowed}, got {shown}")
            plain = int(value) if integer else float(value)
            if not math.isfinite(plain) or plain < low or (plain == low and not low_ok) or (
                    high is not None and plain > high):
                raise MotifprobeError(f"verdict threshold {label} must be {allowed}, got {plain}")
            object.__setattr__(self, name, plain)

    def to_dict(self) -> dict:
        return asdict(self)


def wilcoxon_p(x: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p against 0, zeros dropped, asymptotic (normal) method.

    Returns 1.0 when no nonzero value is left (nothing to rank) and NaN for an empty input.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    if np.count_nonzero(x) == 0:
        return 1.0
    from scipy.stats import wilcoxon

    return float(wilcoxon(x, zero_method="wilcox", method="asymptotic").pvalue)


def rank_biserial(x: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation: (R+ - R-) / (R+ + R-) over nonzero values."""
    from scipy.stats import rankdata

    x = np.asarray(x, dtype=np.float64)
    x = x[x != 0]
    if x.size == 0:
        return 0.0
    ranks = rankdata(np.abs(x))
    return float((ranks[x > 0].sum() - ranks[x < 0].sum()) / ranks.sum())


def bootstrap_ci(x: np.ndarray, rng: np.random.Generator, n_boot: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean, seeded, resampled in blocks to bound memory."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1 or np.all(x == x[0]):
        return float(x[0]), float(x[0])
    means = np.empty(n_boot)
    block = max(1, min(n_boot, 2_000_000 // x.size))
    for lo in range(0, n_boot, block):
        hi = min(lo + block, n_boot)
        means[lo:hi] = x[rng.integers(0, x.size, size=(hi - lo, x.size), dtype=np.int32)].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN stays NaN."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok])]
    m = ok.size
    scaled = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return q


def zero_small(x: np.ndarray, tolerance: float) -> np.ndarray:
    """Set |x| < tolerance to exactly 0."""
    x = np.asarray(x, dtype=np.float64).copy()
    x[np.abs(x) < tolerance] = 0.0
    return x


def summarize(deltas: np.ndarray, sham: np.ndarray, labels: np.ndarray, flips: np.ndarray, sham_flips: np.ndarray,
              thresholds: Thresholds, rng: np.random.Generator) -> dict:
    """All statistics of one test row, and its verdict.

    Parameters
    ----------
    deltas, sham : (n,) float64
        Per-sequence mean delta of the test and of the sham on the same sequences.
    labels : (n,) int
    flips, sham_flips : (n,) float
        Per-sequence share of perturbations that changed the predicted class.

    Returns
    -------
    dict
        Columns of the results table (see README, "Output columns").
    """
    t = thresholds
    deltas, sham = zero_small(deltas, t.tolerance), zero_small(sham, t.tolerance)
    n = int(deltas.size)
    row: dict = {"count": n, "n_nonzero": int(np.count_nonzero(deltas))}
    notes: list[str] = []
    if n == 0:
        row.update(effect_size=0.0, avg_loss_diff=np.nan, median=np.nan, ci_low=np.nan, ci_high=np.nan,
                   p_value=np.nan, p_vs_control=np.nan, control_mean=np.nan, rank_biserial=np.nan,
                   flip_rate=np.nan, control_flip_rate=np.nan, verdict="untestable", called_in="", direction="",
                   note="no test sequence contains the motif(s)")
        for s in STRATA[1:]:
            row.update({f"n_{s}": 0, f"mean_{s}": np.nan, f"control_mean_{s}": np.nan, f"p_vs_control_{s}": np.nan})
        return row
    diff = zero_small(deltas - sham, t.tolerance)
    ci_low, ci_high = bootstrap_ci(deltas, rng, t.n_bootstrap)
    row.update(
        effect_size=float(deltas.sum()), avg_loss_diff=float(deltas.mean()), median=float(np.median(deltas)),
        ci_low=ci_low, ci_high=ci_high, p_value=wilcoxon_p(deltas), p_vs_control=wilcoxon_p(diff),
        control_mean=float(sham.mean()), rank_biserial=rank_biserial(deltas),
        flip_rate=float(np.mean(flips)), control_flip_rate=float(np.mean(sham_flips)))
    called, signs = [], {}
    for stratum in STRATA:
        sel = np.ones(n, bool) if stratum == "pooled" else labels == int(stratum[-1])
        k = int(sel.sum())
        mean = float(deltas[sel].mean()) if k else np.nan
        cmean = float(sham[sel].mean()) if k else np.nan
        p = wilcoxon_p(diff[sel]) if k else np.nan
        if stratum != "pooled":
            row.update({f"n_{stratum}": k, f"mean_{stratum}": mean, f"control_mean_{stratum}": cmean,
                        f"p_vs_control_{stratum}": p})
        if k >= t.min_count and p < t.alpha and abs(mean - cmean) >= t.min_effect:
            called.append(stratum)
            signs[stratum] = "+" if mean >= cmean else "-"
    if row["n_nonzero"] == 0:
        notes.append("all deltas are 0: the model's output did not change")
    if n < t.min_count:
        notes.append(f"only {n} sequences (< min_count {t.min_count})")
    row["called_in"] = ",".join(called)
    # The sign where the call was made: pooled first, then positives (ablating what a positive
    # needs raises its loss), then negatives.
    row["direction"] = next((signs[s] for s in ("pooled", "label1", "label0") if s in signs), "")
    if called:
        row["verdict"] = "effect"
    elif n < t.min_count:
        row["verdict"] = "untestable"
    else:
        row["verdict"] = "none"
    row["note"] = "; ".join(notes)
    return row
