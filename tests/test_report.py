"""Report figures and the self-contained HTML report, on synthetic compare frames."""
from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest

from motifprobe.engine import report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MODELS = ["torch-cnn", "sklearn", "xgboost-kmer"]
TESTS = [("presence", "STAT_known2"), ("presence", "GATA_known1"), ("order", "STAT_known2+CTCF_known1"),
         ("distance", "STAT_known2+CTCF_known1"), ("interaction", "STAT_known2+CTCF_known1"),
         ("control", "sham")]
STATUS_CYCLE = ["hit", "miss", "extra", "decoy false call", "correct none", "untestable"]
RULE = {"name": "order", "pos_motifs": ["STAT_known2", "CTCF_known1"], "params": {}}


def make_frames(models=MODELS, tests=TESTS, n_seqs=60, seed=0):
    """results, deltas, scorecard, summary, pairwise shaped like engine.compare's."""
    rng = np.random.default_rng(seed)
    results, deltas, card, summary, pairwise = [], [], [], [], []
    for k, (model, (test, motifs)) in enumerate(itertools.product(models, tests)):
        shift = rng.normal(0, 0.8)
        d = rng.normal(shift, 0.3, n_seqs)
        c = rng.normal(0, 0.1, n_seqs)
        verdict = ["effect", "none", "untestable"][k % 3]
        results.append({"model": model, "test": test, "motifs": motifs, "verdict": verdict,
                        "direction": "+" if shift > 0 else "-", "count": n_seqs, "avg_loss_diff": float(d.mean()),
                        "ci_low": float(d.mean() - 2 * d.std() / np.sqrt(n_seqs)),
                        "ci_high": float(d.mean() + 2 * d.std() / np.sqrt(n_seqs)),
                        "control_mean": float(c.mean()), "p_vs_control": 1e-5 * (k + 1),
                        "subset": "label1", "subset_effect": float(d.mean() / 4), "subset_control": float(c.mean() / 4),
                        "subset_q": 1e-5 * k, "flip_rate": 0.1, "reason": "<b>escaped</b>" if k == 0 else f"why {k}"})
        deltas.append(pd.DataFrame({"model": model, "test": test, "motifs": motifs, "id": [f"s{i}" for i in range(n_seqs)],
                                    "label": rng.integers(0, 2, n_seqs), "delta": d, "control_delta": c}))
        status = STATUS_CYCLE[(k + k // len(tests)) % len(STATUS_CYCLE)]
        card.append({"model": model, "test": test, "motifs": motifs, "expected": status in ("hit", "miss"),
                     "found": status in ("hit", "extra", "decoy false call"), "status": status})
    for model in models:
        summary.append({"model": model, "accuracy": 0.9, "auroc": 0.95, "beats_baseline": True, "hits": 2,
                        "misses": 1, "extras": 1, "decoy_false_calls": 1, "learned_rule": "partly",
                        "statement": f"{model} learned the rule only partly: 2 of 3 expected effects found."})
    for (test, motifs), (a, b) in itertools.product(tests, itertools.combinations(models, 2)):
        pairwise.append({"test": test, "motifs": motifs, "model_a": a, "model_b": b, "n": n_seqs, "mean_a": 0.5,
                         "mean_b": 0.1, "mean_diff": 0.4, "p_value": 1e-4, "q_value": 0.002, "stronger": a})
    return (pd.DataFrame(results), pd.concat(deltas, ignore_index=True), pd.DataFrame(card),
            pd.DataFrame(summary), pd.DataFrame(pairwise))


def pixels(path) -> np.ndarray:
    """The PNG decoded: uint8 RGB (height, width, 3). Fails on anything that is not a readable PNG."""
    from PIL import Image

    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def assert_png(path, min_size=(150, 300)):
    """A decodable PNG of at least ``min_size`` (height, width) pixels that is not one flat colour."""
    image = pixels(path)
    assert image.shape[0] >= min_size[0] and image.shape[1] >= min_size[1], image.shape
    packed = image.reshape(-1, 3).astype(np.int32) @ np.array([65536, 256, 1], dtype=np.int32)
    assert len(np.unique(packed)) > 20, "the figure is (nearly) blank"
    return image


def colour_count(image: np.ndarray, colour) -> int:
    """Pixels within 1/255 per channel of ``colour`` (a matplotlib colour)."""
    from matplotlib.colors import to_rgb

    want = np.round(np.array(to_rgb(colour)) * 255).astype(int)
    return int((np.abs(image.reshape(-1, 3).astype(int) - want).max(axis=1) <= 1).sum())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    results, deltas, card, summary, pairwise = make_frames()
    figs = {"heatmap": report.heatmap_png(results, out / "heatmap.png"),
            "distributions": report.distributions_png(deltas, out / "distributions.png")}
    report.scorecard_png(card, summary, out / "scorecard.png")  # a file beside the report, not in it
    figs_all = dict(figs, scorecard=out / "scorecard.png")
    info = {"dataset": "d.parquet", "sequences": 2000, "models": ", ".join(MODELS)}
    html_path = report.write_report(out / "report.html", title="motifprobe compare <test>", dataset_info=info,
                                    results=results, scorecard=card, summary=summary, pairwise=pairwise,
                                    figures=figs, rule=RULE)
    return out, figs_all, html_path, card


def test_each_figure_is_a_real_png(built):
    _, figs, _, _ = built
    for path in figs.values():
        assert_png(path)


def test_heatmap_colours_every_cell_by_its_mean_on_a_symmetric_scale(tmp_path):
    import matplotlib

    results = make_frames()[0]
    image = assert_png(report.heatmap_png(results, tmp_path / "h.png"))
    cmap = matplotlib.colormaps["RdBu_r"]
    values = results["avg_loss_diff"].to_numpy()
    vmax = np.percentile(np.abs(values), report.CLIP_PERCENTILE)
    assert report.robust_limit(values) == pytest.approx(vmax) and vmax < np.abs(values).max()
    counts = [colour_count(image, cmap(np.clip((v + vmax) / (2 * vmax), 0, 1))) for v in values]
    # each cell is ~10,000 pixels of its colour (less its label); no cell is missing or mis-coloured
    assert min(counts) > 5_000, dict(zip(values.round(2), counts))
    # more models make a wider figure, more tests a taller one
    one = pixels(report.heatmap_png(make_frames(models=["a"], tests=TESTS[:1])[0], tmp_path / "one.png"))
    assert image.shape[1] > one.shape[1] + 300 and image.shape[0] > one.shape[0] + 100


def test_heatmap_cells_show_the_mean_and_its_ci():
    import matplotlib.pyplot as plt

    results = make_frames(models=["a", "b"], tests=TESTS[:3])[0]
    results.loc[1, ["ci_low", "ci_high"]] = np.nan  # a row without a CI shows its mean alone
    fig = report.heatmap_figure(results)
    try:
        texts = {t.get_text() for t in fig.axes[0].texts}
    finally:
        plt.close(fig)
    for i, r in results.iterrows():
        star = "*" if r["verdict"] == "effect" else ""
        want = f"{r['avg_loss_diff']:.2f}{star}"
        if i != 1:
            want += f"\n[{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
        assert want in texts, (want, texts)
    fig = report.heatmap_figure(results.drop(columns=["ci_low", "ci_high"]))
    try:
        assert not any("[" in t.get_text() for t in fig.axes[0].texts)
        assert "CI" not in fig.axes[0].get_title()
    finally:
        plt.close(fig)


def test_heatmap_nan_cells_are_grey(tmp_path):
    results = make_frames(models=["a", "b"], tests=TESTS[:2])[0]
    results.loc[0, "avg_loss_diff"] = np.nan
    image = pixels(report.heatmap_png(results, tmp_path / "h.png"))
    assert colour_count(image, "#d0d0d0") > 5_000
    full = pixels(report.heatmap_png(make_frames(models=["a", "b"], tests=TESTS[:2])[0], tmp_path / "f.png"))
    assert colour_count(full, "#d0d0d0") < 1_000  # anti-aliased text only


def test_scorecard_figure_colours_each_cell_by_its_status(built):
    _, figs, _, card = built
    image = pixels(figs["scorecard"])
    per_cell = {}
    for status, colour in report.STATUS_COLORS.items():
        cells = int((card["status"] == status).sum())
        count = colour_count(image, colour)
        if cells == 0:
            assert count < 100, status
        else:
            per_cell[status] = count / cells
    assert len(per_cell) == 6 and min(per_cell.values()) > 3_000
    assert max(per_cell.values()) < 1.5 * min(per_cell.values()), per_cell  # same cell size for every status


def test_distributions_draw_every_model_and_its_sham(built, tmp_path):
    import matplotlib

    _, figs, _, _ = built
    image = pixels(figs["distributions"])
    tab10 = matplotlib.colormaps["tab10"]
    for i, _model in enumerate(MODELS):
        colour = tab10(i)
        assert colour_count(image, colour) > 1_000, f"no box of model {i}"
        assert colour_count(image, report._lighter(colour)) > 1_000, f"no sham box of model {i}"
    assert colour_count(image, tab10(len(MODELS))) < 50  # no fourth model
    # six tests: two rows of panels, taller than one test's single row
    one = pixels(report.distributions_png(make_frames(tests=TESTS[:1])[1], tmp_path / "one.png"))
    assert image.shape[0] > 1.6 * one.shape[0]
    # without control deltas there is no sham box
    no_sham = make_frames(tests=TESTS[:1])[1].drop(columns="control_delta")
    image = pixels(report.distributions_png(no_sham, tmp_path / "no_sham.png"))
    assert colour_count(image, tab10(0)) > 1_000 and colour_count(image, report._lighter(tab10(0))) < 1_000


def section(text: str, sid: str) -> str:
    start = text.index(f'<section id="{sid}">')
    return text[start:text.index("</section>", start)]


def test_html_embeds_the_figure_files_and_shows_the_values(built):
    import base64

    _, figs, html_path, card = built
    text = html_path.read_text(encoding="utf-8")
    embedded = re.findall(r'<img alt="(\w+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', text)
    assert [name for name, _ in embedded] == ["heatmap", "distributions"]  # the scorecard is a table, once
    for name, data in embedded:
        assert base64.b64decode(data) == figs[name].read_bytes()
    results = make_frames()[0]
    rows = re.findall(r'<tr class="(\w*)">(.*?)</tr>', section(text, "results"), flags=re.S)
    assert len(rows) == len(results)
    for (klass, cells), (_, want) in zip(rows, results.iterrows()):
        got = re.findall(r"<td[^>]*>(.*?)</td>", cells)
        assert klass == want["verdict"]
        assert got[:5] == [want["model"], want["test"], want["motifs"], want["verdict"], want["direction"]]
        assert got[5] == "label1"
        assert got[6] == f"{want['subset_effect']:.3f}" and got[7] == f"{want['subset_control']:.3f}"
        assert got[8] == (f"{want['subset_q']:.3f}" if want["subset_q"] == 0 else
                          f"{want['subset_q']:.2e}")  # q values below 1e-3 in scientific notation
        assert got[9] == str(want["count"])
        assert got[10] == ("&lt;b&gt;escaped&lt;/b&gt;" if want["reason"].startswith("<") else want["reason"])
        assert len(got) == 11  # the pooled mean and the tests against zero stay in the files
    score = section(text, "scorecard")
    for status, colour in report.STATUS_COLORS.items():
        assert score.count(f'<td style="background:{colour}">{status}</td>') == (card["status"] == status).sum()
    summary = section(text, "summary")
    assert summary.count("<li>") == len(MODELS) and '<td class="num">0.900</td>' in summary
    assert summary.count('<td class="yes">yes</td>') == len(MODELS)
    assert section(text, "pairwise").count('<td class="stronger">') == len(TESTS) * 3


def test_summary_comes_first_with_the_rule_in_words(built):
    text = built[2].read_text(encoding="utf-8")
    order = [text.index(f'<section id="{sid}">') for sid in
             ("summary", "scorecard", "figures", "results", "pairwise", "legend", "dataset")]
    assert order == sorted(order)
    rule = re.search(r'<p class="rule">(.*?)</p>', section(text, "summary")).group(1)
    assert "order: positive iff both pos motifs are present, the first before the second" in rule
    assert "pos motifs STAT_known2, CTCF_known1" in rule and "{" not in rule
    assert report.rule_in_words(None).startswith("(none recorded")
    assert report.rule_in_words('{"gen_type": "distance", "pos_motifs": ["A", "B"], "min_dist": 2}').endswith(
        "pos motifs A, B; min_dist = 2")


def test_legend_defines_every_status_verdict_unit_and_sign(built):
    legend = section(built[2].read_text(encoding="utf-8"), "legend")
    terms = re.findall(r"<dt>(?:<span[^>]*></span>)?(.*?)</dt>", legend)
    assert set(report.STATUS_COLORS) <= set(terms) and set(report.STATUS_TEXT) == set(report.STATUS_COLORS)
    for verdict in ("effect", "none", "composition", "position", "untestable", "error"):
        assert verdict in terms
    for status, colour in report.STATUS_COLORS.items():
        assert f'<span class="swatch" style="background:{colour}"></span>{status}</dt>' in legend
    assert "perturbed loss − original loss" in legend and "nats" in legend and "probability scale" in legend
    assert "relied on" in legend and "sequences tested" in legend and "contain the motif" in legend
    assert "CI" in terms and f"{report.CLIP_PERCENTILE}th percentile of |mean delta|" in legend
    figures = section(built[2].read_text(encoding="utf-8"), "figures")
    assert f"clipped at the {report.CLIP_PERCENTILE}th percentile" in figures


def test_pairwise_only_between_models_that_learned(tmp_path):
    results, _, card, summary, pairwise = make_frames()
    summary.loc[summary["model"] == "sklearn", "beats_baseline"] = False
    text = report.render_report(title="t", dataset_info={}, results=results, scorecard=card, summary=summary,
                                pairwise=pairwise, figures={})
    body = section(text, "pairwise")
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)[1:]
    assert len(rows) == len(TESTS)  # only torch-cnn vs xgboost-kmer
    assert all("sklearn" not in row for row in rows) and "left out: sklearn" in body
    summary["beats_baseline"] = False
    text = report.render_report(title="t", dataset_info={}, results=results, scorecard=card, summary=summary,
                                pairwise=pairwise, figures={})
    assert "<table" not in section(text, "pairwise") and "No pair of models that both learned" in text


def test_html_has_sections_models_statuses_and_images(built):
    out, _, html_path, card = built
    text = html_path.read_text(encoding="utf-8")
    for sid in ("summary", "scorecard", "figures", "results", "pairwise", "legend", "dataset"):
        assert f'id="{sid}"' in text
    for model in MODELS:
        assert model in text
    for status in set(card["status"]):
        assert f">{status}<" in text
    assert text.count("data:image/png;base64,") == 2
    assert "&lt;b&gt;escaped&lt;/b&gt;" in text and "<b>escaped</b>" not in text
    assert "motifprobe compare &lt;test&gt;" in text
    assert "@media print" in text
    assert not list(out.glob(".report.html.*"))  # no temp file left behind


def test_templates_are_package_data():
    from importlib.resources import files

    templates = files("motifprobe.engine") / "templates"
    names = {p.name for p in templates.iterdir()}
    assert {"report.html", "summary.html", "scorecard.html", "figures.html", "results.html", "pairwise.html",
            "legend.html", "dataset.html"} <= names
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(report.__file__).parents[1] / "pyproject.toml").read_text())
    tool = pyproject["tool"]["setuptools"]
    assert "motifprobe.engine.templates" in tool["packages"]  # so a wheel carries them (and setuptools is quiet)
    assert "*.html" in tool["package-data"]["motifprobe.engine.templates"]


def test_logos_of_tested_motifs(tmp_path):
    pytest.importorskip("logomaker")
    results = make_frames()[0]
    assert report.tested_motifs(results) == ["STAT_known2", "GATA_known1", "CTCF_known1"]
    logos = report.logo_pngs(["CTCF_known1", "not_a_motif"], tmp_path)
    assert list(logos) == ["CTCF_known1"]
    image = assert_png(logos["CTCF_known1"], min_size=(100, 300))
    # classic colours: C blue and G orange dominate CTCF's logo
    assert colour_count(image, "blue") > 500 and colour_count(image, "orange") > 500
    text = report.render_report(title="t", dataset_info={}, results=results, scorecard=make_frames()[2],
                                summary=make_frames()[3], pairwise=make_frames()[4], figures={}, logos=logos)
    assert text.count('<img alt="logo CTCF_known1" src="data:image/png;base64,') == 1


def test_html_is_self_contained(built):
    text = built[2].read_text(encoding="utf-8")
    assert "<script src=" not in text.lower()
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text)


def test_single_model_with_nan_mean(tmp_path):
    results, deltas, card, summary, pairwise = make_frames(models=["sklearn"], tests=TESTS[:1])
    results.loc[0, "avg_loss_diff"] = np.nan
    results.loc[0, "subset_effect"] = np.nan
    deltas["control_delta"] = np.nan
    assert_png(report.heatmap_png(results, tmp_path / "h.png"))
    assert_png(report.distributions_png(deltas, tmp_path / "d.png"))
    assert_png(report.scorecard_png(card, summary, tmp_path / "s.png"))
    page = report.write_report(tmp_path / "r.html", title="one", dataset_info={}, results=results,
                               scorecard=card, summary=summary, pairwise=pairwise.iloc[0:0],
                               figures={"heatmap": tmp_path / "h.png", "gone": tmp_path / "missing.png"}).read_text()
    assert "n/a" in page and "sklearn" in page and page.count("data:image/png;base64,") == 1
    assert "figure gone not available" in page and "fewer than two models" in page


def test_all_nan_heatmap_and_empty_deltas(tmp_path):
    results = make_frames(models=["a", "b"], tests=TESTS[:2])[0].assign(avg_loss_diff=np.nan)
    assert_png(report.heatmap_png(results, tmp_path / "h.png"))
    empty = pd.DataFrame(columns=["model", "test", "motifs", "id", "label", "delta", "control_delta"])
    image = pixels(report.distributions_png(empty, tmp_path / "d.png"))
    # a small white figure with dark text ("no deltas") and no box
    assert (image.min(axis=2) < 80).sum() > 200
    assert (image.min(axis=2) > 245).mean() > 0.9
    import matplotlib
    assert colour_count(image, matplotlib.colormaps["tab10"](0)) == 0


def test_large_deltas_are_sampled(tmp_path):
    _, deltas, _, _, _ = make_frames(models=["a", "b"], tests=TESTS[:1], n_seqs=20_000)
    assert_png(report.distributions_png(deltas, tmp_path / "d.png"))


_CHECK_SCRIPT = """<script>
window.addEventListener("load", function () {
  var page = document.documentElement.clientWidth, out = [];
  document.querySelectorAll("img").forEach(function (img, i) {
    out.push("img " + i + " " + (img.complete && img.naturalWidth > 0 ? "ok" : "broken") + " " +
             Math.round(img.getBoundingClientRect().right) + " " + page);
  });
  document.querySelectorAll("table").forEach(function (t, i) {
    out.push("table " + i + " " + Math.round(t.getBoundingClientRect().right) + " " + page);
  });
  var pre = document.createElement("pre"); pre.id = "render-check"; pre.textContent = out.join("\\n");
  document.body.appendChild(pre);
});
</script>"""


def chromium_binary():
    import shutil

    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_renders_in_headless_chromium(built, tmp_path):
    """At 1000 px wide every image loads and no table or image reaches past the page's right edge."""
    import base64
    import subprocess

    binary = chromium_binary()
    if binary is None:
        print("skipped: no chromium, chromium-browser or google-chrome binary on PATH")
        pytest.skip("no chromium, chromium-browser or google-chrome binary on PATH")
    text = built[2].read_text(encoding="utf-8")
    for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text):
        assert base64.b64decode(data).startswith(PNG_MAGIC)
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", _CHECK_SCRIPT + "</body>"), encoding="utf-8")
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1000,900", "--virtual-time-budget=5000"]
    dom = subprocess.run(args + ["--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="render-check">(.*?)</pre>', dom, flags=re.S)
    assert found, dom[-2000:]
    lines = found.group(1).split("\n")
    imgs = [line.split() for line in lines if line.startswith("img ")]
    tables = [line.split() for line in lines if line.startswith("table ")]
    assert len(imgs) == text.count("<img ") and len(tables) == text.count("<table")
    assert all(status == "ok" for _, _, status, _, _ in imgs), imgs
    for kind, i, *rest in imgs + tables:
        right, page = int(rest[-2]), int(rest[-1])
        assert right <= page, f"{kind} {i} ends at {right} px, past the page width {page} px"
    shot = tmp_path / "shot.png"
    subprocess.run(args + [f"--screenshot={shot}", built[2].as_uri()], capture_output=True, timeout=120)
    assert_png(shot, min_size=(800, 900))


def test_audit_section_shows_primary_and_flagged_arms():
    from motifprobe.engine.audit import AUDIT_COLUMNS, AuditResult

    results, _, card, summary, pairwise = make_frames()
    rows = [dict.fromkeys(AUDIT_COLUMNS, 0) | {"test": "presence", "motifs": "STAT_known2", "arm": "perturbed",
                                               "role": "primary", "perturbations": 1000, "left_share": 0.004,
                                               "created_share": 0.01, "gc_drift": 0.2, "note": ""},
            dict.fromkeys(AUDIT_COLUMNS, 0) | {"test": "presence", "motifs": "STAT_known2", "arm": "composition",
                                               "role": "test", "perturbations": 1000, "left_share": 0.063,
                                               "created_share": 0.0, "gc_drift": 0.0, "note": ""},
            dict.fromkeys(AUDIT_COLUMNS, 0) | {"test": "order", "motifs": "STAT_known2+CTCF_known1", "arm": "swap_sham",
                                               "role": "control", "perturbations": 1000, "left_share": 0.001,
                                               "created_share": 0.0, "gc_drift": 0.0, "note": ""}]
    audit = AuditResult(table=pd.DataFrame(rows, columns=AUDIT_COLUMNS), motifs=["STAT_known2"])
    text = report.render_report(title="t", dataset_info={}, results=results, scorecard=card, summary=summary,
                                pairwise=pairwise, figures={}, audit=audit)
    body = section(text, "audit")
    assert 'href="#audit"' in text
    shown = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)[1:]
    assert len(shown) == 2  # the primary arm and the flagged one; the unflagged control only in audit.csv
    assert "swap_sham" not in body and 'class="flagged"' in body and "composition" in body
    assert "6% of perturbations left a hit" in body
    plain = report.render_report(title="t", dataset_info={}, results=results, scorecard=card, summary=summary,
                                 pairwise=pairwise, figures={})
    assert 'id="audit"' not in plain
