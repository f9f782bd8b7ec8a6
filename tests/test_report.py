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
                        "control_mean": float(c.mean()), "p_vs_control": 1e-5 * (k + 1), "q_value": 0.01 * k,
                        "flip_rate": 0.1, "note": "<b>escaped</b>" if k == 0 else ""})
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


def assert_png(path, min_bytes=5_000):
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > min_bytes


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    results, deltas, card, summary, pairwise = make_frames()
    figs = {"heatmap": report.heatmap_png(results, out / "heatmap.png"),
            "distributions": report.distributions_png(deltas, out / "distributions.png"),
            "scorecard": report.scorecard_png(card, summary, out / "scorecard.png")}
    info = {"dataset": "d.parquet", "sequences": 2000, "rule": '{"gen_type": "order"}', "models": ", ".join(MODELS)}
    html_path = report.write_report(out / "report.html", title="motifprobe compare <test>", dataset_info=info,
                                    results=results, scorecard=card, summary=summary, pairwise=pairwise,
                                    figures=figs)
    return out, figs, html_path, card


def test_each_figure_is_a_real_png(built):
    _, figs, _, _ = built
    for path in figs.values():
        assert_png(path)


def test_html_has_sections_models_statuses_and_images(built):
    out, _, html_path, card = built
    text = html_path.read_text(encoding="utf-8")
    for sid in ("summary", "scorecard", "figures", "results", "pairwise"):
        assert f'id="{sid}"' in text
    for model in MODELS:
        assert model in text
    for status in set(card["status"]):
        assert f">{status}<" in text
    assert text.count("data:image/png;base64,") == 3
    assert "&lt;b&gt;escaped&lt;/b&gt;" in text and "<b>escaped</b>" not in text
    assert "motifprobe compare &lt;test&gt;" in text
    assert not list(out.glob(".report.html.*"))  # no temp file left behind


def test_html_is_self_contained(built):
    text = built[2].read_text(encoding="utf-8")
    assert "<script src=" not in text.lower()
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text)


def test_single_model_with_nan_mean(tmp_path):
    results, deltas, card, summary, pairwise = make_frames(models=["sklearn"], tests=TESTS[:1])
    results.loc[0, "avg_loss_diff"] = np.nan
    deltas["control_delta"] = np.nan
    assert_png(report.heatmap_png(results, tmp_path / "h.png"))
    assert_png(report.distributions_png(deltas, tmp_path / "d.png"))
    assert_png(report.scorecard_png(card, summary, tmp_path / "s.png"))
    page = report.write_report(tmp_path / "r.html", title="one", dataset_info={}, results=results,
                               scorecard=card, summary=summary, pairwise=pairwise.iloc[0:0],
                               figures={"heatmap": tmp_path / "h.png"}).read_text()
    assert "n/a" in page and "sklearn" in page and page.count("data:image/png;base64,") == 1


def test_all_nan_heatmap_and_empty_deltas(tmp_path):
    results = make_frames(models=["a", "b"], tests=TESTS[:2])[0].assign(avg_loss_diff=np.nan)
    assert_png(report.heatmap_png(results, tmp_path / "h.png"))
    empty = pd.DataFrame(columns=["model", "test", "motifs", "id", "label", "delta", "control_delta"])
    path = report.distributions_png(empty, tmp_path / "d.png")
    assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 1_000


def test_large_deltas_are_sampled(tmp_path):
    _, deltas, _, _, _ = make_frames(models=["a", "b"], tests=TESTS[:1], n_seqs=20_000)
    assert_png(report.distributions_png(deltas, tmp_path / "d.png"))
