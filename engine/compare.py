"""Compare model types on the same data: same split, same perturbations, paired statistics."""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from motifprobe.engine.audit import AUDIT_SAMPLE, AUDIT_THRESHOLD, check_sample, check_threshold
from motifprobe.engine.audit import audit as run_audit
from motifprobe.engine.dataset import Dataset
from motifprobe.engine.errors import ModelFault, MotifprobeError
from motifprobe.engine.interpret import (DELTA_COLUMNS, deltas_metadata, interpret, plan, plan_tests, summarize_deltas,
                                         unit_record, write_deltas)
from motifprobe.engine.interpret.summarize import motif_sources
from motifprobe.engine.model_files import open_model_file
from motifprobe.engine.models import check_device, output_kind
from motifprobe.engine.perturbation import Scorer
from motifprobe.engine.outputs import MARKER_KEY, atomic_dir, check_output_dir, compare_marker
from motifprobe.engine.profiles import PROFILE_COLUMNS, profile_table
from motifprobe.engine.registry import Registry, get_registry
from motifprobe.engine.runs import Run, load_run
from motifprobe.engine.scorecard import score
from motifprobe.engine.seeds import check_seed
from motifprobe.engine.stats import Thresholds, benjamini_hochberg, paired_p, zero_small
from motifprobe.engine.training import train

BUILTIN_MODELS = ("torch-cnn", "sklearn", "xgboost-kmer")
PAIRWISE_Q = 0.05
"""A paired model difference is called when its BH q-value is below this."""


@dataclass
class CompareResult:
    """Everything ``compare`` produces (see README, "compare outputs")."""

    results: pd.DataFrame
    deltas: pd.DataFrame
    scorecard: pd.DataFrame
    summary: pd.DataFrame
    pairwise: pd.DataFrame
    runs: dict[str, Run] = field(default_factory=dict)
    out_dir: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    """Models whose rows are 'error', with the reason (the run is partial: exit status 3)."""
    external: dict[str, str] = field(default_factory=dict)
    """Models loaded from files (``--model-file``): name -> what was loaded (no training, no run)."""
    profiles: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROFILE_COLUMNS))
    """Insertion tests' profiles, one row per model and point (:func:`motifprobe.engine.profiles.profile_table`)."""
    audit: Any = None
    """The perturbation audit of the shared plan (:class:`motifprobe.engine.audit.AuditResult`), or None."""


PAIRWISE_COLUMNS = ["test", "motifs", "subset", "model_a", "model_b", "n", "mean_a", "mean_b", "mean_diff", "p_value",
                    "q_value", "stronger"]


def pairwise_tests(deltas: pd.DataFrame, tolerance: float = 1e-6, min_effect: float = 0.02,
                   mode: str = "loss") -> pd.DataFrame:
    """Paired Wilcoxon between every two models, per test and label, on a scale comparable across
    models; BH over all.

    Sequences and perturbations are the same for every model, so one sequence's values under two
    models are a paired observation. The value compared is the test's effect beyond its control
    on the probability scale (:func:`_comparable`): bounded, and the same for a confident and a
    hesitant model, unlike a loss in nats. It is compared within each label (a motif's removal
    moves positives and negatives in opposite directions; ``subset`` ``label0``/``label1``),
    pooled for unlabeled data. ``stronger`` names the model with the larger |mean| when
    q < ``PAIRWISE_Q`` and the means differ by at least ``min_effect``.
    """
    rows = []
    models = list(pd.unique(deltas["model"])) if len(deltas) else []
    if len(deltas):
        labels = deltas["label"].to_numpy() if "label" in deltas else np.full(len(deltas), -1)
        data = deltas.assign(value=_comparable(deltas),
                             subset=np.where(labels == 1, "label1", np.where(labels == 0, "label0", "pooled")))
    else:
        data = deltas.assign(value=[], subset=[])
    for (test, motifs, subset), group in data.groupby(["test", "motifs", "subset"], sort=False):
        wide = group.pivot_table(index="id", columns="model", values="value", aggfunc="first", dropna=False)
        for a, b in itertools.combinations([m for m in models if m in wide.columns], 2):
            pair = wide[[a, b]].dropna()
            diff = zero_small(pair[a].to_numpy() - pair[b].to_numpy(), tolerance)
            rows.append({"test": test, "motifs": motifs, "subset": subset, "model_a": a, "model_b": b, "n": len(pair),
                         "mean_a": float(pair[a].mean()) if len(pair) else np.nan,
                         "mean_b": float(pair[b].mean()) if len(pair) else np.nan,
                         "mean_diff": float(diff.mean()) if len(pair) else np.nan, "p_value": paired_p(diff)})
    table = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS[:-2])
    table["q_value"] = benjamini_hochberg(table["p_value"].to_numpy()) if len(table) else []
    stronger = np.where(table["mean_a"].abs() >= table["mean_b"].abs(), table["model_a"], table["model_b"])
    called = (table["q_value"] < PAIRWISE_Q) & ((table["mean_a"].abs() - table["mean_b"].abs()).abs() >= min_effect)
    table["stronger"] = np.where(called, stronger, "")
    return table


def _comparable(deltas: pd.DataFrame) -> np.ndarray:
    """Per row, the test's effect beyond its control: on the probability scale where the model
    gives probabilities (``prob_effect - control_prob_effect``), else ``delta - control_delta``."""
    control = deltas["control_delta"] if "control_delta" in deltas else 0.0
    raw = (deltas["delta"] - control).to_numpy(np.float64)
    if "prob_effect" in deltas and "control_prob_effect" in deltas:
        prob = (deltas["prob_effect"] - deltas["control_prob_effect"]).to_numpy(np.float64)
        raw = np.where(np.isfinite(prob), prob, raw)
    return raw


def _train_progress(progress: Callable[..., None] | None, name: str) -> Callable[..., None] | None:
    """Adapt per-epoch training progress to one bar per model."""
    if progress is None:
        return None

    def task(epoch: int = 0, total: int | None = None, **_info: Any) -> None:
        progress(description=f"train {name}", completed=epoch, total=total)
    return task


def compare(dataset: Dataset, model_plugins: list[str] | None = None, *, runs: list[str | Path] | None = None,
            motifs: list[str] | None = None, tests: list[str] | None = None, num_perturbs: int = 5, seed: int = 0,
            mode: str = "loss", thresholds: Thresholds | None = None, test_sz: float = 0.1,
            balance: str | bool = "auto", epochs: int | None = None, lr: float | None = None,
            dropout: float | None = None, early_stop: int | None = None,
            params: dict[str, dict[str, Any]] | None = None, out_dir: str | Path | None = None,
            overwrite: bool = False, figures: bool = True, progress: Callable[..., None] | None = None,
            registry: Registry | None = None, test_params: dict[str, dict[str, Any]] | None = None,
            model_files: list[str | Path] | None = None, model_file_plugin: str | None = None,
            model_params: dict[str, Any] | None = None, device: str = "auto",
            say: Callable[[str], None] | None = None, audit: bool = True, audit_sample: int = AUDIT_SAMPLE,
            audit_threshold: float = AUDIT_THRESHOLD, client: Any = None) -> CompareResult:
    """Train (or reuse) several models on one split and interpret them with the same perturbations.

    Parameters
    ----------
    dataset : Dataset
    model_plugins : list of str, optional
        Models to train (default: the three built-ins; none if ``runs`` or ``model_files`` are given).
    runs : list of path, optional
        Existing run directories to reuse (trained on this dataset).
    model_files : list of path, optional
        Models trained elsewhere (TorchScript, ONNX files, or ``package.module:name`` for
        ``python``), compared as they are: no training. Read by ``model_file_plugin`` (default:
        from each suffix) with ``model_params`` (``layout``, ``length``, ``target``, ``output``,
        ``batch_size``). With runs or trained models, the sequences are their shared held-out
        ids; with model files alone, every sequence.
    device : {'auto', 'cpu', 'cuda'}
        Where torch-based models (and ONNX, when onnxruntime has CUDA) predict; training runs on the CPU.
    say : callable, optional
        Called with one line per model file before it is loaded (what loading runs).
    client : distributed.Client, optional
        Train the models and interpret them (each split in sequence ranges) on Dask workers
        (:mod:`motifprobe.engine.distributed`); the same numbers as in this process.
    audit, audit_sample, audit_threshold
        The perturbation audit (:mod:`motifprobe.engine.audit`): once for the shared plan (the
        perturbations are the same for every model), ``audit_sample`` sequences per unit;
        written as ``audit.csv``/``audit.json``, its summary in ``compare.json``.
    params : dict, optional
        ``{plugin: {key: value}}`` plugin-specific parameters.
    out_dir : path, optional
        Writes ``compare.csv``, ``scorecard.csv``, ``summary.csv``, ``pairwise.csv``,
        ``deltas.parquet``, PNG figures, ``report.html`` and ``runs/`` here (atomically).
    Other parameters as in :func:`engine.training.train` and :func:`engine.interpret.interpret`.

    Returns
    -------
    CompareResult
    """
    seed = check_seed(seed)
    registry = registry or get_registry()
    thresholds = thresholds or Thresholds()
    runs = list(runs or [])
    model_files = list(model_files or [])
    if model_params and model_params.get("callable") and not model_files:
        model_files = [str(model_params["callable"])]
    if model_plugins is None:
        model_plugins = [] if runs or model_files else [m for m in BUILTIN_MODELS if m in registry.names("model")]
    names = [registry.get("model", m).name for m in model_plugins]
    if len(set(names)) != len(names):
        raise MotifprobeError(f"model plugins listed twice: {', '.join(model_plugins)}")
    for plugin in (params or {}):
        if registry.get("model", plugin).name not in names:
            raise MotifprobeError(f"--param for {plugin!r}, which is not among the compared models ({', '.join(names)})")
    if not names and not runs and not model_files:
        raise MotifprobeError("nothing to compare: give model plugins, runs or model files")
    check_device(device)
    # Model files load first: a file that does not load, or loss mode on a regression output, fails before training.
    external: dict[str, Any] = {}
    for source in model_files:
        model = open_model_file(source, model_file_plugin, {**(model_params or {}), "device": device},
                                registry=registry, say=say)
        Scorer(mode, output_kind(model))
        if model.name_ in external and Path(str(source)).name != model.name_:
            # one model exported twice (model.pt, model.onnx): tell them apart by the whole file name
            first = external.pop(model.name_)
            first.name_ = Path(str(first.source_)).name if getattr(first, "source_", None) else model.name_
            external[first.name_] = first
            model.name_ = Path(str(source)).name
        if model.name_ in external or model.name_ in names:
            raise MotifprobeError(f"two models are named {model.name_!r}; rename a model file")
        external[model.name_] = model
    # Unknown tests and bad test parameters fail here, before any model is trained.
    plan_tests(list(motifs) if motifs else dataset.motif_names, tests, registry, test_params)
    audit_sample, audit_threshold = check_sample(audit_sample), check_threshold(audit_threshold)
    inputs = [dataset.path, *runs, *(f for f in model_files if Path(str(f)).exists())]  # never written over, nor a directory holding one replaced (engine/outputs.py)
    if out_dir is not None:
        check_output_dir(out_dir, overwrite=overwrite, kind="compare", inputs=inputs)

    def _do(target: Path | None) -> CompareResult:
        trained: dict[str, Run] = {}
        failed: dict[str, str] = {}  # model -> why its rows are 'error' (a plugin fault, not a user mistake)
        for run_dir in runs:
            run = load_run(run_dir, dataset, registry)
            if run.name in trained:
                raise MotifprobeError(f"two runs are named {run.name!r}; rename one (--model-name)")
            trained[run.name] = run
            if run.name in external:
                raise MotifprobeError(f"two models are named {run.name!r}; rename a model file")
        if client is not None and names:  # every model at once, one task each (engine/distributed.py)
            from motifprobe.engine.distributed import train_models

            both = [name for name in names if name in trained]
            if both:
                raise MotifprobeError(f"model {both[0]!r} given both as a plugin and as a run")
            got, bad = train_models(client, dataset, {name: dict(
                params=dict((params or {}).get(name, {})), test_sz=test_sz, seed=seed, balance=balance, epochs=epochs,
                lr=lr, dropout=dropout, early_stop=early_stop, out_dir=target / "runs" if target else None)
                for name in names})
            trained.update(got)
            failed.update(bad)
        for name in ([] if client is not None else names):
            if name in trained:
                raise MotifprobeError(f"model {name!r} given both as a plugin and as a run")
            task = _train_progress(progress, name)
            try:
                trained[name] = train(dataset, name, params=dict((params or {}).get(name, {})), test_sz=test_sz,
                                      seed=seed, balance=balance, epochs=epochs, lr=lr, dropout=dropout,
                                      early_stop=early_stop, out_dir=target / "runs" if target else None,
                                      progress=task, registry=registry)
            except ModelFault as exc:
                failed[name] = str(exc)
        # Paired comparisons need the same sequences: the held-out ids every run shares.
        common = None
        for run in trained.values():
            ids = set(run.test_ids)
            common = ids if common is None else common & ids
        if trained and not common:
            raise MotifprobeError("the runs share no held-out test sequence; train them with the same --seed and --test-sz")
        ids = [i for i in dataset.ids if common is None or i in common]
        for run in trained.values():
            place = getattr(run.model, "set_device", None)  # models outside SequenceModel stay where they are
            if place is not None:
                place(device)
        kwargs = dict(tests=tests, num_perturbs=num_perturbs, seed=seed, mode=mode, ids=ids, thresholds=thresholds,
                      registry=registry, test_params=test_params, summarize=False)
        delta_frames, records, metrics = [], {}, {}
        if client is not None:  # every model's sequence ranges at once over the workers
            from motifprobe.engine.distributed import interpret_models

            got, faults = interpret_models(client, {n: r.model for n, r in trained.items()}, dataset, motifs,
                                           progress=progress, **kwargs)
            for name, run in trained.items():
                if name in faults:
                    failed[name] = str(faults[name])
                    continue
                records[name] = got[name][1]["units"]
                delta_frames.append(got[name][0])
                metrics[name] = run.metrics
        for name, run in ({} if client is not None else trained).items():
            try:
                res = interpret(run.model, dataset, motifs, model_name=name, progress=progress, **kwargs)
            except ModelFault as exc:
                failed[name] = str(exc)
                continue
            records[name] = res.metadata["units"]
            delta_frames.append(res.deltas)
            metrics[name] = run.metrics
        for name, model in external.items():
            try:
                res = interpret(model, dataset, motifs, model_name=name, progress=progress, **kwargs)
            except ModelFault as exc:
                failed[name] = str(exc)
                continue
            records[name] = res.metadata["units"]
            delta_frames.append(res.deltas)
        if failed:  # every planned unit of a failed model is an 'error' row naming the fault
            subset = dataset.subset(pd.Index(dataset.ids).get_indexer(ids))
            units = plan(subset, list(motifs) if motifs else dataset.motif_names, tests, registry,
                         num_perturbs=num_perturbs, test_params=test_params)
            for name, reason in failed.items():
                records[name] = [unit_record(name, u, "error", reason) for u in units]
        order = [m for m in [*trained, *names, *external] if m in records]
        deltas = pd.concat(delta_frames, ignore_index=True) if delta_frames else pd.DataFrame(columns=DELTA_COLUMNS)
        units = [r for m in dict.fromkeys(order) for r in records[m]]
        sources = motif_sources(dataset.metadata)
        metadata = deltas_metadata(units, seed=seed, mode=mode, thresholds=thresholds, motif_sources=sources)
        checked = None
        if audit:  # the perturbations are the same for every model: one audit of the shared plan
            shared = dataset.subset(pd.Index(dataset.ids).get_indexer(ids))
            # The motif order of interpret's own plan (dataset.motif_names): the streams are keyed by it.
            checked = run_audit(plan(shared, list(motifs) if motifs else dataset.motif_names, tests, registry,
                                     num_perturbs=num_perturbs, test_params=test_params, seed=seed),
                                shared, seed=seed, registry=registry, sample=audit_sample, threshold=audit_threshold)
            metadata["audit"] = checked.summary()
        # One family over every model: q values and verdicts across the whole comparison, exactly
        # what 'motifprobe summarize compare/deltas.parquet' rebuilds.
        profiles = profile_table(deltas, units, thresholds=thresholds, rule=dataset.rule, registry=registry)
        results = summarize_deltas(deltas, units, seed=seed, mode=mode, thresholds=thresholds, motif_sources=sources,
                                   profiles=profiles)
        scorecard, summary = score(results, dataset.rule, metrics, dataset=dataset, profiles=profiles)
        pairwise = pairwise_tests(deltas, thresholds.tolerance, thresholds.min_effect, mode=mode)
        result = CompareResult(results, deltas, scorecard, summary, pairwise,
                               {m: r for m, r in trained.items() if m not in failed}, target, metadata, failed,
                               {m: model.describe() for m, model in external.items()}, audit=checked,
                               profiles=profiles)
        if target is not None:
            _write_outputs(result, dataset, target, figures)
        return result

    if out_dir is None:
        return _do(None)
    with atomic_dir(out_dir, overwrite=overwrite, kind="compare", inputs=inputs) as tmp:
        result = _do(Path(tmp))
    result.out_dir = Path(out_dir)
    return result


def _write_outputs(result: CompareResult, dataset: Dataset, target: Path, figures: bool) -> None:
    result.results.to_csv(target / "compare.csv", index=False)
    result.scorecard.to_csv(target / "scorecard.csv", index=False)
    result.summary.to_csv(target / "summary.csv", index=False)
    result.pairwise.to_csv(target / "pairwise.csv", index=False)
    write_deltas(result.deltas, result.metadata, target / "deltas.parquet")
    if len(result.profiles):  # insertion tests ran: their curves, one row per model and point
        result.profiles.to_parquet(target / "profiles.parquet", index=False)
        result.profiles.to_csv(target / "profiles.csv", index=False)
    info = {"dataset": str(dataset.path) if dataset.path else "(in memory)", "sequences": len(dataset),
            "length": dataset.seq_length, "rule": json.dumps(dataset.rule) if dataset.rule else "(none recorded)",
            "models": ", ".join([*result.runs, *result.external])}
    held_out = {int(run.manifest["split"]["test"]) for run in result.runs.values()
                if isinstance(run.manifest.get("split"), dict) and "test" in run.manifest["split"]}
    if len(held_out) == 1:
        info["held-out sequences (test split)"] = held_out.pop()
    curves = set(result.profiles["test"]) if len(result.profiles) else set()
    # Profile rows hold a curve's peak (probability scale, backgrounds): not the held-out counts, nor the heatmap.
    on_sites = result.results[~result.results["test"].isin(curves)] if len(result.results) else result.results
    counts = pd.to_numeric(on_sites.get("count"), errors="coerce").dropna() if len(on_sites) else []
    if curves:  # insertion tests score backgrounds made from the data, not the held-out sequences themselves
        n_bg = pd.to_numeric(result.profiles["n"], errors="coerce").dropna()
        info["backgrounds per curve point"] = (f"{int(n_bg.min())} to {int(n_bg.max())}" if n_bg.min() != n_bg.max()
                                               else int(n_bg.max())) if len(n_bg) else 0
    if len(counts):
        info["sequences tested per test (held-out, containing the motifs)"] = (
            f"{int(counts.min())} to {int(counts.max())}" if counts.min() != counts.max() else int(counts.max()))
    (target / "compare.json").write_text(json.dumps({
        MARKER_KEY: compare_marker(), "dataset": info, "summary": json.loads(result.summary.to_json(orient="records")),
        "results": json.loads(result.results.to_json(orient="records")),
        "audit": result.audit.summary() if result.audit is not None else None}, indent=2))
    if result.audit is not None:
        result.audit.table.to_csv(target / "audit.csv", index=False)
        (target / "audit.json").write_text(result.audit.to_json())
    if not figures:
        return
    from motifprobe.engine import report

    from motifprobe.engine.profile_figures import write_profile_figures

    if len(result.profiles):  # each curve as PNG + SVG beside the report (the report embeds the PNGs)
        write_profile_figures(result.profiles, target / "profiles")
    figs = {"heatmap": report.heatmap_png(on_sites, target / "heatmap.png"),
            "distributions": report.distributions_png(result.deltas[~result.deltas["test"].isin(curves)]
                                                      if len(result.deltas) else result.deltas,
                                                      target / "distributions.png")}
    report.scorecard_png(result.scorecard, result.summary, target / "scorecard.png")  # a file; the report has the table
    logos = report.logo_pngs(report.tested_motifs(result.results), target / "logos")
    report.write_report(target / "report.html", title="motifprobe compare", dataset_info=info,
                        results=result.results, scorecard=result.scorecard, summary=result.summary,
                        pairwise=result.pairwise, figures=figs, rule=dataset.rule, logos=logos,
                        profiles=result.profiles, audit=result.audit)
