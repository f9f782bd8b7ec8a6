"""The scale rows of ``make bench`` (benchmarks/scaling.py, benchmarks/scale.py): parsers, the
linearity and memory checks, and a few hundred sequences through the measured child processes."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
spec = importlib.util.spec_from_file_location("bench_scaling_under_test", BENCH / "scaling.py")
scaling = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = scaling  # dataclasses look their module up there
spec.loader.exec_module(scaling)

GNU_TIME_OUTPUT = """\
RESULT interpret 10000 2.913 forwards=39811 tested=7977 k=1 warmup_s=5.25
\tCommand being timed: "python benchmarks/scale.py interpret data.parquet 10000"
\tUser time (seconds): 9.51
\tSystem time (seconds): 0.88
\tPercent of CPU this job got: 171%
\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:05.37
\tMaximum resident set size (kbytes): 1562500
\tExit status: 0
"""


def test_time_v_parser_reads_peak_rss_wall_time_and_exit_status():
    got = scaling.parse_time_v(GNU_TIME_OUTPUT)
    assert got == {"max_rss_kb": 1562500, "wall_s": pytest.approx(65.37), "exit_status": 0}
    assert scaling._kb_to_gb(got["max_rss_kb"]) == pytest.approx(1.6)  # GNU time's kbytes are KiB


def test_time_v_parser_leaves_out_what_a_killed_child_never_reported():
    assert scaling.parse_time_v("Command terminated by signal 9\n\tExit status: 137\n") == {"exit_status": 137}


@pytest.mark.parametrize("text, seconds", [("0:05.50", 5.5), ("1:02:03", 3723.0), ("12:00.25", 720.25)])
def test_wall_seconds_reads_both_gnu_time_formats(text, seconds):
    assert scaling.wall_seconds(text) == pytest.approx(seconds)


def test_result_line_gives_count_seconds_and_integer_extras():
    got = scaling.parse_result("loading\n" + GNU_TIME_OUTPUT)
    assert got == {"what": "interpret", "count": 10000, "seconds": 2.913, "forwards": 39811, "tested": 7977, "k": 1,
                   "warmup_s": 5.25}
    assert scaling.parse_result("Traceback (most recent call last):\n") is None


def test_linearity_is_throughput_at_the_largest_size_over_the_smallest():
    assert scaling.linearity({1_000_000: 90.0, 10_000: 100.0, 100_000: 120.0}) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        scaling.linearity({10_000: 100.0})


def fake_runs(interpret_seconds: dict[int, float], interpret_gb: float, largest: int):
    """A stand-in for run_measured: canned children, interpret taking ``interpret_seconds[n]``."""
    def run(args, **_):
        what = args[0]
        if what == "interpret":
            assert args[args.index("--warmup") + 1] == str(scaling.WARMUP_ROWS)
            repeats = "1" if int(args[2]) == largest else str(scaling.SMALL_REPEATS)
            assert args[args.index("--repeats") + 1] == repeats
        if what == "interpret":
            n = int(args[2])
            if n not in interpret_seconds:
                return scaling.Measured(False, 1.0, error="MemoryError")
            return scaling.Measured(True, 1.0, interpret_gb, "time -v",
                                    {"count": n, "seconds": interpret_seconds[n], "forwards": 4 * n, "tested": n})
        count = {"generate": 1_000_000, "fit": 20_000, "train": 100_000, "kmers": 100_000}[what]
        return scaling.Measured(True, 1.0, 0.5, "time -v", {"count": count, "seconds": 2.0})
    return run


def rows_by_what(rows):
    return {what: (figure, note) for what, figure, note in rows}


def test_bench_scaling_reports_linearity_and_the_memory_target(monkeypatch):
    monkeypatch.delenv("BENCH_QUICK", raising=False)
    monkeypatch.setenv("BENCH_SCALE_N", "1000000")
    # 1M takes 125x the time of 10k: throughput 0.8x, exactly the target
    monkeypatch.setattr(scaling, "run_measured", fake_runs({10_000: 1.0, 100_000: 10.0, 1_000_000: 125.0}, 2.5,
                                                                  1_000_000))
    rows, records = [], []
    scaling.bench_scaling(rows, records)
    assert len(rows) == len(records) and all(len(r) == 3 for r in rows)
    by_what = {r["what"]: r for r in records}
    lin = by_what["interpret linearity: seq/s at 1,000,000 / at 10,000"]
    assert lin["value"] == pytest.approx(0.8) and lin["met"] is True and lin["target"] == ">= 0.8" and lin["ratio"] == lin["value"]
    mem = by_what["peak RSS interpret presence 1,000,000"]
    assert mem["value"] == 2.5 and mem["met"] is False and "not met" in rows_by_what(rows)[mem["what"]][1]
    assert by_what["peak RSS generate 1,000,000"]["met"] is True and mem["target"] == "< 2"
    interp = [r for r in records if r["what"].startswith("interpret presence")]
    assert [r["n"] for r in interp] == [10_000, 100_000, 1_000_000]
    assert interp[0]["value"] == pytest.approx(10_000.0)
    assert "40,000 forwards/s" in rows_by_what(rows)[interp[0]["what"]][1]
    assert "median of 3" in rows_by_what(rows)[interp[0]["what"]][1]
    assert "median of" not in rows_by_what(rows)[interp[-1]["what"]][1]
    assert all(r["what"].startswith("interpret presence (STAT_known2, K=1") for r in interp)
    assert any(w.startswith("train torch-cnn, 1 epoch on 100,000") for w in by_what)
    assert sum(w.startswith("k-mer features") for w in by_what) == 2


def test_a_failed_size_is_a_failed_row_and_no_linearity_figure(monkeypatch):
    monkeypatch.setenv("BENCH_QUICK", "1")
    monkeypatch.setattr(scaling, "run_measured", fake_runs({2_000: 1.0, 10_000: 5.0}, 0.5, 50_000))
    rows, records = [], []
    scaling.bench_scaling(rows, records)
    by_what = rows_by_what(rows)
    failed = "interpret presence (STAT_known2, K=1, with sham), torch-cnn, 50,000 seqs"
    assert by_what[failed] == ("failed", "MemoryError")
    assert by_what["interpret linearity: seq/s at 50,000 / at 2,000"][0] == "not measured"
    assert not any(w.startswith("peak RSS interpret") for w in by_what)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """300 generated sequences and a model fitted on them, each by its own measured child (the
    k-mer sklearn model: the load goes through the same plugin lookup as torch-cnn's, without
    importing torch in two more children)."""
    tmp = tmp_path_factory.mktemp("scale")
    data, model = str(tmp / "d.parquet"), str(tmp / "cnn")
    gen = scaling.run_measured(["generate", "300", data], timeout=120)
    assert gen.ok, gen.error
    fit = scaling.run_measured(["fit", data, model, "--rows", "300", "--plugin", "sklearn"], timeout=120)
    assert fit.ok, fit.error
    assert fit.result["count"] == 300 and (Path(model) / "config.json").is_file()
    return gen, data, model


@pytest.mark.skipif(not scaling.GNU_TIME.exists(), reason="no /usr/bin/time")
def test_children_run_under_gnu_time_and_count_the_models_forwards(tiny):
    gen, data, model = tiny
    assert gen.result["count"] == 300 and gen.rss_how == "time -v" and 0.03 < gen.peak_gb < 2
    m = scaling.run_measured(["interpret", data, "200", "--model", model, "--k", "2", "--motifs", "STAT_known2",
                              "--warmup", "20", "--repeats", "2"], timeout=120)
    assert m.ok, m.error
    r = m.result
    assert r["count"] == 200 and r["k"] == 2 and 0 < r["tested"] <= 200 and r["warmup_s"] > 0 and r["repeats"] == 2
    assert r["forwards"] >= 200 + 2 * r["tested"]  # every original once, K perturbed per carrier at least
    assert m.wall_s >= r["seconds"] > 0


def test_psutil_fallback_sees_the_same_peak_as_gnu_time(tiny):
    pytest.importorskip("psutil")
    _, data, _ = tiny
    args = ["kmers", data, "--k", "8", "--repeats", "5"]  # 300 x 65,536 int64 bins: a visible peak
    polled = scaling.run_measured(args, timeout=60, use_time=False)
    assert polled.ok and polled.rss_how == "psutil" and polled.result["k"] == 8
    if shutil.which("time") and scaling.GNU_TIME.exists():
        timed = scaling.run_measured(args, timeout=60, use_time=True)
        assert 0.5 * timed.peak_gb <= polled.peak_gb <= 1.05 * timed.peak_gb
    else:
        assert polled.peak_gb > 0.1


def test_a_failing_child_is_reported_with_its_last_error_line(tmp_path):
    m = scaling.run_measured(["interpret", str(tmp_path / "missing.parquet")], timeout=60)
    assert not m.ok and m.error and "Traceback" not in m.error and "missing.parquet" in m.error


def test_memory_without_a_measurement_is_a_row_saying_why_not_a_pass():
    rows, records = [], []
    why = "not measured: no /usr/bin/time (apt-get install time) and no psutil"
    scaling._memory_row(rows, records, "peak RSS generate 1,000,000", scaling.Measured(True, 1.0, None, why))
    assert rows == [("peak RSS generate 1,000,000", "not measured", why)]
    assert records[0]["met"] is None and records[0]["value"] is None
