"""Figures and a self-contained HTML report for ``motifprobe compare``.

Every function takes the frames :func:`engine.compare.compare` produces (``results``,
``deltas``, ``scorecard``, ``summary``, ``pairwise``). Figures are PNGs; the report is one HTML
file rendered from the jinja2 templates in ``engine/templates`` (one per section, autoescaped),
with the PNGs embedded as base64 data URIs, so it opens offline with nothing beside it.
matplotlib, logomaker and jinja2 are imported inside the functions, so importing this module is cheap.
"""
from __future__ import annotations

import base64
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from motifprobe.engine.atomic import atomic_path

STATUS_COLORS = {"hit": "#9ed39a", "wrong sign": "#e7a0e0", "miss": "#ef8a80", "extra": "#ffc878",
                 "decoy false call": "#f6b5c8", "shortcut": "#b9e0f0", "confounded": "#d9d2e9",
                 "correct none": "#e3e3e3", "untestable": "#fff29a", "unscored": "#cfd8dc",
                 "model did not learn": "#dcc6a8", "error": "#a9a3f0"}
"""Cell colour of each scorecard status (figure and HTML)."""
STATUS_TEXT = {
    "hit": "the rule expects an effect here and the model shows it, with the expected sign.",
    "wrong sign": "expected and found, but of the opposite sign: the model learned something else (e.g. AND where "
                  "the rule is OR).",
    "miss": "the rule expects an effect here and the model shows none (or only a composition/position effect).",
    "extra": "an effect on the rule's motifs that the rule does not imply: model behaviour worth knowing.",
    "decoy false call": "an effect on a decoy motif or on the control, unexplained: the test's empirical "
                        "false-call rate.",
    "shortcut": "a composition or position verdict where the rule expects no effect: the model reacts to GC "
                "content or position.",
    "confounded": "the perturbation changes the true label in ways the test does not control: neither a hit nor "
                  "a false call.",
    "correct none": "no effect expected and none found.",
    "untestable": "too few held-out sequences contain the motif(s) to test.",
    "unscored": "no expectation to score against (no planted rule, labels that do not follow it, or a test that "
                "declares no feature).",
    "model did not learn": "the model does not beat its majority-class baseline: none of its calls counts, hit or "
                           "false.",
    "error": "the model or test failed on this row; the reason says why.",
}
"""One line defining each status (the report's legend)."""
VERDICT_TEXT = [
    ("effect", "the perturbation moves the loss beyond its sham control in the named subset: q below alpha and "
               "|effect| at least min_effect, and every alternative explanation (check) is ruled out; "
               "direction + = the model relied on the feature, - = it did better without it."),
    ("none", "no subset reaches both thresholds; the reason names the closest subset and what it missed."),
    ("composition", "an effect, but a sham that only changes base composition as much explains it."),
    ("position", "an effect, but moving the motif (not removing or reordering it) explains it."),
    ("untestable", "no subset has enough sequences containing the motif(s)."),
    ("error", "the model or the test failed; the reason carries the message."),
]
"""The verdicts of a results row, defined (the report's legend)."""
MAX_POINTS = 5000
"""At most this many deltas are drawn per violin (a seeded random sample)."""
CLIP_PERCENTILE = 95
"""The heatmap's colour scale ends at this percentile of |mean delta|; larger cells take the end colour."""
_PNG_META = {"Software": None}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata=_PNG_META)
    finally:
        _plt().close(fig)
    return path


def _label(test: Any, motifs: Any) -> str:
    return f"{test} {motifs}".strip()


def _grid(frame: pd.DataFrame, value: str) -> tuple[list[str], list[str], dict[tuple[str, str], Any]]:
    """Row labels ("test motifs"), models and {(row, model): value}, in order of appearance."""
    rows, models, cells = [], [], {}
    for r in frame.itertuples(index=False):
        row, model = _label(r.test, r.motifs), str(r.model)
        if row not in rows:
            rows.append(row)
        if model not in models:
            models.append(model)
        cells.setdefault((row, model), getattr(r, value))
    return rows, models, cells


def robust_limit(values: Any, percentile: float = CLIP_PERCENTILE) -> float:
    """Symmetric colour limit: the ``percentile`` of the finite |values| (1.0 when there are none or all are 0)."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    v = v[np.isfinite(v)]
    if not v.size:
        return 1.0
    limit = float(np.percentile(v, percentile))
    return limit if limit > 0 else (float(v.max()) or 1.0)


def _ci_text(low: Any, high: Any) -> str:
    """``[low, high]`` to 2 decimals, or "" when either end is missing."""
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        return ""
    return f"[{low:.2f}, {high:.2f}]" if np.isfinite(low) and np.isfinite(high) else ""


def heatmap_figure(results: pd.DataFrame):
    """The heatmap of :func:`heatmap_png` as a matplotlib Figure (not saved; the caller closes it)."""
    plt = _plt()
    rows, models, means = _grid(results, "avg_loss_diff")
    verdicts = _grid(results, "verdict")[2]
    has_ci = {"ci_low", "ci_high"} <= set(results.columns)
    lows = _grid(results, "ci_low")[2] if has_ci else {}
    highs = _grid(results, "ci_high")[2] if has_ci else {}
    data = np.full((max(len(rows), 1), max(len(models), 1)), np.nan)
    for (row, model), v in means.items():
        data[rows.index(row), models.index(model)] = float(v) if v is not None else np.nan
    vmax = robust_limit(data)
    row_h = 0.62 if has_ci else 0.42
    fig, ax = plt.subplots(figsize=(2.2 + 1.6 * data.shape[1], max(2.6, 1.4 + row_h * data.shape[0])))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#d0d0d0")
    im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    for i, row in enumerate(rows):
        for j, model in enumerate(models):
            v = data[i, j]
            star = "*" if verdicts.get((row, model)) == "effect" else ""
            text = f"{v:.2f}{star}" if np.isfinite(v) else "n/a"
            ci = _ci_text(lows.get((row, model)), highs.get((row, model))) if np.isfinite(v) else ""
            if ci:
                text += "\n" + ci
            dark = np.isfinite(v) and abs(v) > 0.6 * vmax
            ax.text(j, i, text, ha="center", va="center", fontsize=8.5 if ci else 9, linespacing=1.15,
                    color="white" if dark else "black")
    ax.set_xticks(range(len(models)), models, rotation=20 if len(models) > 3 else 0,
                  ha="right" if len(models) > 3 else "center")
    ax.set_yticks(range(len(rows)), rows, fontsize=9)
    ax.tick_params(length=0)
    ax.set_title("Mean delta per test and model" + (" [95% CI]" if has_ci else ""))
    clipped = bool(np.nanmax(np.abs(data), initial=0) > vmax) if np.isfinite(data).any() else False
    bar = fig.colorbar(im, ax=ax, fraction=0.08, pad=0.03, extend="both" if clipped else "neither")
    bar.set_label(f"mean delta (nats), scale clipped at ±{vmax:.2f}\n(the {CLIP_PERCENTILE}th percentile of |values|)",
                  fontsize=8)
    return fig


def heatmap_png(results: pd.DataFrame, path: str | Path) -> Path:
    """Heatmap of mean delta and its CI per test (rows) and model (columns), on a symmetric, robust scale.

    Parameters
    ----------
    results : DataFrame
        Compare results with ``model``, ``test``, ``motifs``, ``avg_loss_diff`` and ``verdict``;
        with ``ci_low`` and ``ci_high`` (the 95% bootstrap CI of the mean delta) when present.
    path : str or Path
        Where the PNG goes (written atomically).

    Returns
    -------
    Path
        ``path``. Colours are diverging, centred at 0, with limits ±(:data:`CLIP_PERCENTILE`-th
        percentile of |mean delta|) (:func:`robust_limit`), so one very large cell does not wash
        out the rest; a cell beyond the limit takes the end colour and its label keeps the true
        value. Each cell shows the value to 2 decimals, ``*`` when the verdict is ``effect`` and,
        below it, its CI as ``[low, high]`` (when the results have one); NaN cells are grey, "n/a".
    """
    return _save(heatmap_figure(results), path)


def _lighter(color, amount: float = 0.6):
    rgb = np.array(color[:3])
    return tuple(rgb + (1 - rgb) * amount)


_SUBSETS = (("label0", 0), ("label1", 1))


def sample_values(values: Any, rng: np.random.Generator, max_points: int = MAX_POINTS) -> np.ndarray:
    """The finite values of ``values``, a random sample of ``max_points`` of them when there are more."""
    v = pd.to_numeric(values, errors="coerce")
    v = np.asarray(v, dtype=float)
    v = v[np.isfinite(v)]
    return rng.choice(v, max_points, replace=False) if v.size > max_points else v


def draw_violin(ax: Any, values: np.ndarray, pos: float, color: Any, *, width: float = 0.85, alpha: float = 1.0,
                gid: str | None = None) -> None:
    """One violin at ``pos`` (median marked); a bar at the value when the values have no spread."""
    if values.size == 0:
        return
    if values.size < 2 or np.ptp(values) == 0:  # a KDE needs spread: draw a bar at the value
        (bar,) = ax.bar(pos, 0, width=0.8, bottom=values[0], edgecolor=color, linewidth=3)
        bar.set_gid(gid)
        return
    parts = ax.violinplot(values, positions=[pos], widths=width, showmedians=True, showextrema=False)
    for body in parts["bodies"]:
        body.set_facecolor(color)
        body.set_edgecolor("#444444")
        body.set_alpha(alpha)
        body.set_gid(gid)
    parts["cmedians"].set_color("black")


def distributions_png(deltas: pd.DataFrame, path: str | Path, seed: int = 0) -> Path:
    """Violins of per-sequence deltas per label and model, beside the sham, one panel per test.

    Parameters
    ----------
    deltas : DataFrame
        ``model``, ``test``, ``motifs``, ``delta`` and (optionally) ``label`` and ``control_delta``.
    path : str or Path
        Where the PNG goes (written atomically).
    seed : int
        Seed of the sample of at most :data:`MAX_POINTS` values drawn per violin.

    Returns
    -------
    Path
        ``path``. Within a panel (one test) every label and model shares one y axis, so the
        perturbed violin (model colour) and its sham (lighter) compare directly; labels are drawn
        apart because a motif's removal moves positives and negatives in opposite directions
        (without a ``label`` column everything is one "all" group). An empty frame gives a figure
        that says "no deltas".
    """
    plt = _plt()
    if deltas is None or len(deltas) == 0:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.text(0.5, 0.5, "no deltas", ha="center", va="center", fontsize=16)
        ax.set_axis_off()
        ax.set_title("Per-sequence deltas")
        return _save(fig, path)
    rng = np.random.default_rng(seed)
    groups = list(deltas.groupby(["test", "motifs"], sort=False))
    models = [str(m) for m in pd.unique(deltas["model"])]
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(models)}
    has_label = "label" in deltas and deltas["label"].isin([0, 1]).any()
    subsets = _SUBSETS if has_label else (("all", None),)
    ncols = min(3, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    per_panel = len(subsets) * len(models)
    width = max(6.0, ncols * max(3.4, 0.75 * per_panel + 1.0))
    height = 3.0 * nrows + 0.9
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, figsize=(width, height))
    for ax, ((test, motifs), group) in zip(axes.flat, groups):
        ticks, names, pos = [], [], 0.0
        for s_name, s_value in subsets:
            sub_group = group if s_value is None else group[group["label"] == s_value]
            start = pos
            for model in models:
                sub = sub_group[sub_group["model"].astype(str) == model]
                draw_violin(ax, sample_values(sub["delta"], rng), pos, colors[model])
                if "control_delta" in sub:
                    draw_violin(ax, sample_values(sub["control_delta"], rng), pos + 0.9, _lighter(colors[model]))
                pos += 2.0
            ticks.append((start + pos - 2.0 + 0.9) / 2)
            n = int(sub_group["id"].nunique()) if "id" in sub_group else len(sub_group) // max(len(models), 1)
            names.append(f"{s_name}\n(n {n})")
            ax.axvline(pos - 0.55, color="#bbbbbb", linewidth=0.8)
            pos += 0.3
        ax.axhline(0, color="grey", linewidth=0.8, linestyle="--", zorder=0)
        ax.set_xticks(ticks, names, fontsize=8)
        ax.set_xlim(-0.8, pos - 0.6)
        ax.set_title(f"{test}\n{motifs}", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
    for ax in axes.flat[len(groups):]:
        ax.set_axis_off()
    for row in axes:
        row[0].set_ylabel("delta (nats)")
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=colors[m], label=m) for m in models]
    handles.append(Patch(facecolor=_lighter(colors[models[0]]), label="lighter: its sham control"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5), fontsize=8, frameon=False)
    fig.suptitle("Per-sequence deltas per label, each model beside its sham (shared y axis within a test)", fontsize=11)
    fig.tight_layout(rect=(0, 0.4 / height, 1, 1 - 0.1 / height))
    return _save(fig, path)


def tested_motifs(results: pd.DataFrame) -> list[str]:
    """Motif names the results' tests perturbed (``motifs`` split on ``+``), in order, without the sham."""
    names: list[str] = []
    for value in results.get("motifs", pd.Series(dtype=str)).dropna().astype(str):
        for name in value.split("+"):
            name = name.strip()
            if name and name != "sham" and name not in names:
                names.append(name)
    return names


def logo_pngs(names: list[str], out_dir: str | Path) -> dict[str, Path]:
    """One information-content logo (logomaker) per motif name that resolves, as ``out_dir/logo_NAME.png``.

    Parameters
    ----------
    names : list of str
        Motif names or specs (:func:`motifprobe.engine.motif_sources.resolve_motifs`).
    out_dir : str or Path
        Folder of the PNGs (written atomically).

    Returns
    -------
    dict of str to Path
        Motif name -> PNG, for those that resolved; empty when logomaker is not installed. A name
        that does not resolve (e.g. a motif from a file the report no longer sees) is left out.
    """
    try:
        import logomaker
    except ImportError:
        return {}
    from motifprobe.engine.errors import MotifprobeError
    from motifprobe.engine.motif_sources import resolve_motifs

    plt = _plt()
    out: dict[str, Path] = {}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for name in names:
        try:
            (motif,) = resolve_motifs([name])[:1] or (None,)
        except (MotifprobeError, ValueError):
            continue
        if motif is None:
            continue
        pwm = np.clip(np.asarray(motif.pwm, dtype=np.float64), 1e-9, None)
        pwm = pwm / pwm.sum(axis=1, keepdims=True)
        info = pwm * (2.0 + (pwm * np.log2(pwm)).sum(axis=1, keepdims=True))
        frame = pd.DataFrame(info, columns=list("ACGT"))
        fig, ax = plt.subplots(figsize=(max(2.5, 0.28 * len(frame) + 0.8), 1.6))
        logomaker.Logo(frame, ax=ax, color_scheme="classic")
        ax.set_ylim(0, 2)
        ax.set_ylabel("bits", fontsize=8)
        ax.set_xticks([])
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(motif.name, fontsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in motif.name)
        out[motif.name] = _save(fig, Path(out_dir) / f"logo_{safe}.png")
    return out


def scorecard_png(scorecard: pd.DataFrame, summary: pd.DataFrame, path: str | Path) -> Path:
    """The scorecard as a coloured table (tests × models), with each model's statement below.

    Parameters
    ----------
    scorecard : DataFrame
        ``model``, ``test``, ``motifs`` and ``status``.
    summary : DataFrame
        ``model`` and ``statement`` (one line per model under the table).
    path : str or Path
        Where the PNG goes (written atomically).

    Returns
    -------
    Path
        ``path``.
    """
    plt = _plt()
    rows, models, cells = _grid(scorecard, "status")
    statements = [] if summary is None or "statement" not in summary else [
        str(s) for s in summary["statement"].fillna("")]
    label_w = 0.3 + 0.075 * max([len(r) for r in rows] + [4])
    col_w = 0.3 + 0.08 * max([len(m) for m in models] + [16])
    width = max(7.0, label_w + col_w * len(models) + 0.2)
    wrapped = [textwrap.fill(s, int(width / 0.075), subsequent_indent="   ") for s in statements]
    n_lines = sum(w.count("\n") + 1 for w in wrapped)
    row_h, title_h = 0.3, 0.45
    table_h = row_h * (len(rows) + 1)
    text_h = 0.2 * n_lines + 0.25 if wrapped else 0.0
    height = title_h + table_h + text_h + 0.1
    fig = plt.figure(figsize=(width, height))
    table_w = label_w + col_w * len(models)
    ax = fig.add_axes((0.1 / width, (text_h + 0.1) / height, table_w / width, table_h / height))
    ax.set_axis_off()
    if rows:
        text = [[r] + [cells.get((r, m)) or "" for m in models] for r in rows]
        colours = [["white"] + [STATUS_COLORS.get(t, "white") for t in line[1:]] for line in text]
        table = ax.table(cellText=[["test"] + models] + text, cellColours=[["#f2f2f2"] * (len(models) + 1)] + colours,
                         cellLoc="center", bbox=(0, 0, 1, 1),
                         colWidths=[label_w / table_w] + [col_w / table_w] * len(models))
        table.auto_set_font_size(False)
        table.set_fontsize(9)
        for (r, c), cell in table.get_celld().items():
            cell.set_edgecolor("#999999")
            if r == 0:
                cell.set_text_props(weight="bold")
            if c == 0 and r > 0:
                cell.set_text_props(ha="left")
                cell.PAD = 0.02
    else:
        ax.text(0.5, 0.5, "empty scorecard", ha="center", va="center")
    fig.text(0.1 / width, 1 - 0.12 / height, "Scorecard against the planted rule", ha="left", va="top",
             fontsize=11, weight="bold")
    if wrapped:
        fig.text(0.1 / width, (text_h - 0.05) / height, "\n".join(wrapped), ha="left", va="top", fontsize=8.5,
                 linespacing=1.5)
    return _save(fig, path)


# ---------------------------------------------------------------- HTML

_CAPTIONS = {
    "heatmap": (f"Mean delta (nats) per test and model, with its 95% bootstrap confidence interval [low, high] below "
                f"it; * marks a verdict of effect. Symmetric colour scale clipped "
                f"at the {CLIP_PERCENTILE}th percentile of |mean delta| so that one very large cell does not wash out "
                "the rest; cells beyond it take the end colour and keep their true value as label."),
    "distributions": ("Per-sequence deltas (nats) per label: each model (its colour) beside its sham control "
                      "(lighter), one y axis shared within each test; the dashed line is 0."),
}
_P_COLUMNS = {"p_vs_control", "q_vs_control", "subset_q", "q_value", "p_value"}
SUMMARY_COLUMNS = ["model", "accuracy", "auroc", "beats_baseline", "learned_rule", "hits", "misses", "wrong_sign",
                   "extras", "decoy_false_calls", "shortcuts"]
"""Summary columns in the report (those present)."""
RESULT_COLUMNS = [("model", "model"), ("test", "test"), ("motifs", "motifs"), ("verdict", "verdict"),
                  ("direction", "sign"), ("subset", "subset"), ("subset_effect", "effect"),
                  ("subset_control", "control"), ("subset_q", "q"), ("count", "n tested"), ("reason", "reason")]
"""(column, heading) of the results table, in order (those present)."""
PAIRWISE_COLUMNS = ["test", "motifs", "subset", "model_a", "model_b", "n", "mean_a", "mean_b", "mean_diff", "q_value",
                    "stronger"]


_TEXT_COLUMNS = {"direction", "subset", "reason", "check", "stronger", "called_in"}


def _fmt(value: Any, column: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "" if column in _TEXT_COLUMNS else "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        if column in _P_COLUMNS and 0 < abs(value) < 1e-3:
            return f"{value:.2e}"
        return f"{value:.3f}"
    return str(value)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))


def _cells(row: pd.Series, columns: list[str], klass=None) -> list[dict[str, str]]:
    return [{"text": _fmt(row[c], c),
             "klass": " ".join(filter(None, ["num" if _is_num(row[c]) and c not in _TEXT_COLUMNS else "",
                                             klass(c, row) if klass else ""]))}
            for c in columns]


def rule_in_words(rule: Any) -> str:
    """The planted rule as a sentence: its name, what it means and its motifs.

    Parameters
    ----------
    rule : dict, str or None
        A rule's metadata (``Rule.to_dict()``: ``name``, ``pos_motifs``, ``params``, or the older
        ``gen_type`` form), its JSON, or None.

    Returns
    -------
    str
        E.g. "presence: positive iff every pos motif is present (AND); pos motifs STAT_known2,
        CTCF_known1"; "(none recorded)" for None; the text itself when it is not a rule.
    """
    import json

    if rule is None or rule == "" or rule == "(none recorded)":
        return "(none recorded: results are not scored against a rule)"
    if isinstance(rule, str):
        try:
            rule = json.loads(rule)
        except ValueError:
            return rule
    if not isinstance(rule, dict):
        return str(rule)
    name = str(rule.get("name", rule.get("gen_type", "?")))
    description = ""
    try:
        from motifprobe.engine.registry import get_registry, one_line_description

        description = one_line_description(get_registry().get("rule", name).factory)
    except Exception:  # noqa: BLE001 - an unknown or broken rule plugin still gets its name shown
        description = ""
    pos = rule.get("pos_motifs") or []
    params = rule.get("params") or {k: v for k, v in rule.items() if k in ("min_dist", "max_dist")}
    text = name + (f": {description}" if description else "")
    if pos:
        text += "; pos motifs " + ", ".join(map(str, pos))
    if params:
        text += "; " + ", ".join(f"{k} = {v}" for k, v in params.items())
    return text


def _figure(name: str, path: Path | None, caption: str | None = None) -> dict[str, str]:
    path = Path(path) if path is not None else None
    data = base64.b64encode(path.read_bytes()).decode("ascii") if path is not None and path.is_file() else ""
    return {"name": name, "data": data, "caption": caption or _CAPTIONS.get(name, name)}


def _learned(summary: pd.DataFrame) -> dict[str, bool]:
    if "beats_baseline" not in summary or "model" not in summary:
        return {}
    return {str(m): bool(b) for m, b in zip(summary["model"], summary["beats_baseline"].fillna(False))}


def _pairwise_context(pairwise: pd.DataFrame, summary: pd.DataFrame) -> dict[str, Any]:
    if len(pairwise) == 0:
        return {"note": "No paired comparison: fewer than two models.", "columns": [], "rows": []}
    learned = _learned(summary)
    keep = pairwise["model_a"].astype(str).map(learned).fillna(False).astype(bool) & \
        pairwise["model_b"].astype(str).map(learned).fillna(False).astype(bool)
    shown = pairwise[keep]
    left = sorted(m for m, ok in learned.items() if not ok)
    note = ("Paired Wilcoxon test between two models on the same sequences and perturbations, per test and label, of "
            "the effect beyond the control on the probability scale (mean_a, mean_b); q: Benjamini–Hochberg; "
            "'stronger' names the model that relies on the feature more where q < 0.05. Shown only for pairs of "
            "models that both beat their majority baseline")
    note += (f"; left out: {', '.join(left)} (did not beat it)." if left else ".") + " Every pair is in pairwise.csv."
    if not len(shown):
        note += " No pair of models that both learned."
    cols = [c for c in PAIRWISE_COLUMNS if c in shown.columns]
    return {"note": note, "columns": cols,
            "rows": [{"cells": _cells(r, cols, lambda c, _r: {"stronger": "stronger", "motifs": "motifs"}.get(c, ""))}
                     for _, r in shown.iterrows()]}


def _scorecard_context(scorecard: pd.DataFrame) -> dict[str, Any]:
    rows, models, cells = _grid(scorecard, "status") if len(scorecard) else ([], [], {})
    expected = {}
    if "expected_sign" in scorecard:
        expected = {_label(r.test, r.motifs): ("" if pd.isna(r.expected_sign) else str(r.expected_sign))
                    for r in scorecard.itertuples(index=False)}
    return {"models": models, "expected": bool(expected),
            "rows": [{"label": r, "expected": expected.get(r, ""),
                      "cells": [{"status": str(cells.get((r, m)) or ""),
                                 "colour": STATUS_COLORS.get(str(cells.get((r, m)) or ""), "#ffffff")}
                                for m in models]} for r in rows]}


AUDIT_COLUMNS = ["test", "motifs", "arm", "perturbations", "left_share", "created_share", "gc_drift", "note"]


def _audit_context(audit: Any) -> dict[str, Any] | None:
    """The audit section: the primary arm of every unit and every flagged arm (all arms are in audit.csv)."""
    if audit is None or not len(audit.table):
        return None
    table = audit.table
    flagged = audit.flagged().index
    shown = table[(table["role"] == "primary") | table.index.isin(flagged)]
    cols = [c for c in AUDIT_COLUMNS if c in shown.columns]
    return {"sample": audit.sample, "p_value": _fmt(audit.p_value), "threshold": f"{audit.threshold:.0%}",
            "motifs": ", ".join(audit.motifs) or "(no motif with a known PWM)", "warnings": audit.warnings(),
            "columns": [c.replace("_", " ") for c in cols],
            "rows": [{"flagged": idx in flagged,
                      "cells": _cells(r, cols, lambda c, _r: {"motifs": "motifs", "note": "reason"}.get(c, ""))}
                     for idx, r in shown.iterrows()]}


def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("motifprobe.engine", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def render_report(*, title: str, dataset_info: dict, results: pd.DataFrame, scorecard: pd.DataFrame,
                  summary: pd.DataFrame, pairwise: pd.DataFrame, figures: dict[str, Path],
                  rule: Any = None, logos: dict[str, Path] | None = None,
                  profiles: pd.DataFrame | None = None, audit: Any = None) -> str:
    """The report's HTML text (see :func:`write_report`), rendered from ``engine/templates``."""
    from motifprobe.engine.profile_figures import curves_context

    curves = curves_context(profiles)
    audit_ctx = _audit_context(audit)
    results, scorecard, summary, pairwise = (pd.DataFrame() if f is None else f
                                             for f in (results, scorecard, summary, pairwise))
    if rule is None:
        rule = dataset_info.get("rule")
    summary_cols = [c for c in SUMMARY_COLUMNS if c in summary.columns]
    result_cols = [(c, h) for c, h in RESULT_COLUMNS if c in results.columns]
    verdict_class = {"verdict": "verdict", "reason": "reason", "motifs": "motifs"}
    context = {
        "title": title,
        "nav": [("summary", "Summary"), ("scorecard", "Scorecard"), ("figures", "Figures")]
        + ([("curves", "Grammar curves")] if curves else [])
        + [("results", "Results"), ("pairwise", "Pairwise")] + ([("audit", "Audit")] if audit_ctx else [])
        + [("legend", "Legend"), ("dataset", "Dataset")],
        "curves": curves,
        "audit": audit_ctx,
        "rule_text": rule_in_words(rule),
        "summary_columns": [c.replace("_", " ") for c in summary_cols],
        "summary_rows": [{"cells": _cells(r, summary_cols, lambda c, rr: (
            ("yes" if rr[c] else "no") if c == "beats_baseline" and isinstance(rr[c], (bool, np.bool_)) else ""))}
            for _, r in summary.iterrows()] if summary_cols else [],
        "statements": [str(s) for s in summary["statement"].fillna("")] if "statement" in summary else [],
        "scorecard": _scorecard_context(scorecard),
        "figures": [_figure(name, p) for name, p in figures.items()],
        "logos": [dict(_figure(name, p), source="") for name, p in (logos or {}).items() if Path(p).is_file()],
        "results": {"columns": [h for _, h in result_cols],
                    "rows": [{"klass": str(r.get("verdict", "")),
                              "cells": _cells(r, [c for c, _ in result_cols], lambda c, _r: verdict_class.get(c, ""))}
                             for _, r in results.iterrows()]},
        "pairwise": _pairwise_context(pairwise, summary),
        "verdicts": VERDICT_TEXT,
        "clip_percentile": CLIP_PERCENTILE,
        "statuses": [{"name": s, "colour": STATUS_COLORS[s], "text": t} for s, t in STATUS_TEXT.items()],
        "dataset": [(str(k) if k != "rule" else "rule (as stored)", _fmt(v)) for k, v in dataset_info.items()],
    }
    return _environment().get_template("report.html").render(**context)


def write_report(path: str | Path, *, title: str, dataset_info: dict, results: pd.DataFrame,
                 scorecard: pd.DataFrame, summary: pd.DataFrame, pairwise: pd.DataFrame,
                 figures: dict[str, Path], rule: Any = None, logos: dict[str, Path] | None = None,
                 profiles: pd.DataFrame | None = None, audit: Any = None) -> Path:
    """Write one self-contained HTML report (no external files; PNGs as data URIs).

    Parameters
    ----------
    path : str or Path
        The HTML file (written atomically: a temporary file beside it, then renamed).
    title : str
        Page title and heading.
    dataset_info : dict
        Key/value pairs shown as the dataset block (sizes, models...); its ``rule`` is also the
        planted rule of the summary unless ``rule`` is given.
    results, scorecard, summary, pairwise : DataFrame
        The compare frames. Pairwise rows are shown only where both models beat their baseline
        (summary ``beats_baseline``).
    figures : dict of str to Path
        PNG files to embed, in order (e.g. ``heatmap``, ``distributions``); a missing file is
        named as not available.
    rule : dict or str, optional
        The planted rule (``Rule.to_dict()`` or its JSON), shown in words (:func:`rule_in_words`).
    logos : dict of str to Path, optional
        Motif name -> logo PNG (:func:`logo_pngs`).
    profiles : DataFrame, optional
        Insertion profiles (:data:`motifprobe.engine.profile_figures.PROFILE_COLUMNS`): when
        given and not empty, a "Grammar curves" section (id ``curves``, after ``figures``) shows
        one curve figure per profile and the called points per model
        (:func:`motifprobe.engine.profile_figures.curves_context`); None or empty: no section.
    audit : motifprobe.engine.audit.AuditResult, optional
        The perturbation audit: an "Audit" section (id ``audit``) with each unit's primary arm,
        every flagged arm and the warnings; None: no section.

    Returns
    -------
    Path
        ``path``. Sections, in order, have ids ``summary``, ``scorecard``, ``figures``,
        (``curves``,) ``results``, ``pairwise``, (``audit``,) ``legend`` and ``dataset``; jinja2 autoescapes
        every text.
    """
    page = render_report(title=title, dataset_info=dataset_info, results=results, scorecard=scorecard,
                         summary=summary, pairwise=pairwise, figures=figures, rule=rule, logos=logos,
                         profiles=profiles, audit=audit)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page + "\n", encoding="utf-8")
    return path
