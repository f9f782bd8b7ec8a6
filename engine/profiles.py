"""Profiles: per-point statistics of insertion tests, their summary rows, and their scores.

An insertion test (:mod:`motifprobe.engine.insertion`) has one arm per *point* of a profile
(a gap, a strand combination, a copy count, a position) and control arms. The deltas file keeps,
per background, each arm's change of P(class 1) from the background (``prob_arm_<arm>``; the
model's own output scale, ``arm_<arm>``, for a model without probabilities). Per point:

- ``effect``: mean over backgrounds of (arm change - control change), paired per background;
  + means inserting the motif(s) this way raises the prediction beyond inserting the same bases
  shuffled;
- ``ci_low``, ``ci_high``: the 95% t-interval of that mean (``mean ± t(0.975, n-1) * sd / sqrt(n)``:
  analytic, so a 100-point profile costs no resampling; with hundreds of backgrounds it matches a
  bootstrap);
- ``p_value``: :func:`motifprobe.engine.stats.paired_p` of the paired differences (Wilcoxon,
  exact for small n); ``q_value``: Benjamini-Hochberg over the points of one profile;
- ``called``: q below ``alpha`` and |effect| at least ``min_effect``.

The profile's row in the results table calls an ``effect`` when some point is called and the
curve is not flat: within one order (spacing) or across the points (the others) its effects
span at least ``min_effect`` and :data:`FLAT_SHARE` of the peak's |effect|. A curve that is high
everywhere (a k-mer model reading presence) says nothing about spacing: its verdict is ``none``.
Its ``effect`` is the peak's. These rows are not in the family of the other tests' q values
(each profile has its own BH over its points).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from motifprobe.engine.stats import Thresholds, benjamini_hochberg, paired_p, zero_small

PROFILE_COLUMNS = ["model", "test", "feature", "motifs", "arm", "point", "point_label", "order", "n", "effect",
                   "ci_low", "ci_high", "control", "p_value", "q_value", "called", "expected"]
OUTSIDE_SHARE = 0.5
"""Scoring a spacing profile against its planted window: called points away from the window
(the other order, or a second peak) must stay below this share of the peak's for a ``hit``."""
WINDOW_OVERLAP = 0.5
"""Scoring against a planted window: the preferred window must overlap it at least this much
(intersection over union of the profile's points) for a ``hit``."""
WINDOW_SHARE = 0.5
"""The preferred window: the run of gaps around the peak whose effect reaches this share of it."""
FLAT_SHARE = 0.25
"""A curve is flat when its span (within one order) is below ``min_effect`` or this share of its peak's |effect|:
a k-mer model's spacing curve moves a little at short gaps (junction k-mers), not like a learned window."""


def _arm(g: pd.DataFrame, name: str) -> np.ndarray:
    """Per background, an arm's change on the probability scale (else the output's own scale)."""
    for col in (f"prob_arm_{name}", f"arm_{name}"):
        if col in g:
            values = g[col].to_numpy(np.float64)
            if np.all(np.isfinite(values)):
                return values
    return np.full(len(g), np.nan)


def point_stats(arm: np.ndarray, control: np.ndarray, tolerance: float = 1e-6) -> dict[str, float]:
    """n, effect, 95% CI, mean control change and paired p of one point (see the module docstring)."""
    from scipy.stats import t as student

    diff = zero_small(np.asarray(arm, np.float64) - np.asarray(control, np.float64), tolerance)
    diff = diff[np.isfinite(diff)]
    n = int(diff.size)
    nan = float("nan")
    if n == 0:
        return {"n": 0, "effect": nan, "ci_low": nan, "ci_high": nan, "control": nan, "p_value": nan}
    mean = float(diff.mean())
    half = float(student.ppf(0.975, n - 1) * diff.std(ddof=1) / np.sqrt(n)) if n > 1 else nan
    ctl = np.asarray(control, np.float64)
    return {"n": n, "effect": mean, "ci_low": mean - half, "ci_high": mean + half,
            "control": float(np.nanmean(ctl)) if np.isfinite(ctl).any() else nan, "p_value": paired_p(diff)}


def _unpack(deltas: Any, units: Any) -> tuple[pd.DataFrame, list[dict]]:
    if hasattr(deltas, "deltas") and hasattr(deltas, "metadata"):  # an InterpretResult or CompareResult
        return deltas.deltas, list(units or deltas.metadata.get("units", []))
    return deltas, list(units or [])


def _rule_window(rule: Any, feature: str, motifs: tuple[str, ...]) -> tuple[tuple[int, int], str] | None:
    """The planted window of a profile, and the order (AB/BA of ``motifs``) it holds in."""
    if rule is None or not hasattr(rule, "profile_window"):
        return None
    try:
        window = rule.profile_window(feature, motifs)
    except Exception:  # noqa: BLE001 - a rule plugin's fault costs the expectation, not the table
        return None
    if window is None:
        return None
    pos = tuple(getattr(rule, "pos_motifs", ()))[:2]
    order = "AB" if tuple(motifs) == pos else "BA"
    return (int(window[0]), int(window[1])), order


def _as_rule(rule: Any, registry: Any) -> Any:
    from motifprobe.engine.errors import MotifprobeError
    from motifprobe.engine.rules import as_rule

    try:
        return as_rule(rule, registry)
    except MotifprobeError:
        return None


def unit_profile(g: pd.DataFrame, unit: dict, thresholds: Thresholds, window: Any = None) -> pd.DataFrame:
    """The profile table rows of one unit of one model, from its rows ``g`` of the deltas file."""
    rows = []
    for point in unit.get("profile") or []:
        stats = point_stats(_arm(g, point["arm"]), _arm(g, point["control"]), thresholds.tolerance)
        x = point.get("point")
        x = float("nan") if x is None else float(x)
        expected = ""
        if window is not None and np.isfinite(x):
            (lo, hi), order = window
            expected = "inside" if point.get("order") == order and lo <= x <= hi else "outside"
        rows.append({"model": unit["model"], "test": unit["test"], "feature": unit.get("feature", ""),
                     "motifs": unit["motifs"], "arm": point["arm"], "point": x, "point_label": point["label"],
                     "order": point.get("order", ""), **stats, "expected": expected})
    frame = pd.DataFrame(rows, columns=[c for c in PROFILE_COLUMNS if c not in ("q_value", "called")])
    frame["q_value"] = benjamini_hochberg(frame["p_value"].to_numpy(np.float64)) if len(frame) else []
    frame["called"] = (frame["q_value"] < thresholds.alpha) & (frame["effect"].abs() >= thresholds.min_effect)
    frame["n"] = frame["n"].astype(np.int64)
    return frame[PROFILE_COLUMNS]


def _groups(deltas: pd.DataFrame) -> dict:
    if not len(deltas):
        return {}
    return {key: g for key, g in deltas.groupby(["model", "test", "motifs", "test_params"], sort=False)}


def profile_table(deltas: Any, units: list[dict] | None = None, *, thresholds: Thresholds | None = None,
                  rule: Any = None, registry: Any = None) -> pd.DataFrame:
    """The profile table: one row per point of every insertion unit (columns :data:`PROFILE_COLUMNS`).

    Parameters
    ----------
    deltas : DataFrame, InterpretResult or CompareResult
        The per-background deltas (a result: its ``deltas`` and ``metadata['units']``).
    units : list of dict, optional
        The unit records (:func:`motifprobe.engine.interpret.unit_record`); units without a
        ``profile`` are skipped.
    thresholds : Thresholds, optional
        ``alpha`` and ``min_effect`` of ``called``.
    rule : Rule or dict, optional
        The planted rule: where it states a window (:meth:`motifprobe.Rule.profile_window`),
        ``expected`` says whether each point lies ``inside`` or ``outside`` it.
    """
    deltas, units = _unpack(deltas, units)
    thresholds = thresholds or Thresholds()
    rule = _as_rule(rule, registry)
    groups = _groups(deltas)
    frames = []
    for unit in units:
        if not unit.get("profile") or unit.get("status") == "error":
            continue
        g = groups.get((unit["model"], unit["test"], unit["motifs"], unit["test_params"]))
        if g is None:
            continue
        window = _rule_window(rule, unit.get("feature", ""), tuple(str(unit["motifs"]).split("+")))
        frames.append(unit_profile(g, unit, thresholds, window))
    if not frames:
        return pd.DataFrame(columns=PROFILE_COLUMNS)
    return pd.concat(frames, ignore_index=True)


# -- the results-table row of a profile -----------------------------------------------------------
def preferred_window(profile: pd.DataFrame, share: float = WINDOW_SHARE,
                     at: pd.Series | None = None) -> tuple[str, float, float]:
    """(order, first gap, last gap) of the run of points around the peak (largest effect, or the
    point ``at``) whose effect reaches ``share`` of the peak's, in the peak's order; ("", NaN, NaN)
    without a positive peak."""
    nan = float("nan")
    if not len(profile) or not (profile["effect"] > 0).any():
        return "", nan, nan
    peak = profile.loc[profile["effect"].idxmax()] if at is None else at
    curve = profile[profile["order"] == peak["order"]].sort_values("point").reset_index(drop=True)
    at = int(np.flatnonzero(curve["point"].to_numpy() == peak["point"])[0])
    high = curve["effect"].to_numpy() >= share * peak["effect"]
    lo = hi = at
    while lo > 0 and high[lo - 1]:
        lo -= 1
    while hi < len(curve) - 1 and high[hi + 1]:
        hi += 1
    return str(peak["order"]), float(curve["point"][lo]), float(curve["point"][hi])


def _span(profile: pd.DataFrame) -> float:
    """How far the curve moves: the largest max - min of the effects within one order."""
    spans = [g["effect"].max() - g["effect"].min() for _, g in profile.groupby("order", sort=False)]
    return float(max(spans)) if spans else float("nan")


def summary_row(profile: pd.DataFrame, unit: dict, thresholds: Thresholds) -> dict[str, Any]:
    """The results-table row of one profile (see the module docstring for its verdict)."""
    nan = float("nan")
    row: dict[str, Any] = {k: unit[k] for k in ("model", "test", "feature", "motifs")}
    row.update(deterministic=True, num_perturbs=1, mode="prediction", test_params=unit["test_params"],
               points=int(len(profile)), points_called=int(profile["called"].sum()) if len(profile) else 0)
    n = int(profile["n"].max()) if len(profile) else 0
    row.update(count=n, subset="profile", effect_scale="probability")
    if n < thresholds.min_count or not profile["effect"].notna().any():
        row.update(verdict="untestable", direction="", reason=f"only {n} backgrounds (< min_count {thresholds.min_count})")
        return row
    peak = profile.loc[profile["effect"].abs().idxmax()]
    span = _span(profile)
    order, lo, hi = preferred_window(profile) if unit.get("feature") == "spacing" else ("", nan, nan)
    where = f"{peak['order']} {peak['point_label']}".strip()
    row.update(effect=float(peak["effect"]), avg_loss_diff=float(peak["effect"]), control_mean=float(peak["control"]),
               control_effect=float(peak["control"]), ci_low=float(peak["ci_low"]),
               ci_high=float(peak["ci_high"]), p_vs_control=float(peak["p_value"]),
               q_vs_control=float(peak["q_value"]), subset_effect=float(peak["effect"]),
               subset_control=float(peak["control"]), subset_q=float(peak["q_value"]),
               peak=where, span=span, window=f"{order} {lo:g}-{hi:g}" if order else "")
    called = row["points_called"]
    head = f"{called} of {len(profile)} points called; peak {float(peak['effect']):+.3g} at {where}"
    if called and span >= max(thresholds.min_effect, FLAT_SHARE * abs(float(peak["effect"]))):
        row.update(verdict="effect", direction="+" if peak["effect"] >= 0 else "-", called_in="profile",
                   reason=head + f"; the curve spans {span:.3g}" + (f"; preferred window {row['window']} bp"
                                                                    if row["window"] else ""))
    else:
        need = max(thresholds.min_effect, FLAT_SHARE * abs(float(peak["effect"])))
        why = "no point called" if not called else f"flat: the curve spans only {span:.3g} < {need:.3g}"
        row.update(verdict="none", direction="", called_in="", reason=f"{head}; {why}")
    return row


def additivity(g: pd.DataFrame, unit: dict, thresholds: Thresholds) -> dict[str, Any]:
    """A dosage profile against additivity: per background, the effect of the most copies k minus
    k times the effect of one copy (probability scale), paired: ``saturating`` (less than
    additive), ``synergistic`` (more) or ``additive`` (q-free: p of this one test below ``alpha``
    and |difference| at least ``min_effect``)."""
    points = [p for p in unit.get("profile") or [] if p.get("point") is not None]
    if len(points) < 2 or g is None or not len(g):
        return {}
    one = min(points, key=lambda p: p["point"])
    most = max(points, key=lambda p: p["point"])
    k = float(most["point"]) / float(one["point"])
    d1 = _arm(g, one["arm"]) - _arm(g, one["control"])
    dk = _arm(g, most["arm"]) - _arm(g, most["control"])
    x = zero_small(dk - k * d1, thresholds.tolerance)
    x = x[np.isfinite(x)]
    if not x.size:
        return {}
    mean, p = float(x.mean()), paired_p(x)
    shape = "additive"
    if p < thresholds.alpha and abs(mean) >= thresholds.min_effect:
        shape = "saturating" if mean < 0 else "synergistic"
    return {"additivity": shape, "additivity_diff": mean, "additivity_p": p,
            "additivity_note": f"{most['label']} copies vs {k:g} x one copy: {mean:+.3g} (p {p:.3g}): {shape}"}


def summary_rows(deltas: pd.DataFrame, units: list[dict], thresholds: Thresholds,
                 profiles: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """The results-table rows of the insertion units among ``units`` (in their order); a dosage
    profile's row also says how it departs from additivity (:func:`additivity`). ``profiles``: the
    :func:`profile_table` of the same deltas, if already built (its points are not recomputed)."""
    groups = _groups(deltas)
    built = {key: g for key, g in profiles.groupby(["model", "test", "motifs"], sort=False)} \
        if profiles is not None and len(profiles) else {}
    rows = []
    for unit in units:
        g = groups.get((unit["model"], unit["test"], unit["motifs"], unit["test_params"]))
        profile = built.get((unit["model"], unit["test"], unit["motifs"]))
        if profile is None or len(profile) != len(unit.get("profile") or []):
            profile = unit_profile(g if g is not None else pd.DataFrame(), unit, thresholds)
        else:
            profile = profile.reset_index(drop=True)
        row = summary_row(profile, unit, thresholds)
        if unit.get("feature") == "dosage" and row.get("verdict") != "untestable":
            shape = additivity(g, unit, thresholds)
            if shape:
                row.update({k: v for k, v in shape.items() if k != "additivity_note"})
                row["reason"] = f"{row['reason']}; {shape['additivity_note']}"
        rows.append(row)
    return rows


# -- scoring against the planted rule ------------------------------------------------------------
def profile_status(profiles: pd.DataFrame, model: str, test: str, motifs: str) -> tuple[str, str] | None:
    """``(status, reason)`` of a profile against the window its ``expected`` column marks, or None
    when no window is known.

    ``hit`` when the curve peaks (largest effect) inside the planted window (a peak outside within
    the CI of the best point inside counts as inside: a plateau), its responding window (from the
    first to the last point of that order reaching half the best effect inside) overlaps the
    planted one by at least :data:`WINDOW_OVERLAP` (intersection over union of the points; a
    learned boundary may blur by a few bp; a second peak of that order widens it past that).
    Otherwise ``miss``: flat, peaking outside, too wide, or a second peak. A response of the
    other order above :data:`OUTSIDE_SHARE` of the peak is an order effect, which the ``order``
    test scores: it is named in the reason, not counted against spacing.
    """
    if profiles is None or not len(profiles):
        return None
    rows = profiles[(profiles["model"] == model) & (profiles["test"] == test) & (profiles["motifs"] == motifs)]
    if not len(rows) or not (rows["expected"] == "inside").any():
        return None
    inside = rows[rows["expected"] == "inside"]
    order = inside["order"].iloc[0]
    span = f"[{inside['point'].min():g}, {inside['point'].max():g}] bp ({order})"
    peak = rows.loc[rows["effect"].idxmax()]
    if not bool(rows["called"].any()) or peak["effect"] <= 0:
        return "miss", f"the curve is flat (no point called with a positive effect); planted window {span}"
    best_inside = inside.loc[inside["effect"].idxmax()]
    if peak["expected"] != "inside" and not best_inside["ci_high"] >= peak["effect"]:
        return "miss", (f"the curve peaks at {peak['order']} {peak['point_label']} bp ({peak['effect']:+.3g}), "
                        f"outside the planted window {span}")
    same = rows[rows["order"] == order]
    # the hull of every point reaching half the best inside: a noisy tail widens it a little, a second peak a lot
    high = same.loc[same["effect"] >= WINDOW_SHARE * best_inside["effect"], "point"]
    lo, hi = float(high.min()), float(high.max())
    estimated = set(same.loc[(same["point"] >= lo) & (same["point"] <= hi), "point"])
    planted = set(inside["point"])
    overlap = len(estimated & planted) / len(estimated | planted)
    found = f"responding window {order} {lo:g}-{hi:g} bp"
    if overlap < WINDOW_OVERLAP:
        return "miss", (f"peak {best_inside['effect']:+.3g} at {best_inside['point_label']} bp inside the planted window "
                        f"{span}, but the {found} overlaps it by only {overlap:.0%}")
    # Every point of this order reaching half the best inside lies in the hull, so a second peak of
    # this order already failed the overlap above. The other order is the order question (the `order` test scores it); the curve shows it, the reason says it.
    strong = rows["called"] & (rows["effect"] > OUTSIDE_SHARE * best_inside["effect"])
    other = rows[strong & (rows["order"] != order)]
    note = "nothing else in this order reaches half the peak"
    if len(other):
        worst = other.loc[other["effect"].idxmax()]
        note += (f"; the other order also responds at {len(other)} gap(s) (e.g. {worst['order']} "
                 f"{worst['point_label']} bp: {worst['effect']:+.3g}), an order effect the rule does not have")
    return "hit", (f"peak {best_inside['effect']:+.3g} at {best_inside['point_label']} bp inside the planted window {span}; "
                   f"{found} (overlap {overlap:.0%}); {note}")


# -- files ----------------------------------------------------------------------------------------
def profile_paths(out: str | Any) -> tuple[Any, Any]:
    """``results.csv`` -> ``results.profiles.parquet`` and ``results.profiles.csv`` beside it."""
    from pathlib import Path

    path = Path(out)
    return path.with_suffix(".profiles.parquet"), path.with_suffix(".profiles.csv")


def write_profiles(profiles: pd.DataFrame, parquet: Any, csv: Any, *, inputs=()) -> None:
    """Write the profile table as Parquet and CSV, each atomically (temp file, then rename)."""
    from motifprobe.engine.outputs import atomic_path

    with atomic_path(parquet, inputs=inputs, what="the profiles Parquet") as tmp:
        profiles.to_parquet(tmp, index=False)
    with atomic_path(csv, inputs=inputs, what="the profiles CSV") as tmp:
        profiles.to_csv(tmp, index=False)
