"""The scale rows of ``make bench`` (issue #19): cost and memory from 10k to 1M sequences.

Each large step runs in its own process (``benchmarks/scale.py``) under ``/usr/bin/time -v``
for its peak RSS (psutil polling the child when GNU time is missing): generate 1M x 200 bp;
interpret ``presence`` with one saved torch-cnn on 10k, 100k and 1M of those sequences (the
throughput ratio 1M / 10k is the linearity row); one torch-cnn epoch on 100k; k-mer counts
(k = 4, 5) on 100k. Throughputs use the time of the work itself, measured inside the child
(imports, the dataset read and, for interpret, an untimed warm-up on 500 rows excluded; below the
largest size, the median of 3 runs); the process's wall time is shown beside them.

``BENCH_SCALE_N``: the largest size (default 1,000,000). ``BENCH_QUICK=1``: 2k / 10k / 50k.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCALE = Path(__file__).resolve().with_name("scale.py")
GNU_TIME = Path("/usr/bin/time")
MOTIF = "STAT_known2"
"""One motif keeps a 1M-sequence run of the CNN to about two minutes on 2 cores."""
K = 1
FIT_ROWS, FIT_EPOCHS = 20_000, 2
WARMUP_ROWS = 500
"""Interpreted untimed first in each child: a one-off cost (a JIT compile, thread start-up) is
not throughput, and would make the small sizes look slow and the ratio look better than it is."""
SMALL_REPEATS = 3
"""Timed runs (median) at every size below the largest: a run of a second or two is at the mercy of
whatever else the machine does; the largest runs for minutes and averages that out itself."""
MEMORY_TARGET_GB = 2.0
LINEAR_TARGET = 0.8
TIMEOUT_S = 3600


@dataclass
class Measured:
    """One child process: its RESULT line, wall time and peak RSS (None when not measured)."""

    ok: bool
    wall_s: float
    peak_gb: float | None = None
    rss_how: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def wall_seconds(text: str) -> float:
    """Seconds of a GNU time ``Elapsed`` value: ``m:ss.ss`` or ``h:mm:ss``."""
    seconds = 0.0
    for part in text.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def parse_time_v(stderr: str) -> dict[str, Any]:
    """Peak RSS (``max_rss_kb``), wall time (``wall_s``) and ``exit_status`` from ``/usr/bin/time -v``.

    Keys whose line is absent (a child killed before GNU time reports) are left out.
    """
    out: dict[str, Any] = {}
    if m := re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr):
        out["max_rss_kb"] = int(m.group(1))
    if m := re.search(r"Elapsed \(wall clock\) time \([^)]*\): ([\d:.]+)", stderr):
        out["wall_s"] = wall_seconds(m.group(1))
    if m := re.search(r"Exit status: (-?\d+)", stderr):
        out["exit_status"] = int(m.group(1))
    return out


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The child's ``RESULT what count seconds key=value ...`` line, or None."""
    m = re.search(r"^RESULT (\S+) (\d+) ([\d.]+)(.*)$", stdout, re.MULTILINE)
    if m is None:
        return None
    out: dict[str, Any] = {"what": m.group(1), "count": int(m.group(2)), "seconds": float(m.group(3))}
    for pair in m.group(4).split():
        key, _, value = pair.partition("=")
        try:
            out[key] = int(value)
        except ValueError:
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out


def linearity(rates: dict[int, float]) -> float:
    """Throughput at the largest size over throughput at the smallest (1.0 = cost exactly linear)."""
    if len(rates) < 2:
        raise ValueError("linearity needs throughputs at two sizes at least")
    return rates[max(rates)] / rates[min(rates)]


def _kb_to_gb(kb: float) -> float:
    return kb * 1024 / 1e9


def _poll_peak(proc: subprocess.Popen, peak: list[int]) -> None:
    import psutil

    try:
        child = psutil.Process(proc.pid)
        while proc.poll() is None:
            peak[0] = max(peak[0], child.memory_info().rss)
            time.sleep(0.05)
    except psutil.Error:  # the child ended between two polls
        pass


def run_measured(args: list[str], *, timeout: float = TIMEOUT_S, use_time: bool | None = None) -> Measured:
    """Run ``scale.py args`` in a child process and measure it.

    Peak RSS from ``/usr/bin/time -v`` when it exists (``use_time=None``), else from psutil
    polling the child every 50 ms (a lower bound: a peak shorter than that can be missed), else
    not at all (``peak_gb`` None, ``rss_how`` says why).
    """
    if use_time is None:
        use_time = GNU_TIME.exists()
    cmd = [sys.executable, str(SCALE), *args]
    rss_how = "time -v" if use_time else "psutil"
    if use_time:
        cmd = [str(GNU_TIME), "-v", *cmd]
    elif importlib.util.find_spec("psutil") is None:
        rss_how = "not measured: no /usr/bin/time (apt-get install time) and no psutil"
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    poller = None
    if rss_how == "psutil":
        poller = threading.Thread(target=_poll_peak, args=(proc, peak), daemon=True)
        poller.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return Measured(False, time.perf_counter() - t0, rss_how=rss_how, error=f"timed out after {timeout:.0f} s")
    wall = time.perf_counter() - t0
    if poller is not None:
        poller.join()
    result = parse_result(stdout)
    peak_gb = None
    if use_time:
        timing = parse_time_v(stderr)
        wall = timing.get("wall_s", wall)
        peak_gb = _kb_to_gb(timing["max_rss_kb"]) if "max_rss_kb" in timing else None
    elif rss_how == "psutil":
        peak_gb = peak[0] / 1e9 if peak[0] else None
    if proc.returncode != 0 or result is None:
        lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("\t")
                 and not line.startswith("Command exited with non-zero status")]  # GNU time's own lines
        why = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        return Measured(False, wall, peak_gb, rss_how, result or {}, error=why)
    return Measured(True, wall, peak_gb, rss_how, result)


def sizes() -> tuple[int, list[int], int]:
    """(rows generated, interpret sizes, train / k-mer size) from BENCH_QUICK and BENCH_SCALE_N."""
    if os.environ.get("BENCH_QUICK") == "1":
        return 50_000, [2_000, 10_000, 50_000], 50_000
    n = int(os.environ.get("BENCH_SCALE_N", "1000000"))
    steps = sorted({s for s in (10_000, 100_000) if s < n} | {n})
    return n, steps, min(100_000, n)


def _memory(peak_gb: float | None, rss_how: str) -> str:
    if peak_gb is None:
        return f"peak RSS {rss_how or 'not measured'}"
    return f"peak RSS {peak_gb:.2f} GB" + ("" if rss_how == "time -v" else f" ({rss_how})")


def _add(rows: list, records: list, what: str, figure: str, note: str, value: float | None, unit: str,
         target: str = "", met: bool | None = None, **extra: Any) -> None:
    rows.append((what, figure, note))
    records.append({"what": what, "figure": figure, "value": value, "unit": unit, "target": target or None,
                    "met": met, "note": note, **extra})


def _failed(rows: list, records: list, what: str, m: Measured, target: str = "") -> None:
    _add(rows, records, what, "failed", m.error, None, "", target, False if target else None, wall_s=m.wall_s)


def _memory_row(rows: list, records: list, what: str, m: Measured) -> None:
    target = f"< {MEMORY_TARGET_GB:g}"
    if m.peak_gb is None:
        _add(rows, records, what, "not measured", m.rss_how, None, "GB", target, None)
        return
    met = m.peak_gb < MEMORY_TARGET_GB
    _add(rows, records, what, f"{m.peak_gb:.2f} GB", f"target {target} GB: {'met' if met else 'not met'}",
         m.peak_gb, "GB", target, met, rss_how=m.rss_how)


def bench_scaling(rows: list, records: list) -> None:
    """Append the scale rows ``(what, figure, ratio / target)`` to ``rows`` and one dict per row
    (``what, figure, value, unit, target, met`` and the raw measurements) to ``records``."""
    n_data, steps, n_train = sizes()
    with tempfile.TemporaryDirectory(prefix="motifprobe-scale-") as tmp:
        data, model_dir = str(Path(tmp) / "data.parquet"), str(Path(tmp) / "cnn")

        what = f"generate {n_data:,} x 200 bp (fast plugin, order rule)"
        m = run_measured(["generate", str(n_data), data])
        if not m.ok:
            _failed(rows, records, what, m)
            _add(rows, records, "scale rows", "skipped", "no dataset", None, "")
            return
        rate = m.result["count"] / m.result["seconds"]
        _add(rows, records, what, f"{rate:,.0f} seq/s",
             f"{m.result['seconds']:.1f} s incl. parquet write; {_memory(m.peak_gb, m.rss_how)}", rate, "seq/s",
             n=n_data, seconds=m.result["seconds"], wall_s=m.wall_s, peak_rss_gb=m.peak_gb)
        _memory_row(rows, records, f"peak RSS generate {n_data:,}", m)

        fit_rows = min(FIT_ROWS, n_data)
        fit = run_measured(["fit", data, model_dir, "--rows", str(fit_rows), "--epochs", str(FIT_EPOCHS)])
        label = f"interpret presence ({MOTIF}, K={K}, with sham), torch-cnn"
        if not fit.ok:
            _failed(rows, records, f"{label}: fit on {fit_rows:,} rows", fit)
        else:
            rates: dict[int, float] = {}
            last: Measured | None = None
            for n in steps:
                repeats = 1 if n == steps[-1] else SMALL_REPEATS
                m = run_measured(["interpret", data, str(n), "--model", model_dir, "--k", str(K), "--motifs", MOTIF,
                                  "--warmup", str(WARMUP_ROWS), "--repeats", str(repeats)])
                what = f"{label}, {n:,} seqs"
                if not m.ok:
                    _failed(rows, records, what, m)
                    continue
                r = m.result
                rates[n] = n / r["seconds"]
                fwd = r["forwards"] / r["seconds"]
                _add(rows, records, what, f"{rates[n]:,.0f} seq/s",
                     f"{fwd:,.0f} forwards/s ({r['forwards'] / n:.2f} per seq); {r['seconds']:.1f} s"
                     f"{f' (median of {repeats})' if repeats > 1 else ''} "
                     f"(+{r.get('warmup_s', 0):.0f} s warm-up, {m.wall_s:.0f} s process); "
                     f"{_memory(m.peak_gb, m.rss_how)}", rates[n], "seq/s", n=n, seconds=r["seconds"],
                     forwards=r["forwards"], tested=r["tested"], warmup_s=r.get("warmup_s"), wall_s=m.wall_s,
                     peak_rss_gb=m.peak_gb)
                last = m if n == steps[-1] else last
            target = f">= {LINEAR_TARGET:g}"
            what = f"interpret linearity: seq/s at {steps[-1]:,} / at {steps[0]:,}"
            if len(rates) == len(steps) and len(steps) >= 2:
                ratio = linearity(rates)
                met = ratio >= LINEAR_TARGET
                _add(rows, records, what, f"{ratio:.2f}", f"target {target} (flat): {'met' if met else 'not met'}",
                     ratio, "ratio", target, met, ratio=ratio, ratio_of=f"seq/s at {steps[0]:,}")
            else:
                _add(rows, records, what, "not measured", "an interpret run failed or only one size", None,
                     "ratio", target, None)
            if last is not None:
                _memory_row(rows, records, f"peak RSS interpret presence {steps[-1]:,}", last)

        what = f"train torch-cnn, 1 epoch on {n_train:,} seqs (no validation)"
        m = run_measured(["train", data, str(n_train), "--epochs", "1"])
        if m.ok:
            rate = m.result["count"] / m.result["seconds"]
            _add(rows, records, what, f"{rate:,.0f} seq/s", f"{m.result['seconds']:.1f} s/epoch; "
                 f"{_memory(m.peak_gb, m.rss_how)}", rate, "seq/s", n=n_train, seconds=m.result["seconds"],
                 peak_rss_gb=m.peak_gb)
        else:
            _failed(rows, records, what, m)

        for k in (4, 5):
            what = f"k-mer features k={k} (kmer_features, chunked), {n_train:,} x 200 bp"
            m = run_measured(["kmers", data, str(n_train), "--k", str(k)])
            if m.ok:
                rate = m.result["count"] / m.result["seconds"]
                _add(rows, records, what, f"{rate:,.0f} seq/s",
                     f"median of 3; {_memory(m.peak_gb, m.rss_how)}", rate, "seq/s", n=n_train, seconds=m.result["seconds"], peak_rss_gb=m.peak_gb)
            else:
                _failed(rows, records, what, m)
