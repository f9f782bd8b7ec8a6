"""Side by side (issue #19): motifprobe's tests against the model's forward-only ceiling and
against tangermeme's ``ablate``, ``space`` and ``marginalize``, on the same weights and the same
data, in one process.

Definitions
-----------
Setup (once)
    ``torch.set_num_threads(2)`` (:data:`THREADS`). Data: ``api.generate("fast", seed=2,
    motifs=MOTIFS, gen_type="order")``; the default ``torch-cnn`` trained 2 epochs (seed 0) on
    the first ``n_train`` rows. Held out after them: ``n_ablate`` rows (1,500, the issue's
    size) for the ablate comparison, then ``n_eff`` rows (6,000) for the efficiency rows.
    K = 5 perturbations everywhere.
Timing
    Wall clock (``time.perf_counter``) of the whole call; the median of ``repeats`` (>= 3)
    timed runs after ``warmups`` untimed ones. For an interpret row the untimed warm-up is the
    counting run below.
Ceiling
    The model's forward-only throughput on inputs built before timing, in batches of the
    model's ``predict_batch_size`` (128), under ``torch.inference_mode()``, softmax included.
    Two forwards, each measured two ways: (a) one stream with 2 torch threads; (b) 2 Python
    threads, each with 1 torch thread (set inside the worker), each running half the batches.

    - the **module** forward: ``softmax(net_(x))`` on one-hot float32 (N, 4, L) tensors. This
      is what tangermeme runs; its rows are read against the faster way of it.
    - the **plugin** forward: the model's own ``_predict_proba`` on uint8 code batches, the
      call interpret makes (on the CPU its first block by table lookup, ``table_conv``). THE
      ceiling, that every efficiency below is read against, is the faster way of this one:
      an engine running exactly at it wastes nothing.
Forwards
    The sequences interpret hands the model: ``len(codes)`` summed over every
    ``predict_proba`` call, counted in one untimed run through :class:`CountingModel`. A forward
    hook on ``net_`` counts the same run from the network's side; a mismatch is printed.
Per-forward efficiency
    ``(forwards / wall s) / ceiling``: 1.0 means the whole call ran as fast as the bare forward
    passes of as many sequences. Targets: >= 0.95 presence and order, >= 0.9 the others. The
    wall time includes everything interpret does (perturbation, sham, checks, statistics).
tangermeme rows
    Same ``net_``, the same one-hot float32 data, ``device="cpu"``, ``batch_size`` = the
    model's predict batch, fixed ``random_state``. Speed-up = tangermeme wall s / motifprobe
    wall s for the same sequences; motifprobe's time includes its sham perturbations, its checks
    and its statistics, tangermeme's only its perturbations and model calls (no statistics).
    Their forwards are counted with the forward hook during the timed runs; their warm-up is a
    smaller call of the same function (first-call costs only).

    - ``ablate``, grouped: the rows carrying the motif (``site_bounds``), grouped by (start,
      end); one ``ablate(net, X[rows], start, end, n=K)`` per group. Against motifprobe
      ``presence`` on the same ``n_ablate`` rows. Target >= 8x.
    - ``ablate``, one sequence at a time: ``one_at_a_time`` carrying rows timed, the time per
      row extrapolated to every carrying row. Same comparison. Target >= 40x.
    - ``space``: the two motifs' consensus strings, gaps 0..``max_gap``, one call per order
      (``spacing`` = every gap, ``start=None`` centres the pair), into ``n_backgrounds``
      dinucleotide-shuffled rows (built untimed with tangermeme's own ``dinucleotide_shuffle``).
      Against motifprobe's ``spacing`` profile (prediction mode, same gaps and backgrounds
      count; its time includes building its backgrounds and its shuffled control).
    - ``marginalize``: the first motif's consensus inserted at the centre of ``n_eff``
      backgrounds. Against motifprobe's ``dosage`` with ``max_copies=1``: the same insertion
      (one copy centred in each background) plus its shuffled-bases control (3 forwards per
      background against tangermeme's 2), so the row also gives the per-forward ratio.
GPU rows
    With CUDA: the ceiling (one stream) and presence with the model on ``cuda``, and the GPU's
    utilisation sampled while presence runs (``torch.cuda.utilization()``); else one row says
    it was skipped.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import json
import math
import os
import statistics
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import numpy as np

MOTIFS = ("STAT_known2", "CTCF_known1")
K = 5
THREADS = 2
NOT_INSTALLED = "not installed (pip install motifprobe[bench])"
EFFICIENCY_TARGETS = {"presence": 0.95, "order": 0.95, "distance": 0.9, "interaction": 0.9, "spacing": 0.9,
                      "dosage": 0.9}
ABLATE_GROUPED_TARGET = 8.0
ABLATE_ONE_TARGET = 40.0
BUSY_RATIO = 2.0
"""(b) / (a) above this: the machine is busy (quiet, about 1.2)."""
TANGERMEME_FUNCTIONS = ("ablate, grouped by motif start", "ablate, one sequence at a time", "space", "marginalize")


@dataclass(frozen=True)
class Sizes:
    """How much work each row does (``QUICK`` for a smoke run)."""

    n_train: int = 2000
    n_ablate: int = 1500
    n_eff: int = 6000
    n_backgrounds: int = 1000
    max_gap: int = 50
    one_at_a_time: int = 200
    epochs: int = 2
    repeats: int = 3
    warmups: int = 1


FULL = Sizes()
QUICK = Sizes(n_ablate=500, n_eff=1500, n_backgrounds=250, one_at_a_time=200)


# -- numbers and rows ---------------------------------------------------------------------------
def median_seconds(fn: Callable[[], Any], repeats: int = 3, warmups: int = 1) -> float:
    """Median wall seconds of ``repeats`` calls of ``fn`` after ``warmups`` untimed ones."""
    for _ in range(warmups):
        fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ratio(numerator: float | None, denominator: float | None) -> float:
    """``numerator / denominator``; NaN when either is missing, not finite or the denominator is 0."""
    if numerator is None or denominator is None:
        return math.nan
    num, den = float(numerator), float(denominator)
    if not (math.isfinite(num) and math.isfinite(den)) or den == 0:
        return math.nan
    return num / den


def meets(value: float | None, target: tuple[str, float] | None) -> bool | None:
    """Whether ``value`` meets ``target`` (``(">=", 0.95)`` or ``("<", 2.0)``); None when either is missing."""
    if target is None or value is None or not math.isfinite(float(value)):
        return None
    op, threshold = target
    checks = {">=": float(value) >= threshold, ">": float(value) > threshold, "<=": float(value) <= threshold,
              "<": float(value) < threshold}
    if op not in checks:
        raise ValueError(f"target operator {op!r}; allowed: {', '.join(checks)}")
    return checks[op]


def format_value(value: float | None, unit: str) -> str:
    """A figure for the table: rates without decimals, seconds and GB with two."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    if unit.endswith("/s"):
        return f"{value:,.0f} {unit}"
    if unit in ("s", "GB"):
        return f"{value:,.2f} {unit}"
    return f"{value:,.4g} {unit}".rstrip()


def format_ratio(value: float, style: str = "fraction") -> str:
    """``0.97`` (fraction of a reference) or ``12.3x`` (speed-up); ``n/a`` when not finite."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.1f}x" if style == "speedup" else f"{value:.2f}"


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def add_row(rows: list, records: list, what: str, value: float | None = None, unit: str = "", *,
            figure: str | None = None, ratio: float | None = None, ratio_of: str = "", style: str = "fraction",
            target: tuple[str, float] | None = None, note: str = "", **extra: Any) -> dict:
    """Append one table row ``(what, figure, ratio / target)`` and its JSON record.

    ``target`` is checked against ``ratio`` when one is given, else against ``value``. ``extra``
    (e.g. ``seconds``, ``forwards``) goes into the record only.
    """
    checked = ratio if ratio is not None else value
    met = meets(checked, target)
    if figure is None:
        figure = format_value(value, unit)
    parts = []
    if ratio is not None:
        parts.append(" ".join(p for p in (format_ratio(ratio, style), ratio_of) if p))
    if target is not None:
        verdict = {True: "met", False: "not met", None: "n/a"}[met]
        parts.append(f"target {target[0]} {target[1]:g}: {verdict}")
    if note:
        parts.append(note)
    record = {"what": what, "figure": figure, "value": value, "unit": unit, "ratio": ratio, "ratio_of": ratio_of,
              "target": f"{target[0]} {target[1]:g}" if target else None, "met": met, "note": note, **extra}
    rows.append((what, figure, "; ".join(parts)))
    records.append(_plain(record))
    return records[-1]


def write_json(path: str | os.PathLike, records: list[dict], meta: dict | None = None) -> Path:
    """Write ``{"meta": ..., "records": [...]}`` to ``path`` through a temp file and a rename
    (a failed run leaves an older file as it was). NaN is written as null."""
    from motifprobe.engine.outputs import atomic_path

    document = {"meta": _plain(meta or {}), "records": _plain(records)}
    text = json.dumps(document, indent=1, allow_nan=False)
    with atomic_path(path, what="--json") as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)


# -- counting forwards --------------------------------------------------------------------------
class CountingModel:
    """A model that hands ``predict_proba`` (and ``predict_values``) to the real one and adds up
    the sequences it was given (``forwards``) over ``calls``; every other attribute is the real
    model's."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.calls = 0
        self.forwards = 0

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.forwards += len(codes)
        return self._model.predict_proba(codes)

    def predict_values(self, codes: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.forwards += len(codes)
        return self._model.predict_values(codes)

    def __getattr__(self, name: str) -> Any:
        if name == "_model":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self._model, name)


@contextlib.contextmanager
def net_forwards(net: Any) -> Iterator[list[int]]:
    """Count the sequences ``net``'s forward sees inside the block (``box[0]``), by a forward hook
    on its last module (of a ``Sequential``: the table path runs the modules after the first
    block, not ``net`` itself, and every path ends there)."""
    box = [0]

    def hook(module, args, output):
        box[0] += int(args[0].shape[0])

    last = net[-1] if hasattr(net, "__getitem__") and len(net) else net
    handle = last.register_forward_hook(hook)
    try:
        yield box
    finally:
        handle.remove()


# -- tangermeme ---------------------------------------------------------------------------------
def load_tangermeme() -> tuple[SimpleNamespace | None, str]:
    """tangermeme's functions and version, or ``(None, why)`` when it cannot be imported."""
    try:
        import tangermeme
        from tangermeme.ablate import ablate
        from tangermeme.ersatz import dinucleotide_shuffle
        from tangermeme.marginalize import marginalize
        from tangermeme.space import space
    except ImportError:
        return None, NOT_INSTALLED
    except Exception as exc:  # noqa: BLE001 - a broken install is reported in the row, the rest runs
        return None, f"import failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    version = getattr(tangermeme, "__version__", "")
    return SimpleNamespace(ablate=ablate, space=space, marginalize=marginalize,
                           dinucleotide_shuffle=dinucleotide_shuffle, version=version), ""


def not_installed_rows(rows: list, records: list, reason: str) -> None:
    """One row per tangermeme function, saying why there is no figure."""
    for name in TANGERMEME_FUNCTIONS:
        add_row(rows, records, f"tangermeme {name}", None, "", figure=reason, peer="tangermeme")


# -- the measurements ---------------------------------------------------------------------------
@dataclass
class Context:
    """Everything built once (the model, its net, the two held-out sets) and what later rows read
    from earlier ones (the ceiling, the motifprobe timings, the peer's version)."""

    sizes: Sizes
    model: Any
    net: Any
    batch: int
    ablate_set: Any
    eff_set: Any
    ceiling: float = math.nan
    """The plugin forward's ceiling (seq/s): what interpret's efficiency is read against."""
    module_ceiling: float = math.nan
    """The module forward's ceiling on one-hot (seq/s): what tangermeme's is read against."""
    times: dict = field(default_factory=dict)
    peer: str = ""
    """tangermeme's version when it ran, else why it did not."""


def setup(sizes: Sizes) -> Context:
    """Generate, train and split (see the module docstring)."""
    import torch

    from motifprobe import api

    torch.set_num_threads(THREADS)
    total = sizes.n_train + sizes.n_ablate + sizes.n_eff
    ds = api.generate("fast", seed=2, num_seqs=total, motifs=list(MOTIFS), gen_type="order")
    run = api.train(ds.subset(np.arange(sizes.n_train)), "torch-cnn", params={"epochs": sizes.epochs}, seed=0,
                    out_dir=None)
    model = run.model
    net = model.net_.eval()
    ablate_set = ds.subset(np.arange(sizes.n_train, sizes.n_train + sizes.n_ablate))
    eff_set = ds.subset(np.arange(sizes.n_train + sizes.n_ablate, total))
    return Context(sizes, model, net, int(model.params["predict_batch_size"]), ablate_set, eff_set)


def one_hot_tensor(codes: np.ndarray, device: str = "cpu"):
    """One-hot float32 (N, 4, L) tensor of ``codes`` on ``device`` (N positions all zero)."""
    import torch

    from motifprobe.engine.sequences import one_hot

    return torch.from_numpy(one_hot(codes)).to(device)


def module_forward(net: Any) -> Callable[[Any], Any]:
    """The bare module forward on a one-hot batch: ``softmax(net(x))``."""
    import torch

    return lambda x: torch.softmax(net(x), dim=1)


def forward_batches(forward: Callable[[Any], Any], batches: list, torch_threads: int | None = None) -> None:
    """``forward`` over prebuilt batches under inference mode; ``torch_threads`` set first when
    given (1 in a split stream's own thread)."""
    import torch

    if torch_threads:
        torch.set_num_threads(torch_threads)
    with torch.inference_mode():
        for b in batches:
            forward(b)


def ceiling_rates(forward: Callable[[Any], Any], x: Any, batch: int, sizes: Sizes,
                  threads: int | None = None) -> dict[str, float]:
    """Forward-only sequences/s of ``forward`` over ``x`` (a one-hot tensor or a code array) in
    batches of ``batch``: ``one_stream`` (``threads`` torch threads) and ``split`` (``threads``
    Python threads with 1 torch thread each, the batches dealt out between them)."""
    import torch

    threads = threads or THREADS
    batches = [x[i:i + batch] for i in range(0, len(x), batch)]
    batches = [b.contiguous() if hasattr(b, "contiguous") else np.ascontiguousarray(b) for b in batches]
    torch.set_num_threads(threads)
    one = len(x) / median_seconds(lambda: forward_batches(forward, batches), sizes.repeats, sizes.warmups)
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        parts = [batches[i::threads] for i in range(threads)]
        split = len(x) / median_seconds(
            lambda: list(pool.map(forward_batches, [forward] * threads, parts, [1] * threads)),
            sizes.repeats, sizes.warmups)
    torch.set_num_threads(threads)  # the workers' setting must not leak into the rest of the run
    return {"one_stream": one, "split": split}


def time_interpret(ctx: Context, data: Any, motifs: list[str], test: str, ceiling_now: Callable[[], float] | None = None,
                   **kwargs: Any) -> dict[str, Any]:
    """One untimed counting run (the warm-up), then the median of the timed runs. With
    ``ceiling_now`` (a short forward-only measurement), each timed run is paired with one taken
    just before it and the efficiency is the median of the per-pair ratios: on a machine whose
    speed drifts by tens of percent over a minute, only a ceiling taken at the same moment is
    a fair denominator."""
    from motifprobe.engine.interpret import interpret

    def call(model):
        return interpret(model, data, list(motifs), tests=[test], num_perturbs=K, seed=0, keep_deltas=False,
                         **kwargs)

    counter = CountingModel(ctx.model)
    with net_forwards(ctx.net) as seen:
        result = call(counter)
    forwards = counter.forwards or seen[0]  # an engine that bypasses predict_proba still reaches the net
    note = "" if counter.forwards == seen[0] else f"net saw {seen[0]:,} sequences, predict_proba {counter.forwards:,}"
    if result.failed:
        note = "; ".join(n for n in (note, "a unit ended in error") if n)
    if ceiling_now is None:
        seconds = median_seconds(lambda: call(ctx.model), ctx.sizes.repeats, warmups=0)
        return {"seconds": seconds, "forwards": int(forwards), "sequences": len(data), "note": note}
    pairs = []
    for _ in range(max(5, ctx.sizes.repeats)):  # the machine's speed wanders: more pairs than plain repeats
        ceiling = ceiling_now()
        t0 = time.perf_counter()
        call(ctx.model)
        pairs.append((time.perf_counter() - t0, ceiling))
    seconds = statistics.median(t for t, _ in pairs)
    efficiency = statistics.median(forwards / t / c for t, c in pairs)
    return {"seconds": seconds, "forwards": int(forwards), "sequences": len(data), "note": note,
            "efficiency": efficiency, "paired_ceiling": statistics.median(c for _, c in pairs)}


def interpret_row(rows: list, records: list, ctx: Context, label: str, test: str, timing: dict,
                  target: float | None = None) -> float:
    """The row of one interpret call: wall s, forwards, forwards/s, per-forward efficiency."""
    fps = ratio(timing["forwards"], timing["seconds"])
    eff = timing.get("efficiency", ratio(fps, ctx.ceiling))
    if "paired_ceiling" in timing:
        timing = {**timing, "note": "; ".join(n for n in (timing["note"], "each run paired with a ceiling taken just "
                  f"before it (median {timing['paired_ceiling']:,.0f} seq/s)") if n)}
    seqs = ratio(timing["sequences"], timing["seconds"])
    figure = (f"{timing['seconds']:.2f} s, {timing['forwards']:,} fwd = {fps:,.0f} fwd/s "
              f"({seqs:,.0f} seq/s in)")
    add_row(rows, records, label, fps, "forwards/s", figure=figure, ratio=eff, ratio_of="of the ceiling",
            target=(">=", target) if target is not None else None, note=timing["note"], test=test,
            seconds=timing["seconds"], forwards=timing["forwards"], sequences=timing["sequences"],
            sequences_per_s=seqs)
    return eff


def efficiency_rows(rows: list, records: list, ctx: Context) -> None:
    """The ceilings (both forwards, both ways) and motifprobe's tests on the efficiency set."""
    s = ctx.sizes
    x = one_hot_tensor(ctx.eff_set.codes)
    codes = np.ascontiguousarray(ctx.eff_set.codes)
    paths = {"module": (module_forward(ctx.net), x), "plugin": (ctx.model._predict_proba, codes)}
    before = {kind: ceiling_rates(fn, data, ctx.batch, s) for kind, (fn, data) in paths.items()}
    pair = list(MOTIFS)
    n = f"{len(ctx.eff_set):,} seqs"
    runs = [("presence", [MOTIFS[0]], f"presence ({MOTIFS[0]}), K={K}, {n}", {}),
            ("order", pair, f"order (pair), K={K}, {n}", {}),
            ("distance", pair, f"distance (pair), K={K}, {n}", {}),
            ("interaction", pair, f"interaction (pair), K={K}, {n}", {}),
            ("spacing", pair, f"spacing profile, gaps 0-{s.max_gap}, both orders, {s.n_backgrounds:,} backgrounds",
             {"mode": "prediction", "test_params": {"spacing": {"n_backgrounds": s.n_backgrounds, "min_gap": 0,
                                                                "max_gap": s.max_gap}}})]
    import torch

    half = [codes[i:i + ctx.batch] for i in range(0, max(ctx.batch, len(codes) // 2), ctx.batch)]
    parts = [half[i::THREADS] for i in range(THREADS)]

    def split(batches_per_thread: list) -> None:
        list(pool.map(forward_batches, [ctx.model._predict_proba] * THREADS, batches_per_thread, [1] * THREADS))

    def ceiling_now() -> float:
        """The plugin forward, way (b), on half the set (under a second), after a few warm
        batches per thread."""
        split([part[:3] for part in parts])
        t0 = time.perf_counter()
        split(parts)
        return sum(len(b) for b in half) / (time.perf_counter() - t0)

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        for test, motifs, label, kwargs in runs:
            ctx.times[test] = time_interpret(ctx, ctx.eff_set, motifs, test, ceiling_now=ceiling_now, **kwargs)
    torch.set_num_threads(THREADS)
    # Measured before and after the tests, the larger kept: a ceiling caught in a slow moment
    # would flatter every efficiency below it.
    after = {kind: ceiling_rates(fn, data, ctx.batch, s) for kind, (fn, data) in paths.items()}
    del x, paths
    names = {"one_stream": f"(a) one stream, {THREADS} torch threads",
             "split": f"(b) {THREADS} Python threads x 1 torch thread"}
    what = {"module": "module forward: softmax(net_(x)) on prebuilt one-hot (what tangermeme runs)",
            "plugin": "plugin forward: _predict_proba on prebuilt codes (what interpret calls)"}
    best = {}
    for kind in ("module", "plugin"):
        rates = {key: max(before[kind][key], after[kind][key]) for key in before[kind]}
        winner = max(rates, key=rates.get)
        best[kind] = rates[winner]
        # Quiet, (b) beats (a) by about 1.2x; far more means other jobs hold the cores, and every
        # one-stream figure (tangermeme's included) is slowed by thread barriers waiting for a core.
        busy = ratio(rates["split"], rates["one_stream"]) > BUSY_RATIO
        for key in ("one_stream", "split"):
            note = ""
            if key == winner:
                note = "THE ceiling (its faster way)" if kind == "plugin" else "the faster way: tangermeme's rows read it"
            if key == "one_stream" and busy:
                note = (f"{format_ratio(ratio(rates['split'], rates['one_stream']), 'speedup')} below (b): the cores "
                        "are shared with other jobs; one-stream figures (tangermeme's) are unreliable, rerun on a "
                        "quiet machine")
            add_row(rows, records, f"ceiling {names[key]}, {what[kind]}, batch {ctx.batch}", rates[key], "seq/s",
                    note=note + ("; " if note else "") +
                    f"best of {before[kind][key]:,.0f} before and {after[kind][key]:,.0f} after the tests",
                    ceiling=kind == "plugin" and key == winner, forward=kind, busy=busy)
    ctx.ceiling, ctx.module_ceiling = best["plugin"], best["module"]
    add_row(rows, records, "plugin forward vs module forward (the faster way of each)", ctx.ceiling, "seq/s",
            ratio=ratio(ctx.ceiling, ctx.module_ceiling), style="speedup", ratio_of="of the module forward",
            note="torch-cnn's table_conv first block against torch's modules on one-hot; the same probabilities "
            "to float32 rounding")
    for test, motifs, label, kwargs in runs:
        interpret_row(rows, records, ctx, f"motifprobe {label}", test, ctx.times[test], EFFICIENCY_TARGETS[test])


def ablate_groups(dataset: Any, motif: str) -> list[tuple[np.ndarray, int, int]]:
    """Rows carrying ``motif`` grouped by their site's (start, end): ``[(rows, start, end), ...]``."""
    start, end = dataset.site_bounds(motif)
    rows = np.flatnonzero(start >= 0)
    keys = np.stack([start[rows], end[rows]], axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    return [(rows[inverse == i], int(a), int(b)) for i, (a, b) in enumerate(unique)]


def _peer_timing(ctx: Context, fn: Callable[[], Any], warmup: Callable[[], Any] | None = None) -> tuple[float, int]:
    """tangermeme: the median time of ``fn`` after ``warmup`` (a smaller call of the same
    function: first-call costs only), and the forwards of one ``fn`` (the net's hook, which costs
    one Python call per batch, counts during the timed runs)."""
    for _ in range(ctx.sizes.warmups):
        (warmup or fn)()
    with net_forwards(ctx.net) as seen:
        seconds = median_seconds(fn, ctx.sizes.repeats, warmups=0)
    return seconds, seen[0] // max(1, ctx.sizes.repeats)


def _speedup_row(rows: list, records: list, ctx: Context, what: str, tm_seconds: float, tm_forwards: int,
                 mp: dict, against: str, target: float | None, note: str = "", **extra: Any) -> None:
    speedup = ratio(tm_seconds, mp["seconds"])
    per_forward = ratio(ratio(mp["forwards"], mp["seconds"]), ratio(tm_forwards, tm_seconds))
    tm_eff = ratio(ratio(tm_forwards, tm_seconds), ctx.module_ceiling)
    figure = f"{tm_seconds:.2f} s, {tm_forwards:,} fwd ({tm_eff:.2f} of the module ceiling)"
    details = f"per forward {format_ratio(per_forward, 'speedup')}"
    add_row(rows, records, what, tm_seconds, "s", figure=figure, ratio=speedup, style="speedup",
            ratio_of=f"speed-up of motifprobe {against} ({mp['seconds']:.2f} s, {mp['forwards']:,} fwd)",
            target=(">=", target) if target is not None else None,
            note="; ".join(p for p in (details, note) if p), peer="tangermeme", forwards=tm_forwards,
            efficiency=tm_eff, per_forward_speedup=per_forward, **extra)


def tangermeme_rows(rows: list, records: list, ctx: Context, tm: SimpleNamespace) -> None:
    """ablate (grouped and one at a time), space and marginalize, each against its motifprobe counterpart."""
    import torch

    from motifprobe.engine.insertion import motif_pwms

    s, motif, kw = ctx.sizes, MOTIFS[0], {"batch_size": ctx.batch, "device": "cpu"}
    torch.set_num_threads(THREADS)
    # motifprobe presence on the ablate set: what both ablate rows compare with
    mp = time_interpret(ctx, ctx.ablate_set, [motif], "presence")
    interpret_row(rows, records, ctx, f"motifprobe presence ({motif}), K={K}, the {len(ctx.ablate_set):,} seqs "
                  "of the ablate rows", "presence", mp, EFFICIENCY_TARGETS["presence"])

    x = one_hot_tensor(ctx.ablate_set.codes)
    groups = ablate_groups(ctx.ablate_set, motif)
    carriers = sum(len(r) for r, _, _ in groups)

    def grouped():
        for rows_, a, b in groups:
            tm.ablate(ctx.net, x[torch.from_numpy(rows_)], a, b, n=K, random_state=0, **kw)

    seconds, forwards = _peer_timing(ctx, grouped, lambda: [
        tm.ablate(ctx.net, x[torch.from_numpy(r)], a, b, n=K, random_state=0, **kw) for r, a, b in groups[:3]])
    _speedup_row(rows, records, ctx, f"tangermeme ablate, grouped by motif start ({len(groups)} calls, "
                 f"{carriers:,} carrying seqs), n={K}", seconds, forwards, mp, "presence", ABLATE_GROUPED_TARGET,
                 "motifprobe's time includes its sham, checks and statistics", groups=len(groups))

    order = np.concatenate([r for r, _, _ in groups])
    bounds = {int(r): (a, b) for rs, a, b in groups for r in rs}
    sample = np.sort(order)[:s.one_at_a_time]

    def one_at_a_time():
        for r in sample:
            a, b = bounds[int(r)]
            tm.ablate(ctx.net, x[int(r):int(r) + 1], a, b, n=K, random_state=0, **kw)

    seconds, forwards = _peer_timing(ctx, one_at_a_time, lambda: [
        tm.ablate(ctx.net, x[int(r):int(r) + 1], *bounds[int(r)], n=K, random_state=0, **kw) for r in sample[:3]])
    scale = carriers / max(1, len(sample))
    _speedup_row(rows, records, ctx, f"tangermeme ablate, one sequence at a time, n={K} (extrapolated)",
                 seconds * scale, int(round(forwards * scale)), mp, "presence", ABLATE_ONE_TARGET,
                 f"timed on {len(sample)} seqs ({seconds:.2f} s), extrapolated to all {carriers:,} carrying seqs",
                 sample=len(sample))

    pwms = motif_pwms(ctx.eff_set.metadata, list(MOTIFS))
    cons = {m: "".join("ACGT"[i] for i in np.asarray(pwms[m]).argmax(axis=1)) for m in MOTIFS}
    base = one_hot_tensor(ctx.eff_set.codes[:s.n_backgrounds])
    backgrounds = tm.dinucleotide_shuffle(base, n=1, random_state=0)[:, 0].float().contiguous()
    spacing = [[g] for g in range(0, s.max_gap + 1)]

    def space():
        for pair in (list(MOTIFS), list(MOTIFS[::-1])):
            tm.space(ctx.net, backgrounds, [cons[m] for m in pair], spacing, start=None, **kw)

    seconds, forwards = _peer_timing(ctx, space, lambda: tm.space(
        ctx.net, backgrounds[:ctx.batch], [cons[m] for m in MOTIFS], spacing[:2], start=None, **kw))
    _speedup_row(rows, records, ctx, f"tangermeme space, gaps 0-{s.max_gap}, both orders (2 calls), "
                 f"{len(backgrounds):,} backgrounds", seconds, forwards, ctx.times["spacing"], "spacing profile",
                 None, "its backgrounds built untimed; motifprobe's time includes drawing its own and its control")

    n_marg = len(ctx.eff_set)
    dosage = time_interpret(ctx, ctx.eff_set, [motif], "dosage", mode="prediction",
                            test_params={"dosage": {"n_backgrounds": n_marg, "max_copies": 1}})
    interpret_row(rows, records, ctx, f"motifprobe dosage, max_copies=1 ({motif} centred), {n_marg:,} backgrounds "
                  "(the marginalize counterpart)", "dosage", dosage, EFFICIENCY_TARGETS["dosage"])
    many = one_hot_tensor(ctx.eff_set.codes)
    many = tm.dinucleotide_shuffle(many, n=1, random_state=0)[:, 0].float().contiguous()

    def marginalize():
        tm.marginalize(ctx.net, many, cons[motif], start=None, **kw)

    seconds, forwards = _peer_timing(ctx, marginalize, lambda: tm.marginalize(
        ctx.net, many[:ctx.batch], cons[motif], start=None, **kw))
    _speedup_row(rows, records, ctx, f"tangermeme marginalize ({motif} at the centre), {len(many):,} backgrounds",
                 seconds, forwards, dosage, "dosage max_copies=1", None,
                 "closest motifprobe test: one copy centred per background, plus a shuffled-bases control")


def gpu_rows(rows: list, records: list, ctx: Context) -> None:
    """Ceiling and presence with the model on cuda, and the GPU's utilisation; one row without CUDA."""
    import torch

    if not torch.cuda.is_available():
        add_row(rows, records, "GPU", None, "", figure="skipped (torch sees no CUDA device)")
        return
    name = torch.cuda.get_device_name(0)
    try:
        ctx.model.set_device("cuda")
        x = one_hot_tensor(ctx.eff_set.codes, "cuda")
        batches = [x[i:i + ctx.batch].contiguous() for i in range(0, len(x), ctx.batch)]

        def forward():
            with torch.inference_mode():
                for b in batches:
                    torch.softmax(ctx.net(b), dim=1)
            torch.cuda.synchronize()

        rate = len(x) / median_seconds(forward, ctx.sizes.repeats, ctx.sizes.warmups)
        add_row(rows, records, f"GPU ({name}) ceiling: forward+softmax, batch {ctx.batch}, one-hot on the GPU",
                rate, "seq/s", device=name)
        timed: dict[str, Any] = {}

        def presence():
            timed.update(time_interpret(ctx, ctx.eff_set, [MOTIFS[0]], "presence"))

        util, why = _sampled_utilisation(presence)
        timing = timed
        fps = ratio(timing["forwards"], timing["seconds"])
        add_row(rows, records, f"GPU ({name}) motifprobe presence, K={K}, {len(ctx.eff_set):,} seqs", fps,
                "forwards/s", figure=f"{timing['seconds']:.2f} s, {timing['forwards']:,} fwd = {fps:,.0f} fwd/s",
                ratio=ratio(fps, rate), ratio_of="of the GPU ceiling", note=timing["note"], device=name,
                seconds=timing["seconds"], forwards=timing["forwards"])
        add_row(rows, records, f"GPU ({name}) utilisation during presence", util, "%",
                figure=f"{util:.0f}% (mean of samples)" if util is not None else f"n/a ({why})", device=name)
    finally:
        ctx.model.set_device("cpu")


def _sampled_utilisation(fn: Callable[[], Any], every: float = 0.05) -> tuple[float | None, str]:
    """Run ``fn`` while a thread samples ``torch.cuda.utilization()``; (mean %, '') or (None, why)."""
    import torch

    try:
        torch.cuda.utilization()
    except Exception as exc:  # noqa: BLE001 - needs pynvml / NVML; the row says why
        fn()
        return None, f"torch.cuda.utilization() failed: {type(exc).__name__}"
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(torch.cuda.utilization())
            stop.wait(every)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        stop.set()
        thread.join()
    return (float(np.mean(samples)) if samples else None), ("" if samples else "no sample taken")


def run_rows(rows: list, records: list, ctx: Context,
             loader: Callable[[], tuple[SimpleNamespace | None, str]] = load_tangermeme) -> None:
    """Every row of this module on a built :class:`Context`: the ceiling, motifprobe's tests,
    tangermeme's functions (or one "not installed" row each) and the GPU rows."""
    efficiency_rows(rows, records, ctx)
    tm, why = loader()
    if tm is None:
        ctx.peer = why
        not_installed_rows(rows, records, why)
    else:
        ctx.peer = f"tangermeme {tm.version}"
        tangermeme_rows(rows, records, ctx, tm)
    gpu_rows(rows, records, ctx)


def bench_peers(rows: list, records: list, quick: bool = False) -> Context:
    """Build the context (:data:`QUICK` or :data:`FULL` sizes; ``BENCH_REPEATS`` >= 3 timed
    runs) and append every row to ``rows`` (table) and ``records`` (JSON)."""
    sizes = replace(QUICK if quick else FULL, repeats=max(3, int(os.environ.get("BENCH_REPEATS", "3"))))
    ctx = setup(sizes)
    run_rows(rows, records, ctx)
    return ctx
