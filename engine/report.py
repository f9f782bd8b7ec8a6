"""Figures and a self-contained HTML report for ``motifprobe compare``.

Every function takes the frames :func:`engine.compare.compare` produces (``results``,
``deltas``, ``scorecard``, ``summary``, ``pairwise``). Figures are PNGs; the report is one HTML
file with the PNGs embedded as base64 data URIs, so it opens offline with nothing beside it.
matplotlib is imported inside the functions (Agg backend), so importing this module is cheap.
"""
from __future__ import annotations

import base64
import html
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from motifprobe.engine.atomic import atomic_path

STATUS_COLORS = {"hit": "#9ed39a", "miss": "#ef8a80", "extra": "#ffc878", "decoy false call": "#f6b5c8", "confounded": "#d9d2e9",
                 "correct none": "#e3e3e3", "untestable": "#fff29a", "model did not learn": "#dcc6a8", "shortcut": "#b9e0f0"}
"""Cell colour of each scorecard status (figure and HTML)."""
MAX_POINTS = 5000
"""At most this many deltas are drawn per box (a seeded random sample)."""
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
            fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight", metadata=_PNG_META)
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


def heatmap_png(results: pd.DataFrame, path: str | Path) -> Path:
    """Heatmap of mean delta per test (rows) and model (columns).

    Parameters
    ----------
    results : DataFrame
        Compare results with ``model``, ``test``, ``motifs``, ``avg_loss_diff`` and ``verdict``.
    path : str or Path
        Where the PNG goes (written atomically).

    Returns
    -------
    Path
        ``path``. Colours are diverging and centred at 0 (symmetric limits); each cell shows the
        value to 2 decimals and ``*`` when the verdict is ``effect``; NaN cells are grey, "n/a".
    """
    plt = _plt()
    rows, models, means = _grid(results, "avg_loss_diff")
    verdicts = _grid(results, "verdict")[2]
    data = np.full((max(len(rows), 1), max(len(models), 1)), np.nan)
    for (row, model), v in means.items():
        data[rows.index(row), models.index(model)] = float(v) if v is not None else np.nan
    finite = np.abs(data[np.isfinite(data)])
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    fig, ax = plt.subplots(figsize=(2.2 + 1.5 * data.shape[1], max(2.6, 1.4 + 0.42 * data.shape[0])))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#d0d0d0")
    im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    for i, row in enumerate(rows):
        for j, model in enumerate(models):
            v = data[i, j]
            star = "*" if verdicts.get((row, model)) == "effect" else ""
            text = f"{v:.2f}{star}" if np.isfinite(v) else "n/a"
            dark = np.isfinite(v) and abs(v) > 0.6 * vmax
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    ax.set_xticks(range(len(models)), models, rotation=20 if len(models) > 3 else 0,
                  ha="right" if len(models) > 3 else "center")
    ax.set_yticks(range(len(rows)), rows, fontsize=9)
    ax.tick_params(length=0)
    ax.set_title("Mean delta per test and model")
    fig.colorbar(im, ax=ax, fraction=0.08, pad=0.03).set_label("mean delta (nats), * = effect vs sham", fontsize=9)
    return _save(fig, path)


def _lighter(color, amount: float = 0.6):
    rgb = np.array(color[:3])
    return tuple(rgb + (1 - rgb) * amount)


def distributions_png(deltas: pd.DataFrame, path: str | Path, seed: int = 0) -> Path:
    """Boxplots of per-sequence deltas per model, beside each model's sham, one panel per test.

    Parameters
    ----------
    deltas : DataFrame
        ``model``, ``test``, ``motifs``, ``delta`` and (optionally) ``control_delta``.
    path : str or Path
        Where the PNG goes (written atomically).
    seed : int
        Seed of the sample of at most :data:`MAX_POINTS` values drawn per box.

    Returns
    -------
    Path
        ``path``; an empty frame gives a figure that says "no deltas".
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
    ncols = min(4, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    width, height = max(5.5, max(3.2, 0.9 * len(models) + 1.2) * ncols), 3.2 * nrows + 0.9
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=False, figsize=(width, height))

    def sample(values) -> np.ndarray:
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        return rng.choice(v, MAX_POINTS, replace=False) if v.size > MAX_POINTS else v

    for ax, ((test, motifs), group) in zip(axes.flat, groups):
        for i, model in enumerate(models):
            sub = group[group["model"].astype(str) == model]
            boxes = [(sample(sub["delta"]), colors[model], 2 * i * 1.2)]
            if "control_delta" in sub:
                boxes.append((sample(sub["control_delta"]), _lighter(colors[model]), 2 * i * 1.2 + 1))
            for values, color, pos in boxes:
                if values.size == 0:
                    continue
                bp = ax.boxplot(values, positions=[pos], widths=0.8, patch_artist=True, showfliers=True,
                                flierprops={"markersize": 2, "alpha": 0.3, "markeredgecolor": color},
                                medianprops={"color": "black"})
                bp["boxes"][0].set_facecolor(color)
        ax.axhline(0, color="grey", linewidth=0.8, linestyle="--", zorder=0)
        ax.set_xticks([2 * i * 1.2 + 0.5 for i in range(len(models))], models,
                      rotation=30 if len(models) > 2 else 0, ha="right" if len(models) > 2 else "center",
                      fontsize=8)
        ax.set_xlim(-0.8, 2 * (len(models) - 1) * 1.2 + 1.8)
        ax.set_title(f"{test}\n{motifs}", fontsize=9)
        ax.tick_params(axis="y", labelsize=8)
    for ax in axes.flat[len(groups):]:
        ax.set_axis_off()
    for row in axes:
        row[0].set_ylabel("delta (nats)")
    from matplotlib.patches import Patch

    first = colors[models[0]]
    fig.legend(handles=[Patch(facecolor=first, label="perturbed (model colour)"),
                        Patch(facecolor=_lighter(first), label="sham control (lighter)")],
               loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle("Per-sequence deltas per model, beside the sham", fontsize=11)
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1 - 0.15 / height))
    return _save(fig, path)


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

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1300px;padding:0 16px;color:#222;line-height:1.4}
h1{margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:3px;margin-top:32px}
nav a{margin-right:14px}.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.effect td.verdict{background:#c9ecc6;font-weight:bold}tr.untestable td.verdict{background:#fff29a}
.stronger{font-weight:bold}figure{margin:16px 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:13px;color:#555}ul.statements li{margin-bottom:4px}.legend span{padding:2px 8px;margin-right:6px}
"""
_CAPTIONS = {"heatmap": "Mean delta per test and model; * marks an effect vs the sham.",
             "distributions": "Per-sequence deltas per model (darker) beside the sham (lighter).",
             "scorecard": "Scorecard against the planted rule, with each model's statement."}
_P_COLUMNS = {"p_vs_control", "q_vs_control", "subset_q", "q_value", "p_value"}


def _fmt(value: Any, column: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        if column in _P_COLUMNS and 0 < abs(value) < 1e-3:
            return f"{value:.2e}"
        return f"{value:.3f}"
    return str(value)


def _table(frame: pd.DataFrame, columns: list[str], row_class=None, cell_class=None) -> str:
    cols = [c for c in columns if c in frame.columns]
    if len(frame) == 0 or not cols:
        return "<p><em>(nothing to show)</em></p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for _, r in frame.iterrows():
        tds = []
        for c in cols:
            klass = " ".join(filter(None, ["num" if isinstance(r[c], (int, float, np.number)) and not isinstance(
                r[c], (bool, np.bool_)) else "", cell_class(c, r) if cell_class else ""]))
            tds.append(f'<td class="{klass}">{html.escape(_fmt(r[c], c))}</td>')
        klass = html.escape(row_class(r)) if row_class else ""
        body.append(f'<tr class="{klass}">{"".join(tds)}</tr>')
    return f'<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'


def _scorecard_html(scorecard: pd.DataFrame) -> str:
    rows, models, cells = _grid(scorecard, "status")
    if not rows:
        return "<p><em>(empty scorecard)</em></p>"
    head = "<th>test</th>" + "".join(f"<th>{html.escape(m)}</th>" for m in models)
    body = []
    for r in rows:
        tds = "".join(f'<td style="background:{STATUS_COLORS.get(cells.get((r, m)) or "", "#fff")}">'
                      f'{html.escape(str(cells.get((r, m)) or ""))}</td>' for m in models)
        body.append(f"<tr><th>{html.escape(r)}</th>{tds}</tr>")
    legend = "".join(f'<span style="background:{c}">{html.escape(s)}</span>' for s, c in STATUS_COLORS.items())
    return (f'<p class="legend">{legend}</p><div class="scroll"><table><tr>{head}</tr>'
            f'{"".join(body)}</table></div>')


def write_report(path: str | Path, *, title: str, dataset_info: dict, results: pd.DataFrame,
                 scorecard: pd.DataFrame, summary: pd.DataFrame, pairwise: pd.DataFrame,
                 figures: dict[str, Path]) -> Path:
    """Write one self-contained HTML report (no external files; PNGs as data URIs).

    Parameters
    ----------
    path : str or Path
        The HTML file (written atomically: a temporary file beside it, then renamed).
    title : str
        Page title and heading.
    dataset_info : dict
        Key/value pairs shown as the dataset block (rule, sizes, models...).
    results, scorecard, summary, pairwise : DataFrame
        The compare frames.
    figures : dict of str to Path
        PNG files to embed, in order (e.g. ``heatmap``, ``distributions``, ``scorecard``).

    Returns
    -------
    Path
        ``path``. Sections have ids ``summary``, ``scorecard``, ``figures``, ``results`` and
        ``pairwise``; every text is escaped with :func:`html.escape`.
    """
    esc = html.escape
    results, scorecard, summary, pairwise = (pd.DataFrame() if f is None else f
                                             for f in (results, scorecard, summary, pairwise))
    info = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(_fmt(v))}</td></tr>" for k, v in dataset_info.items())
    statements = "".join(f"<li>{esc(str(s))}</li>" for s in summary.get("statement", pd.Series(dtype=str)).fillna(""))
    figs = []
    for name, fig_path in figures.items():
        fig_path = Path(fig_path)
        if not fig_path.is_file():
            figs.append(f"<p><em>figure {esc(name)} not available</em></p>")
            continue
        data = base64.b64encode(fig_path.read_bytes()).decode("ascii")
        figs.append(f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{esc(_CAPTIONS.get(name, name))}</figcaption></figure>")
    sections = [
        ("summary", "Summary", _table(summary, ["model", "accuracy", "auroc", "beats_baseline", "hits", "misses", "wrong_sign",
                                                "extras", "decoy_false_calls", "learned_rule"])
         + f'<ul class="statements">{statements}</ul>'),
        ("scorecard", "Scorecard", _scorecard_html(scorecard)),
        ("figures", "Figures", "".join(figs) or "<p><em>(no figures)</em></p>"),
        ("results", "Results", _table(
            results, ["model", "test", "motifs", "verdict", "direction", "subset", "subset_effect", "subset_control",
                      "subset_q", "count", "avg_loss_diff", "control_mean", "flip_rate", "reason"],
            row_class=lambda r: str(r.get("verdict", "")), cell_class=lambda c, r: "verdict" if c == "verdict" else "")),
        ("pairwise", "Paired model comparison", _table(
            pairwise, ["test", "motifs", "subset", "model_a", "model_b", "n", "mean_a", "mean_b", "mean_diff", "p_value",
                       "q_value", "stronger"], cell_class=lambda c, r: "stronger" if c == "stronger" else "")
         if len(pairwise) else "<p><em>(no paired comparison: fewer than two models)</em></p>"),
    ]
    nav = "".join(f'<a href="#{sid}">{esc(name)}</a>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{esc(name)}</h2>{content}</section>' for sid, name, content in sections)
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1><nav>{nav}</nav>"
            f'<section id="dataset"><h2>Dataset</h2><table>{info}</table></section>{body}</body></html>\n')
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
