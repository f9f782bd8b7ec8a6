"""Figures of insertion profiles (spacing, orientation, dosage, position) and their report section.

A profile table has one row per model, profile test, motif set, arm and point (see
:data:`PROFILE_COLUMNS`): the effect of inserting the motif(s) into backgrounds on the model's
predicted probability of the positive class, beyond a shuffled-motif control, with its CI and
q value. Each (test, motifs) becomes one figure, with one curve per model (and per order of a
pair), its CI as a band, called points marked and, when the planted rule is known (``expected``),
its window shaded. matplotlib is imported inside the functions, so importing this module is cheap.
"""
from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from motifprobe.engine.errors import MotifprobeError

PROFILE_COLUMNS = ["model", "test", "feature", "motifs", "arm", "point", "point_label", "order", "n", "effect",
                   "ci_low", "ci_high", "control", "p_value", "q_value", "called", "expected"]
"""Columns of a profile table, in order (more may follow)."""
REQUIRED_COLUMNS = ["model", "test", "motifs", "point", "point_label", "effect", "ci_low", "ci_high", "called"]
"""The columns a figure cannot do without; the others default to empty."""
X_LABELS = {
    "spacing": "gap between the two motifs (bp, end of the first to start of the second)",
    "dosage": "copies of the motif inserted",
    "position": "insert position along the sequence (bp)",
    "orientation": "strands of the inserted motif(s)",
}
"""x-axis label (with unit) per profile kind; another test name gets "point"."""
Y_LABEL = "effect: Δ P(positive) beyond a shuffled-motif control\n(+ = inserting raises the prediction)"
WINDOW_COLOUR = "#f2d68a"
"""Fill of the planted window (or planted orientation) behind the curves."""
ORDER_STYLES = {"AB": "-", "BA": "--", "": "-"}
ORIENTATION_ORDER = ["++", "+-", "-+", "--", "+", "-"]
_PNG_META = {"Software": None}
_SVG_META = {"Date": None, "Creator": None}
_RC = {"svg.hashsalt": "motifprobe", "svg.fonttype": "path"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_profiles(profiles: pd.DataFrame) -> pd.DataFrame:
    """The profile table with every optional column present and typed; a missing required column is an error.

    Parameters
    ----------
    profiles : DataFrame
        A profile table (:data:`PROFILE_COLUMNS`).

    Returns
    -------
    DataFrame
        A copy: ``point`` and the statistics as floats, ``called`` as bool, ``order``,
        ``expected`` and ``point_label`` as str ("" where missing).

    Raises
    ------
    MotifprobeError
        When a column of :data:`REQUIRED_COLUMNS` is missing.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in profiles.columns]
    if missing:
        raise MotifprobeError(f"profile table lacks column(s) {', '.join(missing)}; "
                              f"a profile table has {', '.join(PROFILE_COLUMNS)}")
    table = profiles.copy()
    for col in ("order", "expected", "arm", "feature"):
        if col not in table:
            table[col] = ""
    for col in ("n", "control", "p_value", "q_value"):
        if col not in table:
            table[col] = np.nan
    for col in ("point", "effect", "ci_low", "ci_high", "control", "p_value", "q_value", "n"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    for col in ("model", "test", "motifs", "order", "expected", "point_label", "arm", "feature"):
        table[col] = table[col].fillna("").astype(str)
    table["called"] = table["called"].fillna(False).astype(bool)
    return table


def _kind(test: str, group: pd.DataFrame | None = None) -> str:
    """The profile kind: the rows' ``feature`` when it is one of :data:`X_LABELS` (the test
    ``strand`` probes ``orientation``), else the test's name."""
    features = [] if group is None else [f for f in pd.unique(group["feature"]) if f]
    for name in [*map(str, features), str(test)]:
        name = name.lower()
        for kind in X_LABELS:
            if name == kind or name.startswith(kind):
                return kind
    return str(test)


def _categorical(kind: str, group: pd.DataFrame) -> bool:
    return kind == "orientation" or not np.isfinite(group["point"].to_numpy(dtype=float)).any()


def _order_name(order: str, motifs: str) -> str:
    names = motifs.split("+")
    if order in ("AB", "BA") and len(names) == 2:
        first, second = names if order == "AB" else names[::-1]
        return f"{first} then {second}"
    return order


def _colours(plt, keys: list[str]) -> dict[str, Any]:
    cmap = plt.get_cmap("tab10")
    return {k: cmap(i % 10) for i, k in enumerate(keys)}


def _window_runs(points: np.ndarray, inside: np.ndarray) -> list[tuple[float, float]]:
    """[start, end] of each run of consecutive inside points, padded by half the local step."""
    order = np.argsort(points, kind="stable")
    points, inside = points[order], inside[order]
    step = float(np.min(np.diff(points))) if points.size > 1 else 1.0
    half = (step if step > 0 else 1.0) / 2
    runs: list[tuple[float, float]] = []
    start = None
    for i, (x, ok) in enumerate(zip(points, inside)):
        if ok and start is None:
            start = x
        if start is not None and (not ok or i == len(points) - 1):
            end = x if ok else points[i - 1]
            runs.append((start - half, end + half))
            start = None
    return runs


def _curve_panel(ax, group: pd.DataFrame, kind: str, motifs: str, plt) -> None:
    models = list(pd.unique(group["model"]))
    orders = [o for o in ("AB", "BA", "") if o in set(group["order"])] + \
        [o for o in pd.unique(group["order"]) if o not in ("AB", "BA", "")]
    by_order = len(models) == 1 and len(orders) > 1  # one model: colour the orders apart
    colours = _colours(plt, orders if by_order else models)
    known = group["expected"].isin(["inside", "outside"])
    if known.any():
        per_point = group[known].groupby("point")["expected"].agg(lambda e: (e == "inside").any())
        inside_orders = set(group.loc[group["expected"] == "inside", "order"])
        label = "planted window"
        if len(orders) > 1 and len(inside_orders) == 1:  # a window that holds in one order only
            label += f" ({_order_name(inside_orders.pop(), motifs)})"
        for k, (lo, hi) in enumerate(_window_runs(per_point.index.to_numpy(float), per_point.to_numpy(bool))):
            ax.axvspan(lo, hi, color=WINDOW_COLOUR, alpha=0.55, zorder=0, gid="planted-window",
                       label=label if k == 0 else None)
    additive = []
    for model in models:
        for order in orders:
            rows = group[(group["model"] == model) & (group["order"] == order)].sort_values("point")
            if not len(rows):
                continue
            colour = colours[order if by_order else model]
            name = ", ".join(filter(None, [model if len(models) > 1 or not by_order else "",
                                           _order_name(order, motifs)])) or model
            x = rows["point"].to_numpy(float)
            ax.fill_between(x, rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float), color=colour,
                            alpha=0.18, linewidth=0, zorder=1, gid="ci-band")
            ax.plot(x, rows["effect"].to_numpy(float), ORDER_STYLES.get(order, ":") if not by_order else "-",
                    color=colour, marker=".", markersize=4, linewidth=1.6, zorder=2, label=name, gid="curve")
            called = rows[rows["called"]]
            if len(called):
                ax.scatter(called["point"], called["effect"], s=42, color=colour, edgecolors="black",
                           linewidths=0.8, zorder=3, gid="called")
            one = rows[rows["point"] == 1.0]["effect"]
            if kind == "dosage" and len(one) and np.isfinite(one.iloc[0]):
                additive.append((x, x * float(one.iloc[0]), colour))
    if additive:
        # limits from the curves alone: an additive line running off the top must not squash them
        ax.autoscale_view()
        ax.set_autoscale_on(False)
        for k, (x, y, colour) in enumerate(additive):
            ax.plot(x, y, ":", color=colour, linewidth=1.0, zorder=1, gid="additive",
                    label="dotted: additive (copies × effect of one copy)" if k == 0 else None)
    if kind == "dosage":
        ax.xaxis.get_major_locator().set_params(integer=True)


def _category_panel(ax, group: pd.DataFrame, motifs: str, plt) -> None:
    models = list(pd.unique(group["model"]))
    colours = _colours(plt, models)
    several_orders = group["order"].nunique() > 1
    keys = (group["order"] + " " + group["point_label"]).str.strip() if several_orders else group["point_label"]
    group = group.assign(_key=keys.to_numpy())
    present = list(pd.unique(group["_key"]))
    cats = [c for c in ORIENTATION_ORDER if c in present] + [c for c in present if c not in ORIENTATION_ORDER]
    width = 0.7 / max(len(models), 1)
    inside = set(group.loc[group["expected"] == "inside", "_key"])
    first = True
    for i, cat in enumerate(cats):
        if cat in inside:
            ax.axvspan(i - 0.45, i + 0.45, color=WINDOW_COLOUR, alpha=0.55, zorder=0, gid="planted-window",
                       label="planted orientation" if first else None)
            first = False
    for m, model in enumerate(models):
        rows = group[group["model"] == model]
        # one row per category (the first, should the table repeat one)
        rows = rows.drop_duplicates("_key").set_index("_key").reindex(cats)
        x = np.arange(len(cats)) + (m - (len(models) - 1) / 2) * width
        eff = rows["effect"].to_numpy(float)
        lo = rows["ci_low"].to_numpy(float)
        hi = rows["ci_high"].to_numpy(float)
        err = np.vstack([np.where(np.isfinite(lo), eff - lo, 0), np.where(np.isfinite(hi), hi - eff, 0)])
        called = rows["called"].fillna(False).to_numpy(bool)
        container = ax.errorbar(x, eff, yerr=np.clip(err, 0, None), fmt="o", color=colours[model],
                                ecolor=colours[model],
                                capsize=4, markersize=6, markerfacecolor="white", zorder=2, label=model)
        container.lines[0].set_gid("curve")
        if called.any():
            ax.scatter(x[called], eff[called], s=42, color=colours[model], edgecolors="black", linewidths=0.8,
                       zorder=3, gid="called")
    ax.set_xticks(range(len(cats)), cats)
    ax.set_xlim(-0.6, len(cats) - 0.4)


def profile_figure(profiles: pd.DataFrame, test: str, motifs: str):
    """One profile as a matplotlib Figure (not saved; the caller closes it).

    Parameters
    ----------
    profiles : DataFrame
        A profile table (:data:`PROFILE_COLUMNS`); rows of other tests or motif sets are ignored.
    test, motifs : str
        The profile to draw (e.g. ``"spacing"``, ``"GATA_known1+TAL1_known1"``).

    Returns
    -------
    matplotlib.figure.Figure
        Spacing, dosage and position: effect against the point, one line per model (and per
        order of a pair, dashed for BA), the CI as a band; orientation (or any profile without
        numeric points): effect with CI bars per strand combination, models side by side. Called
        points are filled, black-edged markers; points whose ``expected`` is "inside" are shaded
        (the planted window); the dashed line is 0. Artists carry gids ``curve``, ``ci-band``,
        ``called``, ``planted-window`` (and ``additive`` for dosage) so a test can find them.

    Raises
    ------
    MotifprobeError
        A required column is missing, or no row has this test and motif set.
    """
    plt = _plt()
    table = check_profiles(profiles)
    group = table[(table["test"] == str(test)) & (table["motifs"] == str(motifs))]
    if not len(group):
        raise MotifprobeError(f"no profile rows for test {test!r} and motifs {motifs!r}; the table has "
                              + ", ".join(sorted({f"{t} {m}" for t, m in zip(table['test'], table['motifs'])})))
    kind = _kind(test, group)
    categorical = _categorical(kind, group)
    fig, ax = plt.subplots(figsize=(6.8 if not categorical else max(5.2, 1.1 * group["point_label"].nunique() + 3),
                                    5.0))
    if categorical:
        _category_panel(ax, group, str(motifs), plt)
    else:
        _curve_panel(ax, group, kind, str(motifs), plt)
    ax.axhline(0, color="grey", linewidth=0.8, linestyle="--", zorder=1)
    ax.set_xlabel(X_LABELS.get(kind, "point"), fontsize=9)
    ax.set_ylabel(Y_LABEL, fontsize=9)
    ax.tick_params(labelsize=8)
    n = group["n"].to_numpy(float)
    n_text = f"; {int(np.nanmedian(n))} backgrounds per point" if np.isfinite(n).any() else ""
    models = list(pd.unique(group["model"]))
    name = kind if kind == str(test) else f"{kind} ({test})"
    ax.set_title(f"{name} profile of {motifs}\n{', '.join(models)}{n_text}", fontsize=10)
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    if (group["called"]).any():
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="grey", markeredgecolor="black"))
        labels.append("called (q < alpha, |effect| ≥ min_effect)")
    # Below the axes: inside, it hides the very curves a reader compares.
    ax.legend(handles, labels, fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16),
              ncol=2 if len(labels) > 3 else 1, frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def _long_deltas(deltas: pd.DataFrame, arms: list[str], controls: dict[str, str] | None,
                 arm_column: str, value: str, control: str) -> pd.DataFrame:
    """``model``, ``arm``, ``value``, ``control`` per background and arm, from a long or a wide deltas frame."""
    if "model" not in deltas.columns:
        raise MotifprobeError("deltas lack column model")
    if arm_column in deltas.columns:
        if value not in deltas.columns:
            raise MotifprobeError(f"deltas lack column {value}; need model, {arm_column}, {value}")
        known = list(pd.unique(deltas[arm_column].astype(str)))
        unknown = [a for a in arms if str(a) not in known]
        if unknown:
            raise MotifprobeError(f"arm(s) {', '.join(map(str, unknown))} not in the deltas; "
                                  f"arms: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''}")
        sel = deltas[deltas[arm_column].astype(str).isin([str(a) for a in arms])]
        return pd.DataFrame({"model": sel["model"].astype(str).to_numpy(),
                             "arm": sel[arm_column].astype(str).to_numpy(), "value": sel[value].to_numpy(float),
                             "control": sel[control].to_numpy(float) if control in sel.columns else np.nan})
    # the deltas file of insertion tests: one column per arm, prob_arm_<arm> (else arm_<arm>)
    prefix = "prob_arm_" if any(str(c).startswith("prob_arm_") for c in deltas.columns) else "arm_"
    known = [c[len(prefix):] for c in deltas.columns if c.startswith(prefix)]
    unknown = [a for a in arms if f"{prefix}{a}" not in deltas.columns]
    if unknown:
        raise MotifprobeError(f"arm(s) {', '.join(map(str, unknown))} not in the deltas; "
                              f"arms: {', '.join(known[:20]) or '(none)'}{' ...' if len(known) > 20 else ''}")
    frames = []
    for arm in arms:
        name = f"{prefix}{(controls or {}).get(arm, 'control')}"
        frames.append(pd.DataFrame({"model": deltas["model"].astype(str).to_numpy(), "arm": str(arm),
                                    "value": deltas[f"{prefix}{arm}"].to_numpy(float),
                                    "control": deltas[name].to_numpy(float) if name in deltas.columns else np.nan}))
    long = pd.concat(frames, ignore_index=True)
    return long[np.isfinite(long["value"])]  # rows of other tests have no value for these arms


def point_deltas_figure(deltas: pd.DataFrame, arms: list[str], *, controls: dict[str, str] | None = None,
                        arm_column: str = "arm", value: str = "delta", control: str = "control_delta",
                        max_points: int = 5000, seed: int = 0):
    """Per-background changes at chosen profile points (arms) beside their control's, as violins (on demand).

    Parameters
    ----------
    deltas : DataFrame
        Either the deltas file of insertion tests (one row per model and background, one column
        ``prob_arm_<arm>`` (else ``arm_<arm>``) per arm: the change of the prediction from the
        background), or a long frame with ``model``, ``arm_column`` and ``value`` (and
        ``control``) per background and arm.
    arms : list of str
        The arms to draw, in order (e.g. the points of a spacing curve worth a closer look).
    controls : dict of str to str, optional
        Wide form: the control arm each arm is read against (default ``control``).
    arm_column, value, control : str
        Long form: column names of the arm, the per-background change and its control's.
    max_points : int
        At most this many values per violin (a seeded random sample).
    seed : int
        Seed of that sample.

    Returns
    -------
    matplotlib.figure.Figure
        One violin per arm and model (model colour) with its control beside it (grey), on one
        shared y axis; the dashed line is 0. Not saved; the caller closes it (:func:`save_figure`).

    Raises
    ------
    MotifprobeError
        A column is missing, ``arms`` is empty, or an arm is not in the frame (the error lists those that are).
    """
    if not arms:
        raise MotifprobeError("no arm given: name one or more profile arms (the profile table's arm column)")
    long = _long_deltas(deltas, [str(a) for a in arms], controls, arm_column, value, control)
    plt = _plt()
    rng = np.random.default_rng(seed)
    models = list(pd.unique(long["model"]))
    colours = _colours(plt, models)
    has_control = bool(long["control"].notna().any())

    from motifprobe.engine.report import draw_violin, sample_values

    step = len(models) * (2 if has_control else 1) + 1
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * step * len(arms) + 1.5), 3.8))
    ticks = []
    for i, arm in enumerate(arms):
        pos = i * step
        sel = long["arm"] == str(arm)
        for model in models:
            rows = long[sel & (long["model"] == model)]
            draw_violin(ax, sample_values(rows["value"], rng, max_points), pos, colours[model], width=0.8,
                        alpha=0.9, gid=f"delta {model} {arm}")
            if has_control:
                draw_violin(ax, sample_values(rows["control"], rng, max_points), pos + 1, "#bbbbbb", width=0.8,
                            alpha=0.9, gid=f"control {model} {arm}")
            pos += 2 if has_control else 1
        ticks.append((i * step + pos - 1) / 2)
    ax.axhline(0, color="grey", linewidth=0.8, linestyle="--", zorder=0)
    ax.set_xticks(ticks, [str(a) for a in arms], fontsize=8)
    ax.set_ylabel("per-background change of the prediction\n(+ = inserting raises it)", fontsize=9)
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colours[m], label=m) for m in models]
    if has_control:
        handles.append(Patch(facecolor="#bbbbbb", label="its shuffled-motif control"))
    ax.legend(handles=handles, fontsize=7.5, loc="best")
    ax.set_title("Per-background effects at chosen profile points", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))


def save_figure(fig, stem: str | Path, formats: tuple[str, ...] = ("png", "svg")) -> dict[str, Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.svg`` (atomically, no date or software stamp) and close it.

    Returns
    -------
    dict of str to Path
        Format -> file. Saving the same figure twice gives the same bytes.
    """
    import matplotlib

    from motifprobe.engine.outputs import atomic_path

    plt = _plt()
    out: dict[str, Path] = {}
    try:
        with matplotlib.rc_context(_RC):
            for fmt in formats:
                if fmt not in ("png", "svg"):
                    raise MotifprobeError(f"figure format {fmt!r} is not one of png, svg")
                path = Path(f"{stem}.{fmt}")
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, format=fmt, dpi=110, bbox_inches="tight",
                                metadata=_PNG_META if fmt == "png" else _SVG_META)
                out[fmt] = path
    finally:
        plt.close(fig)
    return out


def profile_keys(profiles: pd.DataFrame) -> list[tuple[str, str]]:
    """(test, motifs) of each profile in the table, in order of appearance."""
    if profiles is None or not len(profiles):
        return []
    return list(dict.fromkeys(zip(profiles["test"].astype(str), profiles["motifs"].astype(str))))


def write_profile_figures(profiles: pd.DataFrame, out_dir: str | Path,
                          formats: tuple[str, ...] = ("png", "svg")) -> dict[tuple[str, str], dict[str, Path]]:
    """One figure per (test, motifs) as ``out_dir/profile_TEST_MOTIFS.png`` and ``.svg``.

    Parameters
    ----------
    profiles : DataFrame
        A profile table (:data:`PROFILE_COLUMNS`); empty or None writes nothing.
    out_dir : str or Path
        Folder of the figures (created).
    formats : tuple of str
        Any of "png", "svg".

    Returns
    -------
    dict
        (test, motifs) -> {format: path}.
    """
    keys = profile_keys(profiles)
    if not keys:
        return {}
    table = check_profiles(profiles)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return {(test, motifs): save_figure(profile_figure(table, test, motifs),
                                        Path(out_dir) / f"profile_{_safe(test)}_{_safe(motifs)}", formats)
            for test, motifs in keys}


def figure_png_base64(fig) -> str:
    """``fig`` as base64 PNG text (for a data URI), closed afterwards."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata=_PNG_META)
    finally:
        _plt().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _fmt(value: float) -> str:
    return f"{value:+.3f}" if isinstance(value, float) and math.isfinite(value) else "n/a"


def called_points(profiles: pd.DataFrame) -> pd.DataFrame:
    """The called points of each profile, one row per model, test, motif set and order.

    Returns
    -------
    DataFrame
        ``model``, ``test``, ``motifs``, ``order``, ``called`` (point labels, comma-separated;
        "none" when no point is called), ``n_called`` of ``n_points``, ``peak`` (label of the
        point of largest |effect|) and ``peak_effect`` ("+0.123 [+0.100, +0.150]"), and
        ``in_window`` ("k of m called points inside the planted window", "" when unknown).
    """
    columns = ["model", "test", "motifs", "order", "called", "n_called", "n_points", "peak", "peak_effect",
               "in_window"]
    if profiles is None or not len(profiles):
        return pd.DataFrame(columns=columns)
    table = check_profiles(profiles)
    out = []
    for (model, test, motifs, order), rows in table.groupby(["model", "test", "motifs", "order"], sort=False):
        rows = rows.sort_values("point", kind="stable")
        hits = rows[rows["called"]]
        effects = rows["effect"].abs()
        peak = rows.loc[effects.idxmax()] if effects.notna().any() else None
        known = hits["expected"].isin(["inside", "outside"])
        out.append({
            "model": model, "test": test, "motifs": motifs, "order": _order_name(order, motifs),
            "called": ", ".join(hits["point_label"]) if len(hits) else "none",
            "n_called": int(len(hits)), "n_points": int(len(rows)),
            "peak": "" if peak is None else peak["point_label"],
            "peak_effect": "" if peak is None else
            f"{_fmt(peak['effect'])} [{_fmt(peak['ci_low'])}, {_fmt(peak['ci_high'])}]",
            "in_window": (f"{int((hits['expected'] == 'inside').sum())} of {int(known.sum())}"
                          if known.any() else ""),
        })
    return pd.DataFrame(out, columns=columns)


CURVE_CAPTION = ("Effect of inserting the motif(s) into background sequences on the predicted probability of the "
                 "positive class, beyond a shuffled-motif control (+ = inserting raises the prediction), at each "
                 "point of the profile; band or bars: 95% confidence interval; filled black-edged markers: called "
                 "points (q below alpha and |effect| at least min_effect; q: Benjamini–Hochberg over the points of "
                 "one profile); shaded: the planted rule's window (or orientation), when known; dashed "
                 "line: no effect.")


def curves_context(profiles: pd.DataFrame | None) -> dict[str, Any] | None:
    """What ``curves.html`` shows: one inline PNG per profile and the called-points table; None without profiles."""
    if profiles is None or not len(profiles):
        return None
    table = check_profiles(profiles)
    figures = []
    for test, motifs in profile_keys(table):
        group = table[(table["test"] == test) & (table["motifs"] == motifs)]
        kind = _kind(test, group)
        figures.append({"name": f"{test} {motifs}", "data": figure_png_base64(profile_figure(table, test, motifs)),
                        "caption": f"{kind if kind == test else f'{kind} ({test})'} profile of {motifs} "
                                   f"({', '.join(pd.unique(group['model']))})."})
    called = called_points(table)
    has_window = bool(called["in_window"].astype(bool).any())
    headings = [("model", "model"), ("test", "profile"), ("motifs", "motifs"), ("order", "order"),
                ("called", "called points"), ("n_called", "called"), ("n_points", "points"), ("peak", "peak"),
                ("peak_effect", "peak effect [CI]")] + ([("in_window", "called inside window")] if has_window else [])
    rows = [[{"text": str(r[c]) if c != "n_called" else f"{r['n_called']} of {r['n_points']}",
              "klass": {"called": "points", "motifs": "motifs", "peak_effect": "num"}.get(c, "")}
             for c, _ in headings if c != "n_points"] for _, r in called.iterrows()]
    return {"caption": CURVE_CAPTION, "figures": figures,
            "columns": [h for c, h in headings if c != "n_points"], "rows": rows}
