"""benchmarks/peers.py and run_all.py's JSON path: the helpers behind the side-by-side rows of
``make bench`` (issue #19). No timing is asserted, only what the rows and records say."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import make

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import peers  # noqa: E402
import run_all  # noqa: E402

TINY = peers.Sizes(n_train=200, n_ablate=40, n_eff=60, n_backgrounds=12, max_gap=2, one_at_a_time=3, epochs=1,
                   repeats=1, warmups=1)


class Recorder:
    """A model that remembers the length of every batch it is given."""

    name = "recorder"

    def __init__(self):
        self.lengths = []

    def predict_proba(self, codes):
        self.lengths.append(len(codes))
        p = (np.asarray(codes) == 0).mean(axis=1)  # any deterministic function of the bases
        return np.stack([1 - p, p], axis=1)


@pytest.fixture(scope="module")
def tiny_ctx():
    # One torch thread: tiny batches on two threads spend their time at thread barriers.
    old = peers.THREADS
    peers.THREADS = 1
    try:
        yield peers.setup(TINY)
    finally:
        peers.THREADS = old


def no_tangermeme(monkeypatch):
    for name in [m for m in sys.modules if m == "tangermeme" or m.startswith("tangermeme.")] + ["tangermeme"]:
        monkeypatch.setitem(sys.modules, name, None)  # import of it now raises ImportError


# -- numbers and rows ---------------------------------------------------------------------------
def test_ratio_is_nan_for_missing_or_zero_denominators():
    assert peers.ratio(6, 3) == 2
    assert math.isnan(peers.ratio(1, 0))
    assert math.isnan(peers.ratio(None, 3))
    assert math.isnan(peers.ratio(1, float("nan")))


def test_meets_reads_the_operator_and_says_none_without_a_number():
    assert peers.meets(0.95, (">=", 0.95)) is True
    assert peers.meets(0.94, (">=", 0.95)) is False
    assert peers.meets(1.9, ("<", 2.0)) is True
    assert peers.meets(2.0, ("<", 2.0)) is False
    assert peers.meets(float("nan"), (">=", 1)) is None
    assert peers.meets(3.0, None) is None


def test_add_row_checks_the_target_on_the_ratio_and_records_it():
    rows, records = [], []
    peers.add_row(rows, records, "presence", 20_000.0, "forwards/s", ratio=0.5, ratio_of="of the ceiling",
                  target=(">=", 0.95), seconds=1.5)
    assert rows == [("presence", "20,000 forwards/s", "0.50 of the ceiling; target >= 0.95: not met")]
    assert records[0]["met"] is False and records[0]["target"] == ">= 0.95"
    assert records[0]["ratio"] == 0.5 and records[0]["seconds"] == 1.5
    peers.add_row(rows, records, "ablate", 3.0, "s", ratio=12.34, style="speedup", ratio_of="vs x",
                  target=(">=", 8))
    assert rows[1][2] == "12.3x vs x; target >= 8: met"


def test_add_row_without_a_ratio_checks_the_value():
    rows, records = [], []
    peers.add_row(rows, records, "peak RSS", 2.5, "GB", target=("<", 2.0))
    assert rows[0] == ("peak RSS", "2.50 GB", "target < 2: not met")
    assert records[0]["met"] is False


# -- the JSON writer ----------------------------------------------------------------------------
def test_write_json_writes_nan_as_null_and_leaves_no_temp_file(tmp_path):
    rows, records = [], []
    peers.add_row(rows, records, "a", float("nan"), "seq/s", ratio=np.float64(0.9), target=(">=", 0.95))
    peers.add_row(rows, records, "b", np.float32(2.0), "s", forwards=np.int64(7))
    out = tmp_path / "bench.json"
    out.write_text("old")
    peers.write_json(out, records, {"cores": 2, "ceiling": float("inf")})
    doc = json.loads(out.read_text())
    assert doc["meta"] == {"cores": 2, "ceiling": None}
    assert doc["records"][0]["value"] is None and doc["records"][0]["ratio"] == 0.9
    assert doc["records"][0]["met"] is False
    assert doc["records"][1]["forwards"] == 7 and doc["records"][1]["value"] == 2.0
    assert {"what", "figure", "value", "unit", "ratio", "target", "met"} <= set(doc["records"][0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json"]


def test_run_all_refuses_a_bad_json_path_before_any_work(tmp_path, monkeypatch, capsys):
    def boom(*a, **k):
        raise AssertionError("benchmarks ran")

    monkeypatch.setattr(run_all, "bench_generators", boom)
    assert run_all.main(["--json", str(tmp_path), "--quick"]) == 2  # a directory
    assert "--json" in capsys.readouterr().err


def test_run_all_parses_quick_and_json():
    args = run_all.parse_args(["--quick", "--json", "out.json"])
    assert args.quick and args.json == "out.json"
    assert not run_all.parse_args([]).quick


# -- counting forwards --------------------------------------------------------------------------
def test_counting_model_counts_every_sequence_interpret_sends():
    from motifprobe.engine.interpret import interpret

    ds = make("presence", num_seqs=120)
    inner = Recorder()
    counter = peers.CountingModel(inner)
    interpret(counter, ds, ["STAT_known2"], tests=["presence"], num_perturbs=3, seed=0, keep_deltas=False)
    assert counter.forwards == sum(inner.lengths) > len(ds)  # perturbed copies were scored too
    assert counter.calls == len(inner.lengths)
    assert counter.name == "recorder"  # every other attribute is the real model's


def test_net_forwards_counts_batches_and_stops_at_the_end_of_the_block():
    import torch

    net = torch.nn.Conv1d(4, 2, 3)
    with peers.net_forwards(net) as seen:
        net(torch.zeros(3, 4, 10))
        net(torch.zeros(5, 4, 10))
    net(torch.zeros(4, 4, 10))
    assert seen[0] == 8


def test_ablate_groups_cover_exactly_the_carrying_rows_at_their_sites():
    ds = make("order", num_seqs=150)
    start, end = ds.site_bounds("STAT_known2")
    groups = peers.ablate_groups(ds, "STAT_known2")
    rows = np.concatenate([r for r, _, _ in groups])
    assert sorted(rows) == list(np.flatnonzero(start >= 0))
    for r, a, b in groups:
        assert (start[r] == a).all() and (end[r] == b).all()
    assert len({(a, b) for _, a, b in groups}) == len(groups)


# -- tangermeme absent ---------------------------------------------------------------------------
def test_load_tangermeme_says_not_installed_when_the_import_fails(monkeypatch):
    no_tangermeme(monkeypatch)
    tm, why = peers.load_tangermeme()
    assert tm is None and why == peers.NOT_INSTALLED


def test_without_tangermeme_its_rows_say_not_installed_and_the_rest_runs(tiny_ctx, monkeypatch):
    no_tangermeme(monkeypatch)
    ran = []
    monkeypatch.setattr(peers, "efficiency_rows", lambda rows, records, ctx: ran.append("efficiency"))
    monkeypatch.setattr(peers, "tangermeme_rows", lambda *a: ran.append("tangermeme"))
    rows, records = [], []
    ctx = replace_ctx(tiny_ctx)
    peers.run_rows(rows, records, ctx)
    assert ran == ["efficiency"] and ctx.peer == peers.NOT_INSTALLED
    peer = [r for r in rows if r[0].startswith("tangermeme")]
    assert len(peer) == len(peers.TANGERMEME_FUNCTIONS)
    assert all(r[1] == peers.NOT_INSTALLED for r in peer)
    assert all(r["value"] is None and r["figure"] == peers.NOT_INSTALLED for r in records[:len(peer)])
    assert rows[-1][0].startswith("GPU")  # the GPU rows still come after


def replace_ctx(ctx):
    """A fresh context on the same model and data (rows do not share timings)."""
    return peers.Context(ctx.sizes, ctx.model, ctx.net, ctx.batch, ctx.ablate_set, ctx.eff_set)


# -- the whole module on tiny sizes ---------------------------------------------------------------
def test_every_row_is_produced_with_forwards_counted(tiny_ctx):
    pytest.importorskip("tangermeme")
    rows, records = [], []
    ctx = replace_ctx(tiny_ctx)
    peers.run_rows(rows, records, ctx)
    names = [r[0] for r in rows]
    assert len(rows) == len(records)
    ceilings = [r for r in records if r["what"].startswith("ceiling")]
    assert sorted((r["forward"], "(a)" in r["what"]) for r in ceilings) == [
        ("module", False), ("module", True), ("plugin", False), ("plugin", True)]
    # THE ceiling is the faster way of the plugin forward, the one interpret calls
    the = [r for r in records if r.get("ceiling")]
    assert len(the) == 1 and the[0]["forward"] == "plugin"
    assert the[0]["value"] == max(r["value"] for r in ceilings if r["forward"] == "plugin") == ctx.ceiling
    assert ctx.module_ceiling == max(r["value"] for r in ceilings if r["forward"] == "module")
    versus = next(r for r in records if r["what"].startswith("plugin forward vs module"))
    assert versus["ratio"] == pytest.approx(ctx.ceiling / ctx.module_ceiling)
    assert ctx.peer.startswith("tangermeme")
    for test in ("presence", "order", "distance", "interaction", "spacing", "dosage"):
        mine = [r for r in records if r.get("test") == test]
        assert mine and all(r["forwards"] > 0 and r["ratio"] is not None for r in mine), test
    peer = [r for r in records if r.get("peer") == "tangermeme"]
    assert len(peer) == len(peers.TANGERMEME_FUNCTIONS)
    assert all(r["forwards"] > 0 and r["ratio"] is not None and r["ratio"] > 0 for r in peer)
    grouped = next(r for r in peer if "grouped" in r["what"])
    carriers = int((ctx.ablate_set.site_bounds(peers.MOTIFS[0])[0] >= 0).sum())
    assert grouped["forwards"] == carriers * (peers.K + 1)  # before + K shuffles per carrying row
    assert grouped["met"] in (True, False)
