"""The Python API: everything the CLI does, as functions.

>>> from motifprobe import api
>>> ds = api.generate("fast", num_seqs=5000, gen_type="order",
...                   motifs=["STAT_known2", "CTCF_known1"], seed=7)
>>> run = api.train(ds, model_plugin="sklearn", seed=7, out_dir=None)
>>> table = api.interpret(run, ds, motifs=["STAT_known2", "CTCF_known1"]).table
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from motifprobe.engine.dataset import Dataset, file_sha256, read_dataset, write_dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.generation import GenerationSpec
from motifprobe.engine.params import declared_params, resolve
from motifprobe.engine.interpret import InterpretResult
from motifprobe.engine.interpret import interpret as _interpret
from motifprobe.engine.registry import get_registry
from motifprobe.engine.runs import Run, load_run
from motifprobe.engine.seeds import check_seed
from motifprobe.engine.outputs import check_output_file
from motifprobe.engine.training import train

__all__ = ["generate", "load_dataset", "train", "load_run", "interpret", "compare"]


def generate(generator: str = "simdna", *, seed: int = 0, out: str | Path | None = None, progress=None,
             **spec: Any) -> Dataset:
    """Generate a dataset with a registered generator; write it to ``out`` if given.

    ``spec`` holds :class:`motifprobe.GenerationSpec` fields (``num_seqs``, ``seq_length``,
    ``gen_type`` (a registered rule), ``motifs``, ``pos_motifs``, ``background``, ``min_dist``,
    ``max_dist``, ``pos_share``, ``rc_prob``, ``rule_params``, ``options`` (the generator's
    declared parameters)).
    """
    fields = set(GenerationSpec.__dataclass_fields__)
    bad = sorted(set(spec) - fields)
    if bad:
        raise MotifprobeError(f"unknown generation setting(s) {', '.join(bad)}; allowed: {', '.join(sorted(fields))}")
    seed = check_seed(seed)
    if out is not None:
        check_output_file(out, what="out")  # an unwritable or unsafe target fails before any work
    entry = get_registry().get("generator", generator)
    spec["options"] = resolve(declared_params(entry.factory), spec.get("options"), f"generator plugin {entry.name!r}")
    spec_obj = GenerationSpec(**spec)
    try:
        dataset = entry.factory().generate(spec_obj, seed=seed, progress=progress)
    except MotifprobeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's fault is one line naming it, not a traceback
        raise MotifprobeError(f"generator {entry.name!r} (plugin {entry.plugin}, {entry.distribution}) failed: "
                              f"{type(exc).__name__}: {exc}") from None
    if not isinstance(dataset, Dataset):
        raise MotifprobeError(f"generator {entry.name!r} (plugin {entry.plugin}, {entry.distribution}) returned "
                              f"{type(dataset).__name__}, not a motifprobe.Dataset")
    if out is not None:
        write_dataset(dataset, out)
        dataset.path, dataset.sha256 = Path(out), file_sha256(out)
    return dataset


def load_dataset(path: str | Path) -> Dataset:
    """Read and validate a dataset file."""
    return read_dataset(path)


def interpret(model: Any, dataset: Dataset | str | Path, motifs: list[str] | None = None, **kwargs: Any) -> InterpretResult:
    """Interpret a :class:`Run`, a run directory, a model with ``predict_proba``, or a callable.

    With a run (or run directory) only its held-out test sequences are used, and the dataset
    must be the one it was trained on. Other keyword arguments: see
    :func:`engine.interpret.interpret`.
    """
    if isinstance(dataset, (str, Path)):
        dataset = read_dataset(dataset)
    if isinstance(model, (str, Path)):
        model = load_run(model, dataset)
    if isinstance(model, Run):
        if model.manifest.get("dataset", {}).get("sha256") not in (None, dataset.sha256) and dataset.sha256:
            raise MotifprobeError(f"run {model.name!r} was trained on another dataset (sha256 differs)")
        kwargs.setdefault("ids", model.test_ids)
        kwargs.setdefault("model_name", model.name)
        model = model.model
    return _interpret(model, dataset, motifs, **kwargs)


def compare(*args: Any, **kwargs: Any):
    """Train and interpret several models side by side; see :func:`engine.compare.compare`."""
    from motifprobe.engine.compare import compare as _compare

    return _compare(*args, **kwargs)
