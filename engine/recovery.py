"""The recovery matrix of a sweep: which model, on which data, recovered which feature of the rule.

Rows are model x data setting (dataset, rule, size); columns are the features the tests probe
(``feature: motifs``); a cell is the outcome over seeds (the most frequent one) with the seeds
agreeing on it, e.g. ``recovered (+) 3/3``:

- ``recovered (+/-)``: the rule implies the feature and the model relies on it with that sign;
- ``wrong sign``: relies on it, with the other sign;
- ``missed``: the rule implies it and the model shows no effect (or does not beat the majority
  baseline);
- ``false call``: an effect where the rule implies none (a decoy, the sham, an unused feature);
- ``quiet``: no effect where none is implied (the right answer);
- ``not learned``: the model does not beat the majority baseline, so none of its calls counts
  (the scorecard's ``model did not learn``);
- ``confounded`` / ``untestable`` / ``shortcut``: the scorecard's statuses of the same name
  (the data cannot answer; too few sequences; the call is the motif's composition or position);
- ``error``: the test failed.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

OUTCOME_COLORS = {"recovered (+)": "#4daf4a", "recovered (-)": "#4daf4a", "recovered": "#4daf4a",
                  "wrong sign": "#ff7f00", "missed": "#e41a1c", "false call": "#984ea3", "quiet": "#eeeeee",
                  "not learned": "#bdbdbd", "confounded": "#cab2d6", "untestable": "#ffffb3", "shortcut": "#a6cee3",
                  "error": "#555555"}
STATUS_OUTCOMES = {"error": "error", "model did not learn": "not learned", "confounded": "confounded",
                   "untestable": "untestable", "shortcut": "shortcut"}
"""Scorecard statuses that are an outcome of their own, whatever was expected or found."""
SETTING = ["model", "dataset", "rule", "size"]
LONG_COLUMNS = [*SETTING, "feature", "outcome", "agree", "seeds", "outcomes", "accuracy"]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) if value is not None and not (isinstance(value, float) and np.isnan(value)) else False


def outcome(row: Any) -> str:
    """One scorecard row (``expected``, ``expected_sign``, ``found``, ``direction``, ``status``) as an outcome."""
    status = str(row.get("status", ""))
    if status in STATUS_OUTCOMES:
        return STATUS_OUTCOMES[status]
    expected, found = _truthy(row.get("expected")), _truthy(row.get("found"))
    sign = str(row.get("expected_sign", "") or "").strip()
    direction = str(row.get("direction", "") or "").strip()
    sign = "" if sign == "nan" else sign
    direction = "" if direction == "nan" else direction
    if expected and found:
        if sign and direction and sign != direction:
            return "wrong sign"
        return f"recovered ({direction or sign})" if (direction or sign) else "recovered"
    if expected:
        return "missed"
    return "false call" if found else "quiet"


def recovery_table(scorecards: pd.DataFrame) -> pd.DataFrame:
    """Long form: one row per model x data setting x feature, the outcome over seeds.

    Parameters
    ----------
    scorecards : DataFrame
        The cells' scorecards with ``model``, ``dataset``, ``rule``, ``size``, ``seed`` and
        ``accuracy`` added.

    Returns
    -------
    DataFrame
        ``outcome`` (most frequent over seeds; ties: the first in seed order), ``agree`` (seeds
        with that outcome), ``seeds``, ``outcomes`` (per seed, in seed order) and ``accuracy``
        (mean over the seeds of the setting).
    """
    if not len(scorecards):
        return pd.DataFrame(columns=LONG_COLUMNS)
    frame = scorecards.copy()
    frame["size"] = frame["size"].fillna(-1).astype(int) if "size" in frame else -1
    # A motif set is a set: seeds whose datasets list the motifs in another order share a column.
    frame["feature"] = [f"{f if isinstance(f, str) and f else t}: {'+'.join(sorted(str(m).split('+')))}"
                        for f, t, m in zip(frame.get("feature", frame["test"]), frame["test"], frame["motifs"])]
    frame["outcome"] = [outcome(r) for r in frame.to_dict("records")]
    frame = frame.sort_values("seed", kind="stable")
    rows = []
    for key, group in frame.groupby([*SETTING, "feature"], sort=False):
        counts = group["outcome"].value_counts(sort=False)
        best = counts.idxmax()
        acc = pd.to_numeric(group.drop_duplicates("seed")["accuracy"], errors="coerce")
        rows.append({**dict(zip([*SETTING, "feature"], key)), "outcome": best, "agree": int(counts[best]),
                     "seeds": int(group["seed"].nunique()), "outcomes": " ".join(group["outcome"]),
                     "accuracy": float(acc.mean()) if acc.notna().any() else np.nan})
    return pd.DataFrame(rows, columns=LONG_COLUMNS)


def recovery_matrix(long: pd.DataFrame) -> pd.DataFrame:
    """Wide form: rows model x data setting, a column per feature (``outcome k/n``), and accuracy."""
    if not len(long):
        return pd.DataFrame(columns=[*SETTING, "accuracy"])
    text = long.assign(cell=[f"{o} {a}/{n}" for o, a, n in zip(long["outcome"], long["agree"], long["seeds"])])
    wide = text.pivot_table(index=SETTING, columns="feature", values="cell", aggfunc="first", sort=False)
    wide = wide.reindex(columns=list(dict.fromkeys(long["feature"])))
    acc = long.groupby(SETTING, sort=False)["accuracy"].first()
    wide["accuracy"] = acc.reindex(wide.index).round(3)
    return wide.reset_index().fillna("")


def recovery_png(long: pd.DataFrame, path: str | Path) -> Path | None:
    """The matrix as a figure: colour = outcome, shade = seed agreement, text = ``k/n``."""
    if not len(long):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgb

    from motifprobe.engine.outputs import atomic_path

    rows = list(dict.fromkeys(zip(*(long[c] for c in SETTING))))
    cols = list(dict.fromkeys(long["feature"]))
    image = np.ones((len(rows), len(cols), 3))
    fig, ax = plt.subplots(figsize=(2.0 + 1.3 * len(cols), 1.2 + 0.42 * len(rows)))
    at = {r: i for i, r in enumerate(rows)}
    for r in long.itertuples(index=False):
        i, j = at[tuple(getattr(r, c) for c in SETTING)], cols.index(r.feature)
        share = r.agree / max(1, r.seeds)
        image[i, j] = 1 - share * (1 - np.asarray(to_rgb(OUTCOME_COLORS.get(r.outcome, "#999999"))))
        short = {"recovered (+)": "+", "recovered (-)": "-", "recovered": "ok", "wrong sign": "±", "missed": "miss",
                 "false call": "FC", "quiet": "·", "error": "err"}.get(r.outcome, r.outcome)
        ax.text(j, i, f"{short}\n{r.agree}/{r.seeds}", ha="center", va="center", fontsize=7)
    ax.imshow(image, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=40, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), [f"{m} | {d} {rule} n={s}" if s >= 0 else f"{m} | {d} {rule}"
                                     for m, d, rule, s in rows], fontsize=7)
    ax.set_title("recovery matrix (colour: outcome; shade: seeds agreeing)", fontsize=9)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    finally:
        plt.close(fig)
    return Path(path)


def write_recovery_outputs(root: str | Path, long: pd.DataFrame, matrix: pd.DataFrame, cells: pd.DataFrame, *,
                           title: str, figures: bool = True) -> None:
    """Write ``recovery.csv`` (long), ``recovery_matrix.csv`` (wide), ``recovery.png`` and ``report.html``."""
    from motifprobe.engine.outputs import atomic_path

    root = Path(root)
    with atomic_path(root / "recovery.csv") as tmp:
        long.to_csv(tmp, index=False)
    with atomic_path(root / "recovery_matrix.csv") as tmp:
        matrix.to_csv(tmp, index=False)
    png = recovery_png(long, root / "recovery.png") if figures else None
    html = render_sweep_report(title=title, matrix=matrix, long=long, cells=cells, png=png)
    with atomic_path(root / "report.html") as tmp:
        tmp.write_text(html, encoding="utf-8")


def _shown(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return f"{value:.3f}" if isinstance(value, float) else value


def render_sweep_report(*, title: str, matrix: pd.DataFrame, long: pd.DataFrame, cells: pd.DataFrame,
                        png: Path | None = None) -> str:
    """The sweep's HTML report (one file; the figure as a data URI), from ``templates/sweep.html``."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("motifprobe.engine", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    features = [c for c in matrix.columns if c not in (*SETTING, "accuracy")]
    colour = {}
    for r in long.itertuples(index=False):
        colour[(*(getattr(r, c) for c in SETTING), r.feature)] = OUTCOME_COLORS.get(r.outcome, "#ffffff")
    rows = []
    for r in matrix.to_dict("records"):
        key = tuple(r[c] for c in SETTING)
        rows.append({"head": [str(r[c]) if c != "size" or int(r[c]) >= 0 else "" for c in SETTING],
                     "cells": [{"text": str(r[f]), "colour": colour.get((*key, f), "#ffffff")} for f in features],
                     "accuracy": "" if r["accuracy"] == "" else f"{float(r['accuracy']):.3f}"})
    counts = cells["status"].value_counts().to_dict() if len(cells) else {}
    image = ("data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode()) if png else ""
    return env.get_template("sweep.html").render(
        title=title, setting=SETTING, features=features, rows=rows, image=image,
        counts=json.dumps(counts) if counts else "{}", status=[(k, int(v)) for k, v in counts.items()],
        outcomes=[(k, v) for k, v in OUTCOME_COLORS.items()],
        cells=[{k: _shown(v) for k, v in r.items()} for r in cells.to_dict("records")],
        cell_columns=list(cells.columns))
