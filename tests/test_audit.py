"""The perturbation audit (engine/audit.py): rebuilt arms are the scored arms, and the three
numbers catch what they claim to (a removal that leaves the motif, a perturbation that plants
a site, composition drift), on a small generated dataset.

FIMO is numba-compiled and cached on disk (engine.scan.setup_numba_cache); every scan here
goes through one module-scoped dataset and a few audit calls, none in a loop.
"""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from motifprobe import api, hookimpl
from motifprobe.cli import main
from motifprobe.engine.audit import (AUDIT_COLUMNS, audit, audit_interpretation, check_sample, check_threshold,
                                     rebuild_arms, sample_index)
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.interpret import plan, run_unit
from motifprobe.engine.motif_library import load_encode_motifs
from motifprobe.engine.perturbation import PerturbationTest, Scorer, TestBatch
from motifprobe.engine.registry import Registry

MOTIFS = ["STAT_known2", "CTCF_known1", "GATA_known1"]
SEED = 4


@pytest.fixture(scope="module")
def dataset():
    return api.generate("fast", seed=5, num_seqs=400, seq_length=150, gen_type="order", motifs=MOTIFS,
                        pos_motifs=MOTIFS[:2])


class ResampleRemoval(PerturbationTest):
    """A broken 'removal': each chosen instance is redrawn from the motif's own PWM (a wrong
    background), so the site is changed but mostly still there."""

    n_motifs = 1
    feature = "presence"
    description = "broken on purpose: redraws the motif from its own PWM"

    def perturb(self, batch: TestBatch, rng) -> dict[str, np.ndarray]:
        pwm = load_encode_motifs()[batch.motifs[0]].pwm
        start, _ = batch.bounds(batch.motifs[0])
        n, length = batch.codes.shape
        cdf = np.cumsum(pwm, axis=1)
        cdf[:, -1] = 1.0
        draws = (rng.random((n, batch.num_perturbs, len(pwm)))[..., None] >= cdf).sum(-1).astype(np.uint8)
        out = np.repeat(batch.codes[:, None, :], batch.num_perturbs, axis=1)
        cols = start[:, None, None] + np.arange(len(pwm))[None, None, :]
        out[np.arange(n)[:, None, None], np.arange(batch.num_perturbs)[None, :, None], cols] = draws
        return {"perturbed": out}


class PlantsCtcf(PerturbationTest):
    """A broken 'sham': writes CTCF's consensus at a motif-free place."""

    n_motifs = 1
    feature = "presence"
    description = "broken on purpose: plants a CTCF site"
    deterministic = True

    def perturb(self, batch: TestBatch, rng) -> dict[str, np.ndarray]:
        site = load_encode_motifs()["CTCF_known1"].pwm.argmax(axis=1).astype(np.uint8)
        out = batch.codes.copy()
        free = ~batch.blocked()
        width = len(site)
        fits = np.lib.stride_tricks.sliding_window_view(free, width, axis=1).all(-1)
        place = fits.argmax(axis=1)
        out[np.arange(len(out))[:, None], place[:, None] + np.arange(width)] = site
        return {"perturbed": out[:, None, :]}


class Plugin:
    @staticmethod
    @hookimpl
    def register_perturbation_tests(register):
        register("resample-removal", ResampleRemoval)
        register("plants-ctcf", PlantsCtcf)


@pytest.fixture(scope="module")
def registry():
    return Registry(extra_plugins={"audit-bad": Plugin()}, entry_points=False)


class Recorder:
    """A model that records every batch it is asked to score (probabilities from GC content)."""

    def __init__(self):
        self.calls: list[np.ndarray] = []

    def predict_proba(self, codes):
        self.calls.append(np.array(codes, copy=True))
        gc = ((codes == 1) | (codes == 2)).mean(axis=1)
        return np.stack([1 - gc, gc], axis=1)


@pytest.mark.parametrize("test", ["presence", "order", "distance", "interaction"])
def test_rebuilt_arms_are_exactly_what_run_unit_scored(dataset, registry, test):
    unit = plan(dataset, MOTIFS[:2], [test], registry, num_perturbs=3)[0]
    rows = dataset.subset(pd.Index(dataset.ids).get_indexer(unit.ids))
    model = Recorder()
    original = model.predict_proba(rows.codes)
    model.calls.clear()
    run_unit(unit, rows, model, seed=SEED, scorer=Scorer("loss"), background=dataset.background,
             original=original, registry=registry, batch_size=10**6)
    full = rebuild_arms(unit, rows, seed=SEED, background=dataset.background, registry=registry)
    # run_unit scores each chunk's arms, then its controls, then the sham (when the verdict reads
    # it) in one stacked call per chunk.
    names = [n for n in full if n != "sham"] + (["sham"] if "sham" in full else [])
    lo = 0
    for call in model.calls:
        size = len(call) // (len(names) * unit.num_perturbs)
        stacked = np.concatenate([full[name][1][lo:lo + size].reshape(-1, rows.seq_length) for name in names])
        assert np.array_equal(stacked, call)
        lo += size
    assert lo == len(rows) and len(model.calls) >= 1
    # A sample rebuilt on its own is the same rows of the same arms (keyed per sequence).
    pick = sample_index(unit, SEED, 25)
    alone = rebuild_arms(unit, rows.subset(pick), seed=SEED, background=dataset.background, registry=registry)
    for name, (role, arr) in alone.items():
        assert np.array_equal(arr, full[name][1][pick]), name
    assert [role for role, _ in full.values()].count("primary") == 1


def test_sample_is_keyed_by_id_not_by_order(dataset, registry):
    unit = plan(dataset, MOTIFS[:1], ["presence"], registry, num_perturbs=2)[0]
    pick = sample_index(unit, SEED, 30)
    assert len(pick) == 30 and np.all(np.diff(pick) > 0)
    chosen = set(np.asarray(unit.ids)[pick])
    reversed_unit = unit.with_ids(unit.ids[::-1])
    assert set(np.asarray(reversed_unit.ids)[sample_index(reversed_unit, SEED, 30)]) == chosen
    assert set(np.asarray(unit.ids)[sample_index(unit, SEED + 1, 30)]) != chosen
    assert len(sample_index(unit, SEED, 10**6)) == len(unit.ids)


@pytest.fixture(scope="module")
def clean_and_broken(dataset, registry):
    units = plan(dataset, MOTIFS, ["presence", "resample-removal", "plants-ctcf"], registry, num_perturbs=3)
    return audit(units, dataset, seed=SEED, registry=registry, sample=120)


def _row(result, test, motif, arm="perturbed"):
    t = result.table
    return t[(t["test"] == test) & (t["motifs"] == motif) & (t["arm"] == arm)].iloc[0]


def test_clean_presence_removal_leaves_almost_no_motif(clean_and_broken):
    for motif in MOTIFS:
        row = _row(clean_and_broken, "presence", motif)
        assert row["role"] == "primary" and row["sequences"] == 120 and row["perturbations"] == 360
        assert row["disrupted"] == 360  # every perturbation touched the instance
        assert row["left_share"] <= 0.03 and row["created_share"] <= 0.05
    assert not [w for w in clean_and_broken.warnings() if "presence" in w and "arm perturbed" in w]


def test_a_removal_that_leaves_the_motif_is_flagged(clean_and_broken):
    for motif in ("STAT_known2", "CTCF_known1"):  # informative PWMs: most redraws still score a hit
        row = _row(clean_and_broken, "resample-removal", motif)
        assert row["left_share"] > 0.5, row.to_dict()
        assert row["left"] <= row["disrupted"]
    lines = clean_and_broken.warnings()
    assert any(w.startswith("audit: resample-removal CTCF_known1 arm perturbed:") and "left a hit" in w for w in lines)


def test_a_perturbation_that_plants_a_site_is_flagged(clean_and_broken):
    row = _row(clean_and_broken, "plants-ctcf", "GATA_known1")
    assert row["created_share"] > 0.95 and row["disrupted"] == 0 and np.isnan(row["left_share"])
    assert any("plants-ctcf GATA_known1" in w and "created a new hit" in w for w in clean_and_broken.warnings())
    summary = clean_and_broken.summary()
    json.dumps(summary)  # plain JSON values
    assert summary["created_share_max"] > 0.95 and summary["scanned_motifs"] == MOTIFS
    assert any(f["test"] == "plants-ctcf" and f["motifs"] == "GATA_known1" for f in summary["flagged"])


def test_gc_drift_is_zero_for_a_shuffle_and_not_for_a_redraw(dataset, registry):
    units = plan(dataset, ["CTCF_known1"], ["presence"], registry, num_perturbs=3)
    shuffled = plan(dataset, ["CTCF_known1"], ["presence"], registry, num_perturbs=3,
                    test_params={"presence": {"fill": "shuffle"}})
    redraw = audit(units, dataset, seed=SEED, registry=registry, sample=60)
    shuffle = audit(shuffled, dataset, seed=SEED, registry=registry, sample=60)
    assert _row(shuffle, "presence", "CTCF_known1")["gc_drift"] == 0.0  # the same bases, permuted
    assert _row(redraw, "presence", "CTCF_known1")["gc_drift"] > 0.05  # CTCF is GC-rich, the background is not
    assert list(redraw.table.columns) == AUDIT_COLUMNS


def test_moves_and_swaps_are_not_counted_as_left(dataset, registry):
    units = plan(dataset, MOTIFS[:2], ["order", "distance"], registry, num_perturbs=3)
    result = audit(units, dataset, seed=SEED, registry=registry, sample=100)
    for test in ("order", "distance"):
        row = _row(result, test, "+".join(MOTIFS[:2]))
        assert row["disrupted"] > 0 and row["left_share"] <= 0.05 and row["created_share"] <= 0.03, row.to_dict()


def test_a_test_that_raises_becomes_a_note(dataset):
    class Raises(PerturbationTest):
        n_motifs = 1
        feature = "presence"

        def perturb(self, batch, rng):
            raise RuntimeError("boom")

    class P:
        @staticmethod
        @hookimpl
        def register_perturbation_tests(register):
            register("raises", Raises)

    reg = Registry(extra_plugins={"raises": P()}, entry_points=False)
    result = audit(plan(dataset, ["GATA_known1"], ["raises"], reg, num_perturbs=2), dataset, seed=0, registry=reg)
    assert result.table["note"].iloc[0] == "arms not rebuilt: RuntimeError: boom"


def test_settings_are_checked():
    assert check_sample(5) == 5 and check_threshold("0.1") == 0.1
    for bad in (0, -3, 1.5, True, "x"):
        with pytest.raises(MotifprobeError, match="--audit-sample"):
            check_sample(bad)
    for bad in (-0.1, 1.5, "x"):
        with pytest.raises(MotifprobeError, match="--audit-threshold"):
            check_threshold(bad)


@pytest.fixture
def gc_model(tmp_path, monkeypatch):
    (tmp_path / "audit_gc_model.py").write_text(textwrap.dedent("""
        import numpy as np

        def model(x):  # one-hot (N, 4, L) -> P(class 1) from GC content
            gc = x[:, 1:3, :].sum(axis=(1, 2)) / np.maximum(x.sum(axis=(1, 2)), 1)
            return np.stack([1 - gc, gc], axis=1)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "audit_gc_model:model"


def test_interpret_cli_prints_and_writes_the_audit(dataset, gc_model, tmp_path, capsys):
    from motifprobe.engine.dataset import write_dataset

    data = write_dataset(dataset, tmp_path / "d.parquet")
    base = ["interpret", "--data-file", str(data), "--model-plugin", "python", "--model-param",
            f"callable={gc_model}", "--tests", "presence", "order", "--num-perturbs", "2", "--audit-sample", "40"]
    out = tmp_path / "res.csv"
    assert main([*base, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "perturbation audit" in text
    table = pd.read_csv(tmp_path / "res.audit.csv")
    assert set(table["test"]) == {"presence", "order"} and (table["sequences"] == 40).all()
    saved = json.loads((tmp_path / "res.audit.json").read_text())
    assert saved["summary"]["sample"] == 40 and len(saved["rows"]) == len(table)
    # The same as the API's audit of the same run (the CLI audits exactly what interpret ran).
    model = api.load_model_file(gc_model, "python")
    again = audit_interpretation(model, dataset, tests=["presence", "order"], num_perturbs=2, sample=40)
    assert np.allclose(again.table["left_share"].to_numpy(float), table["left_share"].to_numpy(float), equal_nan=True)
    # --no-audit writes none; a bad threshold is one line, exit 2, nothing written.
    out2 = tmp_path / "quiet.csv"
    assert main([*base, "--out", str(out2), "--no-audit"]) == 0
    assert "perturbation audit" not in capsys.readouterr().out and not (tmp_path / "quiet.audit.csv").exists()
    out3 = tmp_path / "bad.csv"
    assert main([*base, "--out", str(out3), "--audit-threshold", "7"]) == 2
    assert "--audit-threshold" in capsys.readouterr().err and not out3.exists()


def test_compare_writes_one_audit_per_plan(dataset, gc_model, tmp_path):
    from motifprobe.engine.compare import compare

    result = compare(dataset, [], model_files=[gc_model], model_file_plugin="python", tests=["presence"],
                     num_perturbs=2, mode="prediction",
                     out_dir=tmp_path / "cmp", figures=False, audit_sample=30)
    assert result.audit is not None and set(result.audit.table["motifs"]) == set(MOTIFS)
    table = pd.read_csv(tmp_path / "cmp" / "audit.csv")
    assert len(table) == len(result.audit.table) and (table["sequences"] == 30).all()
    meta = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert meta["audit"]["sample"] == 30
    # Model files alone: every sequence, as interpret of that model would audit it.
    alone = audit_interpretation(api.load_model_file(gc_model, "python"), dataset, tests=["presence"], num_perturbs=2,
                                 sample=30)
    pd.testing.assert_frame_equal(alone.table, result.audit.table)
    quiet = compare(dataset, [], model_files=[gc_model], model_file_plugin="python", tests=["presence"],
                    num_perturbs=2, mode="prediction", out_dir=tmp_path / "quiet", figures=False, audit=False)
    assert quiet.audit is None and not (tmp_path / "quiet" / "audit.csv").exists()
    assert json.loads((tmp_path / "quiet" / "compare.json").read_text())["audit"] is None


def test_motifs_come_from_the_datasets_source_and_unknown_ones_are_named(dataset, registry):
    from motifprobe.engine.audit import dataset_motifs

    scanned = api.scan(dataset, ["jaspar:MA0139.2", "STAT_known2"]).dataset
    found, missing = dataset_motifs(scanned, scanned.motif_names)
    assert [m.name for m in found] == ["MA0139.2_CTCF", "STAT_known2"] and missing == []
    assert found[0].source == "jaspar" and found[0].length == 15
    renamed = dataset.subset(np.arange(len(dataset)))
    renamed.sites["name"] = renamed.sites["name"].replace({"GATA_known1": "MYSTERY"})
    result = audit(plan(renamed, ["MYSTERY", "CTCF_known1"], ["presence"], registry, num_perturbs=2), renamed,
                   seed=0, registry=registry, sample=20)
    assert result.missing == ["MYSTERY"] and result.motifs == ["CTCF_known1"]
    assert "audit: no PWM known for MYSTERY; their hits were not looked for" in result.warnings()
    blind = result.table[result.table["motifs"] == "MYSTERY"]
    assert blind["left_share"].isna().all() and blind["note"].str.contains("no PWM for MYSTERY").all()
    assert (result.table.loc[result.table["motifs"] == "CTCF_known1", "left_share"].notna().sum() >= 2)


def test_overlap_rule_needs_half_of_the_narrower_window():
    from motifprobe.engine.audit import _overlaps

    a = pd.DataFrame({"p": [0, 0, 0, 1], "n": [0, 0, 1, 0], "s": [10, 15, 10, 10], "e": [20, 25, 20, 20]})
    b = pd.DataFrame({"p": [0, 0], "n": [0, 0], "s": [5, 40], "e": [15, 50]})
    # [10,20) vs [5,15): 5 bp of 10 -> yes; [15,25) vs [5,15): 0 bp; other motif; other perturbation
    assert _overlaps(a, b).tolist() == [True, False, False, False]
    assert _overlaps(a, b.assign(e=[14, 50])).tolist() == [False, False, False, False]  # 4 bp of 9 < 5


def test_compare_audits_the_perturbations_it_scored_whatever_the_held_out_motif_order(dataset, tmp_path):
    """The audit plans with interpret's motif order: a pair's keyed streams depend on it, so a
    held-out split whose first-seen motif order differs from the dataset's must not change it."""
    import dataclasses

    from motifprobe.engine.compare import compare

    first, rest = {m: i for i, m in enumerate(MOTIFS)}, {m: -i for i, m in enumerate(MOTIFS)}
    sites = dataset.sites.copy()
    sites["rank"] = [first[n] if s == 0 else rest[n] for s, n in zip(sites["seq"], sites["name"])]
    sites = sites.sort_values(["seq", "rank"], kind="stable").drop(columns="rank").reset_index(drop=True)
    shuffled = dataclasses.replace(dataset, sites=sites)
    result = compare(shuffled, ["kmer-logreg"], tests=["order"], num_perturbs=2, seed=SEED, out_dir=None,
                     audit_sample=20)
    held_out = shuffled.subset(pd.Index(shuffled.ids).get_indexer(result.runs["kmer-logreg"].test_ids))
    assert held_out.motif_names != shuffled.motif_names  # the case this test is about
    assert set(result.audit.table["motifs"]) == set(result.results["motifs"])
