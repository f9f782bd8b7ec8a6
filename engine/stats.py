"""One statistics layer for every perturbation test.

Calibration (see README, "How a verdict is reached"): testing deltas against 0 calls a sham
"significant" most of the time, because averaging K draws against one original skews the
deltas and n is large. So every test is read against a control run on the *same sequences*
with the same K: a paired Wilcoxon test of (delta - control delta), exact for small n.

Each row is tested in three *subsets*: pooled, label 0 and label 1 (ablating a motif raises the
loss of positives and lowers that of negatives, so the pooled mean can cancel). Every subset
with at least ``min_count`` sequences is one hypothesis; the *family* is every tested subset of
every row of a run (of every model in a compare), and its q values are Benjamini-Hochberg over
that family (:func:`decide`). A subset calls an effect when its q is below ``alpha`` and its
effect on the comparable scale reaches ``min_effect``.

The comparable scale is probability: in loss mode the drop in the probability of the true
class, in prediction mode the change in P(class 1), each minus the same quantity under the
control. Loss deltas (nats) scale with a model's confidence (0.25 for a barely trained CNN,
4.95 for a trained one, for the same planted motif) and saturate at -log(1e-7); probability
changes are bounded by 1 and mean the same for every model. For a model without probabilities
(a regression output) the effect is on the output's own scale.
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

    alpha : the false discovery rate: a subset's q value (Benjamini-Hochberg over every tested
        subset of the run) must be below this.
    min_effect : |effect| on the comparable scale (probability; see the module docstring) must
        reach this.
    min_count : a subset (pooled, label 0, label 1) with fewer sequences is not tested.
    tolerance : |delta| below this counts as exactly 0 (float32 model noise).
    n_bootstrap : resamples for the 95% CI of the mean (below BOOTSTRAP_MAX_N sequences; a t-interval from there up).
    """

    alpha: float = 0.01
    min_effect: float = 0.02
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


BOOTSTRAP_BATCH_CELLS = 2_000_000
"""Resampled values held at once by :func:`bootstrap_ci` (bounds memory for large n)."""


def bootstrap_ci(x: np.ndarray, rng: np.random.Generator, n_boot: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean: :func:`scipy.stats.bootstrap`, seeded by ``rng``.

    Resampled in batches of at most :data:`BOOTSTRAP_BATCH_CELLS` values (memory stays bounded
    for n up to 1e6 and beyond). An empty ``x`` gives NaN; one value, or all equal, give that
    value (scipy would warn of a degenerate distribution).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1 or np.all(x == x[0]):
        return float(x[0]), float(x[0])
    from scipy.stats import bootstrap

    res = bootstrap((x,), np.mean, n_resamples=n_boot, batch=max(1, BOOTSTRAP_BATCH_CELLS // x.size),
                    vectorized=True, confidence_level=level, method="percentile", rng=rng)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


BOOTSTRAP_MAX_N = 2000
"""From this many sequences up, :func:`mean_ci` is the t-interval instead of the bootstrap."""


def mean_ci(x: np.ndarray, rng: np.random.Generator, n_boot: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """The CI of the mean reported in results: the percentile bootstrap (:func:`bootstrap_ci`) below
    :data:`BOOTSTRAP_MAX_N` values, the t-interval ``mean +- t(n-1) * sd / sqrt(n)`` from there up.

    For a mean of thousands of values the two agree (the bootstrap distribution of a mean is
    then normal to within its own resampling noise), while the bootstrap's cost, n x ``n_boot``
    draws, would outgrow the model's own work on a cheap test (``order`` scores ~2 sequences per
    input: 1,000 resamples cost as much again).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size < BOOTSTRAP_MAX_N:
        return bootstrap_ci(x, rng, n_boot, level)
    from scipy.stats import t as student_t

    mean, sd = float(x.mean()), float(x.std(ddof=1))
    half = float(student_t.ppf(0.5 + level / 2, x.size - 1)) * sd / np.sqrt(x.size)
    return mean - half, mean + half


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (:func:`scipy.stats.false_discovery_control`); NaN stays
    NaN and is not counted in the family."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        from scipy.stats import false_discovery_control

        q[ok] = false_discovery_control(p[ok], method="bh")
    return q


def zero_small(x: np.ndarray, tolerance: float) -> np.ndarray:
    """Set |x| < tolerance to exactly 0."""
    x = np.asarray(x, dtype=np.float64).copy()
    x[np.abs(x) < tolerance] = 0.0
    return x


SMALL_N = 50
"""Up to this many nonzero differences the paired p value is exact (no normal approximation)."""
EXACT_TIES_N = 16
"""With tied |differences| the exact null is enumerated over all 2**n sign flips up to this n."""


def paired_p(x: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of paired differences ``x`` against 0, zeros dropped.

    Exact where it matters: the exact null distribution for up to :data:`SMALL_N` nonzero
    values (with tied magnitudes, every sign flip enumerated up to :data:`EXACT_TIES_N`), the
    normal approximation above. So ``min_count`` means what it says: 10 sequences that all move
    the same way give p = 2/1024, where the approximation gives 0.005.

    Returns 1.0 when no nonzero value is left and NaN for an empty input.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    nz = x[x != 0]
    m = nz.size
    if m == 0:
        return 1.0
    from scipy.stats import PermutationMethod, wilcoxon

    if m <= SMALL_N and np.unique(np.abs(nz)).size == m:
        return float(wilcoxon(nz, method="exact").pvalue)
    if m <= EXACT_TIES_N:  # n_resamples >= 2**m: scipy enumerates every sign flip, no randomness
        return float(min(1.0, wilcoxon(nz, method=PermutationMethod(n_resamples=2 ** m)).pvalue))
    return float(wilcoxon(nz, zero_method="wilcox", method="asymptotic").pvalue)


def effect_sd(diff: np.ndarray) -> float:
    """Standardized paired effect: mean / SD of the paired differences (Cohen's d_z); 0 if constant 0."""
    diff = np.asarray(diff, dtype=np.float64)
    if diff.size < 2:
        return float("nan")
    sd = float(diff.std(ddof=1))
    mean = float(diff.mean())
    if sd == 0:
        return 0.0 if mean == 0 else float(np.sign(mean) * np.inf)
    return mean / sd


def subset_column(stat: str, subset: str) -> str:
    """The results column of ``stat`` (n, mean, control_mean, effect, p, q) for ``subset``."""
    if subset == "pooled":
        return {"n": "count", "mean": "avg_loss_diff", "control_mean": "control_mean", "effect": "effect",
                "control_effect": "control_effect", "p": "p_vs_control", "q": "q_vs_control"}[stat]
    prefix = {"p": "p_vs_control", "q": "q_vs_control"}.get(stat, stat)
    return f"{prefix}_{subset}"


def summarize(deltas: np.ndarray, sham: np.ndarray, labels: np.ndarray, flips: np.ndarray, sham_flips: np.ndarray,
              thresholds: Thresholds, rng: np.random.Generator, effect: np.ndarray | None = None,
              control_effect: np.ndarray | None = None, checks: list[tuple] | None = None) -> dict:
    """All statistics of one test row, and its verdict as if it were the whole family.

    Parameters
    ----------
    deltas, sham : (n,) float64
        Per-sequence mean delta of the test and of its control on the same sequences (nats in
        loss mode, the output's scale in prediction mode).
    labels : (n,) int; -1 where unlabeled
    flips, sham_flips : (n,) float
        Per-sequence share of perturbations that changed the predicted class.
    effect, control_effect : (n,) float64, optional
        The same deltas on the comparable (probability) scale; default: ``deltas`` and ``sham``.
    checks : list of (status, against_name, arm, against, arm_prob, against_prob), optional
        Alternative explanations (:class:`motifprobe.engine.perturbation.Check`) as per-sequence
        arrays: per subset, the paired p of ``arm - against`` and its mean on the comparable scale
        (columns named by ``against_name``).

    Returns
    -------
    dict
        Columns of the results table (see README, "Output columns"). :func:`decide` over the
        rows of a run recomputes q values, verdicts and reasons over the whole family.
    """
    t = thresholds
    deltas, sham = zero_small(deltas, t.tolerance), zero_small(sham, t.tolerance)
    scale_known = effect is not None and control_effect is not None and bool(
        np.all(np.isfinite(effect)) and np.all(np.isfinite(control_effect)))
    e = zero_small(effect, t.tolerance) if scale_known else deltas
    ce = zero_small(control_effect, t.tolerance) if scale_known else sham
    n = int(deltas.size)
    row: dict = {"count": n, "n_nonzero": int(np.count_nonzero(deltas)),
                 "effect_scale": "probability" if scale_known else "delta"}
    nan = float("nan")
    if n == 0:
        row.update(effect_size=0.0, avg_loss_diff=nan, median=nan, ci_low=nan, ci_high=nan, p_vs_zero=nan,
                   p_vs_control=nan, control_mean=nan, effect=nan, control_effect=nan, effect_sd=nan,
                   rank_biserial=nan, flip_rate=nan, control_flip_rate=nan,
                   note="no test sequence contains the motif(s)",
                   checks=",".join(f"{c[0]}:{c[1]}" for c in checks or ()))
        for s in STRATA[1:]:
            row.update({subset_column(k, s): (0 if k == "n" else nan)
                        for k in ("n", "mean", "control_mean", "effect", "control_effect", "p")})
        return decide_row(row, t)
    diff = zero_small(deltas - sham, t.tolerance)
    ediff = zero_small(e - ce, t.tolerance)
    ci_low, ci_high = mean_ci(deltas, rng, t.n_bootstrap)
    row.update(
        effect_size=float(deltas.sum()), avg_loss_diff=float(deltas.mean()), median=float(np.median(deltas)),
        ci_low=ci_low, ci_high=ci_high, p_vs_zero=wilcoxon_p(deltas), control_mean=float(sham.mean()),
        effect_sd=effect_sd(ediff), rank_biserial=rank_biserial(ediff),
        flip_rate=float(np.nanmean(flips)) if np.isfinite(flips).any() else nan,
        control_flip_rate=float(np.nanmean(sham_flips)) if np.isfinite(sham_flips).any() else nan)
    for stratum in STRATA:
        sel = np.ones(n, bool) if stratum == "pooled" else labels == int(stratum[-1])
        k = int(sel.sum())
        row[subset_column("n", stratum)] = k
        row[subset_column("mean", stratum)] = float(deltas[sel].mean()) if k else nan
        row[subset_column("control_mean", stratum)] = float(sham[sel].mean()) if k else nan
        row[subset_column("effect", stratum)] = float(ediff[sel].mean()) if k else nan
        row[subset_column("control_effect", stratum)] = float(ce[sel].mean()) if k else nan
        row[subset_column("p", stratum)] = paired_p(diff[sel]) if k else nan
    row["checks"] = ",".join(f"{c[0]}:{c[1]}" for c in checks or ())
    for status, key, arm, against, arm_prob, against_prob in checks or ():
        cdiff = zero_small(np.asarray(arm, np.float64) - np.asarray(against, np.float64), t.tolerance)
        cprob = np.asarray(arm_prob, np.float64) - np.asarray(against_prob, np.float64)
        ceff = zero_small(cprob, t.tolerance) if scale_known and np.all(np.isfinite(cprob)) else cdiff
        for stratum in STRATA:
            sel = np.ones(n, bool) if stratum == "pooled" else labels == int(stratum[-1])
            k = int(sel.sum())
            row[_check_key(key, "p", stratum)] = paired_p(cdiff[sel]) if k else nan
            row[_check_key(key, "effect", stratum)] = float(ceff[sel].mean()) if k else nan
    notes = []
    if row["n_nonzero"] == 0:
        notes.append("all deltas are 0: the model's output did not change")
    if n < t.min_count:
        notes.append(f"only {n} sequences (< min_count {t.min_count})")
    row["note"] = "; ".join(notes)
    return decide_row(row, t)


# The order in which a row's subsets support its call: pooled first, then positives (ablating
# what a positive needs raises its loss), then negatives.
CALL_ORDER = ("pooled", "label1", "label0")


def tested_subsets(row: dict, thresholds: Thresholds) -> list[str]:
    """The subsets of a row that enter the family: at least ``min_count`` sequences and a p value;
    a label subset holding every sequence of the row is the pooled test again and is left out."""
    if row.get("verdict") == "error":
        return []
    out = []
    pooled = row.get(subset_column("n", "pooled"), 0)
    for s in STRATA:
        n = row.get(subset_column("n", s), 0)
        p = row.get(subset_column("p", s), float("nan"))
        if s != "pooled" and n == pooled:  # every sequence has this label: the pooled test already is this one
            continue
        if _number(n) and int(n) >= thresholds.min_count and _number(p):
            out.append(s)
    return out


def _number(x) -> bool:
    """A finite number (pandas hands back NaN for missing cells)."""
    return isinstance(x, numbers.Real) and math.isfinite(x)


def _fmt(x: float) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.3g}"


CHECK_SHARE = 0.25
"""A check holds when it reaches min_effect or this share of the call's own effect, whichever is
smaller (a motif shuffled in place loses some, not all, of a motif model's effect: k-mers survive)."""


def _basis(row: dict, tested: list[str], called: list[str]) -> str:
    """The subset that decides a row: the first called one (:data:`CALL_ORDER`), else the tested
    one closest to a call (lowest q)."""
    if called:
        return called[0]
    if tested:
        return min(tested, key=lambda s: (row[subset_column("q", s)], CALL_ORDER.index(s)))
    return ""


def _check_key(against: str, stat: str, subset: str) -> str:
    """Columns of a check are named by the arm it reads against (unique within a test)."""
    return f"check_{against}_{stat}_{subset}"


def _decide_records(records: list[dict], t: Thresholds) -> list[dict]:
    """Verdicts of a family of rows (see :func:`decide`); rows are updated in place and returned."""
    # 1. the tests against their matched controls: one family over every tested subset
    family, where = [], []
    for i, row in enumerate(records):
        for s in tested_subsets(row, t):
            family.append(row[subset_column("p", s)])
            where.append((i, s))
    for row in records:
        for s in STRATA:
            row[subset_column("q", s)] = float("nan")
    for (i, s), q in zip(where, benjamini_hochberg(np.asarray(family, dtype=np.float64))):
        records[i][subset_column("q", s)] = float(q)
    calls = []
    for row in records:
        tested = tested_subsets(row, t)
        called = [s for s in CALL_ORDER if s in tested and row[subset_column("q", s)] < t.alpha
                  and abs(row[subset_column("effect", s)]) >= t.min_effect]
        calls.append((tested, called, _basis(row, tested, called)))
    # 2. the alternative explanations of the calls (a second family: one check per call and check)
    family, where = [], []
    for i, (row, (_, called, basis)) in enumerate(zip(records, calls)):
        for _, key in _checks_of(row):
            row[f"check_{key}_q"] = float("nan")
            p = row.get(_check_key(key, "p", basis)) if called else None
            if _number(p):
                family.append(p)
                where.append((i, key))
    for (i, key), q in zip(where, benjamini_hochberg(np.asarray(family, dtype=np.float64))):
        records[i][f"check_{key}_q"] = float(q)
    for row, (tested, called, basis) in zip(records, calls):
        _verdict(row, t, tested, called, basis)
    return records


def _checks_of(row: dict) -> list[tuple[str, str]]:
    """(status, against) of each check of a row, from its ``checks`` column ("status:against,...")."""
    checks = row.get("checks")
    if not isinstance(checks, str):
        return []
    return [tuple(c.split(":", 1)) if ":" in c else (c, c) for c in checks.split(",") if c]


def _verdict(row: dict, t: Thresholds, tested: list[str], called: list[str], basis: str) -> None:
    """Verdict, direction, called subsets, the deciding subset's statistics and the reason."""
    nan = float("nan")
    row["called_in"] = ",".join(s for s in STRATA if s in called)
    row.update(check="", check_effect=nan, check_q=nan)
    if row.get("verdict") == "error":
        row.update(called_in="", direction="", subset="", subset_effect=nan, subset_control=nan, subset_q=nan,
                   reason=str(row.get("note") or "error"))
        return
    scale = "" if row.get("effect_scale") == "probability" else " (delta scale)"
    row["subset"] = basis
    if not basis:
        row.update(verdict="untestable", direction="", subset_effect=nan, subset_control=nan, subset_q=nan,
                   reason=(f"no subset has min_count {t.min_count} sequences" if row.get("count", 0)
                           else "no test sequence contains the motif(s)"))
        return
    eff, q = row[subset_column("effect", basis)], row[subset_column("q", basis)]
    ctl = row[subset_column("control_effect", basis)]
    row.update(subset_effect=eff, subset_control=ctl, subset_q=q)
    n = int(row[subset_column("n", basis)])
    if not called:
        why = []
        if not q < t.alpha:
            why.append(f"q {_fmt(q)} >= {t.alpha:g}")
        if not abs(eff) >= t.min_effect:
            why.append(f"|effect| {_fmt(abs(eff))}{scale} < {t.min_effect:g}")
        row.update(verdict="none", direction="", reason=f"closest subset {basis} (n {n}): " + " and ".join(why))
        return
    sign = 1.0 if eff >= 0 else -1.0
    row.update(verdict="effect", direction="+" if sign > 0 else "-",
               reason=f"{basis}: effect {_fmt(eff)}{scale} beyond the control's {_fmt(ctl)}, q {_fmt(q)} < {t.alpha:g}, "
                      f"n {n}")
    for status, key in _checks_of(row):
        c_eff, c_q = row.get(_check_key(key, "effect", basis), nan), row.get(f"check_{key}_q", nan)
        row.update(check=status, check_effect=c_eff, check_q=c_q)
        need = min(t.min_effect, CHECK_SHARE * abs(eff))
        holds = _number(c_q) and c_q < t.alpha and _number(c_eff) and abs(c_eff) >= need and c_eff * sign > 0
        if not holds:
            row.update(verdict=status, reason=row["reason"] + f"; but against {key} it is only {_fmt(c_eff)}{scale} "
                                                              f"(q {_fmt(c_q)}, needs {_fmt(need)}): explained by {status}")
            return
        row["reason"] += f"; against {key} {_fmt(c_eff)} (q {_fmt(c_q)}) holds"


def decide_row(row: dict, thresholds: Thresholds) -> dict:
    """The verdict of one row as if it were the whole family (see :func:`decide`)."""
    return _decide_records([row], thresholds)[0]


def decide(table, thresholds: Thresholds):
    """Family-wide q values and verdicts for a results table (a run, or every model of a compare).

    The family is every tested subset (:func:`tested_subsets`) of every row: the test against
    its matched control, paired. q values are Benjamini-Hochberg over it (``q_vs_control``,
    ``q_vs_control_label0/1``). A subset calls an effect when q < alpha and |effect| >=
    min_effect; the row's deciding ``subset`` is the first called one (pooled, then label 1,
    then label 0), else the one closest to a call. A call must then survive each of the test's
    checks (alternative explanations, e.g. composition, position) in that subset: the checks of
    every call form a second family, BH-corrected likewise; a check holds when its q < alpha, its
    effect has the call's sign and reaches min_effect or :data:`CHECK_SHARE` of the call's
    effect (whichever is smaller); one that does not turns the verdict into its name. Every row gets ``subset_effect``,
    ``subset_control``, ``subset_q``, ``check``, ``check_effect``, ``check_q`` and a ``reason``.
    Returns a new table.
    """
    import pandas as pd

    records = _decide_records(table.to_dict("records"), thresholds)
    out = pd.DataFrame(records, index=table.index)
    return out[[c for c in table.columns] + [c for c in out.columns if c not in table.columns]]
