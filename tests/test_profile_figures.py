"""Insertion-profile figures and the report's "Grammar curves" section, on synthetic profile tables."""
from __future__ import annotations

import base64
import re
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from motifprobe.engine import profile_figures as pf
from motifprobe.engine import report
from motifprobe.engine.errors import MotifprobeError
from test_report import _CHECK_SCRIPT, PNG_MAGIC, assert_png, chromium_binary, make_frames, section

PAIR = "GATA_known1+TAL1_known1"
GAPS = np.arange(0, 31, 2.0)
WINDOW = (8.0, 16.0)


def rows(model, test, motifs, points, labels, effects, order="", expected="", called=None, half=0.02):
    effects = np.asarray(effects, float)
    called = np.abs(effects) > 0.1 if called is None else np.asarray(called, bool)
    return pd.DataFrame({
        "model": model, "test": test, "feature": test, "motifs": motifs, "arm": [f"{order}{x}" for x in labels],
        "point": points, "point_label": labels, "order": order, "n": 200, "effect": effects,
        "ci_low": effects - half, "ci_high": effects + half, "control": 0.0, "p_value": np.where(called, 1e-4, 0.5),
        "q_value": np.where(called, 1e-3, 0.6), "called": called,
        "expected": expected if not isinstance(expected, str) else [expected] * len(effects)})


def spacing(models=("cnn",), orders=("AB", "BA"), window=True, seed=0):
    rng = np.random.default_rng(seed)
    expected = np.where((GAPS >= WINDOW[0]) & (GAPS <= WINDOW[1]), "inside", "outside") if window else ""
    frames = [rows(m, "spacing", PAIR, GAPS, [f"{g:.0f}" for g in GAPS],
                   0.3 * ((GAPS >= WINDOW[0]) & (GAPS <= WINDOW[1])) * (1 + i) / 2 + rng.normal(0, 0.01, GAPS.size),
                   order, expected) for i, m in enumerate(models) for order in orders]
    return pd.concat(frames, ignore_index=True)


def orientation(models=("cnn", "kmer"), expected=True):
    strands = ["--", "+-", "++", "-+"]  # out of the canonical order on purpose
    exp = ["outside", "outside", "inside", "outside"] if expected else ""
    return pd.concat([rows(m, "orientation", PAIR, np.nan, strands, [0.02, 0.05, 0.3 - 0.2 * i, 0.04], "", exp)
                      for i, m in enumerate(models)], ignore_index=True)


def all_kinds():
    copies = np.arange(1, 6.0)
    pos = np.arange(0, 101, 20.0)
    return pd.concat([spacing(models=("cnn", "kmer")), orientation(),
                      rows("cnn", "dosage", "GATA_known1", copies, [f"{c:.0f}" for c in copies], 0.2 * np.sqrt(copies)),
                      rows("cnn", "position", "GATA_known1", pos, [f"{p:.0f}" for p in pos],
                           [0.0, 0.05, 0.3, 0.3, 0.05, 0.0])], ignore_index=True)


@pytest.fixture
def close():
    import matplotlib.pyplot as plt

    figs = []
    yield figs.append
    for fig in figs:
        plt.close(fig)


def by_gid(ax, gid, kind="lines"):
    return [a for a in getattr(ax, kind) if a.get_gid() == gid]


def test_spacing_draws_one_line_and_band_per_model_and_order(close):
    fig = pf.profile_figure(spacing(models=("cnn", "kmer")), "spacing", PAIR)
    close(fig)
    ax = fig.axes[0]
    curves = by_gid(ax, "curve")
    assert sorted(c.get_label() for c in curves) == sorted(
        f"{m}, {o}" for m in ("cnn", "kmer") for o in ("GATA_known1 then TAL1_known1", "TAL1_known1 then GATA_known1"))
    assert {c.get_linestyle() for c in curves} == {"-", "--"}  # BA dashed
    assert len(by_gid(ax, "ci-band", "collections")) == 4
    table = spacing(models=("cnn", "kmer"))
    for curve in curves:
        model, order = curve.get_label().split(", ")
        want = table[(table["model"] == model) & (table["order"] == ("AB" if order.startswith("GATA") else "BA"))]
        np.testing.assert_allclose(curve.get_xdata(), want["point"])
        np.testing.assert_allclose(curve.get_ydata(), want["effect"])
    assert "bp" in ax.get_xlabel() and "+ = inserting raises" in ax.get_ylabel()
    # one model: the two orders get two colours
    fig = pf.profile_figure(spacing(), "spacing", PAIR)
    close(fig)
    curves = by_gid(fig.axes[0], "curve")
    assert len(curves) == 2 and curves[0].get_color() != curves[1].get_color()


def test_window_is_shaded_only_when_expected_says_where(close):
    fig = pf.profile_figure(spacing(), "spacing", PAIR)
    close(fig)
    (window,) = by_gid(fig.axes[0], "planted-window", "patches")
    x0, x1 = window.get_x(), window.get_x() + window.get_width()
    assert (x0, x1) == pytest.approx((WINDOW[0] - 1, WINDOW[1] + 1))  # inside points ± half the 2 bp step
    fig = pf.profile_figure(spacing(window=False), "spacing", PAIR)
    close(fig)
    assert by_gid(fig.axes[0], "planted-window", "patches") == []
    # two separate inside runs: two shaded spans
    table = spacing()
    table.loc[table["point"] == 24, "expected"] = "inside"
    fig = pf.profile_figure(table, "spacing", PAIR)
    close(fig)
    spans = sorted((p.get_x(), p.get_x() + p.get_width()) for p in by_gid(fig.axes[0], "planted-window", "patches"))
    assert spans == [pytest.approx((7, 17)), pytest.approx((23, 25))]


def test_called_points_are_marked(close):
    table = spacing(orders=("AB",))
    fig = pf.profile_figure(table, "spacing", PAIR)
    close(fig)
    (marks,) = by_gid(fig.axes[0], "called", "collections")
    called = table[table["called"]]
    assert len(called) == 5
    np.testing.assert_allclose(marks.get_offsets(), called[["point", "effect"]].to_numpy())
    table["called"] = False
    fig = pf.profile_figure(table, "spacing", PAIR)
    close(fig)
    assert by_gid(fig.axes[0], "called", "collections") == []


def test_orientation_bars_per_strand_and_model_with_planted_strand_shaded(close):
    fig = pf.profile_figure(orientation(), "orientation", PAIR)
    close(fig)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["++", "+-", "-+", "--"]
    curves = by_gid(ax, "curve")
    assert len(curves) == 2 and [c.get_label() for c in ax.containers] == ["cnn", "kmer"]
    # cnn's ++ effect (0.3) at the first category, left of kmer's (0.1)
    assert curves[0].get_ydata()[0] == pytest.approx(0.3) and curves[1].get_ydata()[0] == pytest.approx(0.1)
    assert curves[0].get_xdata()[0] < 0 < curves[1].get_xdata()[0]
    (window,) = by_gid(ax, "planted-window", "patches")
    assert window.get_x() < 0 < window.get_x() + window.get_width() < 1  # around "++" only
    (marks,) = by_gid(ax, "called", "collections")  # only cnn's ++ (0.3) is called (kmer's 0.1 is not)
    np.testing.assert_allclose(marks.get_offsets(), [[curves[0].get_xdata()[0], 0.3]])
    fig = pf.profile_figure(orientation(expected=False), "orientation", PAIR)
    close(fig)
    assert by_gid(fig.axes[0], "planted-window", "patches") == []
    # the kind comes from the feature: the test "strand" probes orientation
    fig = pf.profile_figure(orientation().assign(test="strand", feature="orientation"), "strand", PAIR)
    close(fig)
    assert fig.axes[0].get_xlabel() == pf.X_LABELS["orientation"]
    assert fig.axes[0].get_title().startswith("orientation (strand) profile")


def test_dosage_draws_the_additive_reference_without_rescaling(close):
    table = all_kinds()
    fig = pf.profile_figure(table, "dosage", "GATA_known1")
    close(fig)
    ax = fig.axes[0]
    (additive,) = by_gid(ax, "additive")
    np.testing.assert_allclose(additive.get_ydata(), 0.2 * np.arange(1, 6))
    assert ax.get_ylim()[1] < 0.2 * 5  # the axis follows the curve (max 0.45), not the additive line (1.0)
    assert "copies" in ax.get_xlabel()


def test_figures_written_as_valid_png_and_svg_deterministically(tmp_path):
    table = all_kinds()
    written = pf.write_profile_figures(table, tmp_path / "figs")
    assert list(written) == [("spacing", PAIR), ("orientation", PAIR), ("dosage", "GATA_known1"),
                             ("position", "GATA_known1")]
    for files in written.values():
        assert_png(files["png"], min_size=(300, 500))
        root = ET.parse(files["svg"]).getroot()
        assert root.tag.endswith("svg")
        assert "<dc:date>" not in files["svg"].read_text()  # no timestamp: the same figure gives the same file
    first = {k: {f: p.read_bytes() for f, p in v.items()} for k, v in written.items()}
    again = pf.write_profile_figures(table, tmp_path / "figs")
    assert {k: {f: p.read_bytes() for f, p in v.items()} for k, v in again.items()} == first
    assert written[("spacing", PAIR)]["png"].name == "profile_spacing_GATA_known1_TAL1_known1.png"
    assert pf.write_profile_figures(table.iloc[0:0], tmp_path / "none") == {}
    assert not (tmp_path / "none").exists()


def test_a_missing_column_is_one_clear_error():
    with pytest.raises(MotifprobeError, match="lacks column.*ci_low") as err:
        pf.profile_figure(spacing().drop(columns="ci_low"), "spacing", PAIR)
    assert "\n" not in str(err.value)
    with pytest.raises(MotifprobeError, match="no profile rows for test 'spacing' and motifs 'X'"):
        pf.profile_figure(spacing(), "spacing", "X")


def test_called_points_table():
    table = spacing(models=("cnn", "kmer"))
    table.loc[table["model"] == "kmer", "called"] = False
    called = pf.called_points(table)
    assert len(called) == 4
    cnn = called[(called["model"] == "cnn") & (called["order"] == "GATA_known1 then TAL1_known1")].iloc[0]
    assert cnn["called"] == "8, 10, 12, 14, 16" and cnn["n_called"] == 5 and cnn["n_points"] == len(GAPS)
    assert cnn["in_window"] == "5 of 5"
    kmer = called[called["model"] == "kmer"].iloc[0]
    assert kmer["called"] == "none" and kmer["in_window"] == ""
    assert re.fullmatch(r"[+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", cnn["peak_effect"])


def render(profiles):
    results, _, card, summary, pairwise = make_frames(models=["cnn", "kmer"], tests=[("presence", "GATA_known1")])
    return report.render_report(title="t", dataset_info={}, results=results, scorecard=card, summary=summary,
                                pairwise=pairwise, figures={}, profiles=profiles)


def test_curves_section_only_with_profiles():
    for absent in (None, all_kinds().iloc[0:0]):
        text = render(absent)
        assert 'id="curves"' not in text and "Grammar curves" not in text
    text = render(all_kinds())
    order = [text.index(f'<section id="{sid}">') for sid in ("figures", "curves", "results")]
    assert order == sorted(order)
    assert '<a href="#curves">Grammar curves</a>' in text
    body = section(text, "curves")
    assert body.count("<img ") == 4 and "+ = inserting raises the prediction" in body
    table_rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)[1:]
    assert len(table_rows) == len(pf.called_points(all_kinds()))
    assert "called inside window" in body


def test_every_image_is_an_inline_png_data_uri():
    text = render(all_kinds())
    sources = re.findall(r'<img [^>]*src="([^"]*)"', text)
    assert len(sources) == text.count("<img ") == 4
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)


def test_report_with_curves_renders_in_headless_chromium(tmp_path):
    """At 1000 px wide the curve figures load and neither they nor the called-points table overflow."""
    binary = chromium_binary()
    if binary is None:
        print("skipped: no chromium, chromium-browser or google-chrome binary on PATH")
        pytest.skip("no chromium, chromium-browser or google-chrome binary on PATH")
    text = render(all_kinds())
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", _CHECK_SCRIPT + "</body>"), encoding="utf-8")
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1000,900", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()]
    dom = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="render-check">(.*?)</pre>', dom, flags=re.S)
    assert found, dom[-2000:]
    lines = [line.split() for line in found.group(1).split("\n")]
    imgs = [line for line in lines if line[0] == "img"]
    assert len(imgs) == 4 and all(line[2] == "ok" for line in imgs), imgs
    for kind, i, *rest in lines:
        assert int(rest[-2]) <= int(rest[-1]), f"{kind} {i} overflows the page"


def test_point_deltas_figure_draws_each_arm_model_and_control(close):
    rng = np.random.default_rng(1)
    deltas = pd.DataFrame({"model": np.repeat(["cnn", "kmer"], 300),
                           "arm": np.tile(np.repeat(["AB:4", "AB:12", "BA:12"], 100), 2),
                           "delta": rng.normal(0.1, 0.05, 600), "control_delta": rng.normal(0, 0.05, 600)})
    fig = pf.point_deltas_figure(deltas, ["AB:12", "AB:4"])
    close(fig)
    ax = fig.axes[0]
    gids = sorted(c.get_gid() for c in ax.collections if c.get_gid())
    assert gids == sorted(f"{kind} {m} {a}" for kind in ("delta", "control") for m in ("cnn", "kmer")
                          for a in ("AB:12", "AB:4"))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["AB:12", "AB:4"]
    fig = pf.point_deltas_figure(deltas.drop(columns="control_delta"), ["AB:4"])
    close(fig)
    assert not any(str(c.get_gid()).startswith("control") for c in fig.axes[0].collections)
    with pytest.raises(MotifprobeError, match="arm.*AB:99.*not in the deltas; arms: AB:4, AB:12, BA:12"):
        pf.point_deltas_figure(deltas, ["AB:99"])
    with pytest.raises(MotifprobeError, match="arm.*AB:4.*not in the deltas; arms: \\(none\\)"):
        pf.point_deltas_figure(deltas.drop(columns="arm"), ["AB:4"])
    with pytest.raises(MotifprobeError, match="no arm given"):
        pf.point_deltas_figure(deltas, [])


def test_point_deltas_figure_reads_the_wide_deltas_file(close):
    rng = np.random.default_rng(2)
    n = 200
    # the deltas file of insertion tests: one column per arm; another test's arms are NaN in these rows
    wide = pd.DataFrame({"model": np.repeat(["cnn", "kmer"], n), "test": "spacing",
                         "prob_arm_AB:12": np.r_[rng.normal(0.3, 0.05, n), rng.normal(0.02, 0.05, n)],
                         "prob_arm_control": rng.normal(0.01, 0.02, 2 * n)})
    other = pd.DataFrame({"model": ["cnn"] * 5, "test": "dosage", "prob_arm_copies:2": 0.1})
    fig = pf.point_deltas_figure(pd.concat([wide, other], ignore_index=True), ["AB:12"])
    close(fig)
    bodies = {c.get_gid(): c for c in fig.axes[0].collections if c.get_gid()}
    assert set(bodies) == {"delta cnn AB:12", "control cnn AB:12", "delta kmer AB:12", "control kmer AB:12"}
    # the cnn violin spans its values (around 0.3), not the other test's rows
    ys = bodies["delta cnn AB:12"].get_paths()[0].vertices[:, 1]
    assert 0.1 < ys.min() < 0.3 < ys.max() < 0.5
    with pytest.raises(MotifprobeError, match="arm.*AB:99.*arms: AB:12, control, copies:2"):
        pf.point_deltas_figure(wide.assign(**{"prob_arm_copies:2": np.nan}), ["AB:99"])


def test_demo_script_writes_one_figure_of_each_kind(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "profile_figures_demo.py"
    spec = importlib.util.spec_from_file_location("profile_figures_demo", script)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    written = demo.main(str(tmp_path))
    assert [p.name for p in written] == ["spacing.png", "orientation.png", "dosage.png", "position.png"]
    for path in written:
        assert_png(path, min_size=(300, 500))
    assert list(pf.check_profiles(demo.synthetic_profiles()).columns[:len(pf.PROFILE_COLUMNS)]) == pf.PROFILE_COLUMNS


def test_curves_template_is_package_data():
    from importlib.resources import files

    assert (files("motifprobe.engine") / "templates" / "curves.html").is_file()
