"""The model contract: codes in, class probabilities out.

A model wrapper owns its featurization (one-hot, k-mers). Interpretation never looks inside a
model: anything with ``predict_proba(codes)`` works, and :class:`CallableModel` turns a plain
function into one. :class:`SequenceModel` is the base of model plugins: it owns everything but
the model itself (input checks, chunked prediction, the output contract, config and checksums).
"""
from __future__ import annotations

import contextlib
import itertools
import threading
from pathlib import Path
from typing import Any, Callable, ClassVar, ContextManager

import numpy as np

from motifprobe.engine.errors import ModelFault, MotifprobeError
from motifprobe.engine.model_files import (CONFIG, MAX_CLASSES, MAX_SEQ_LENGTH, config_error, config_int, first_line,
                                           is_plain_name, read_model_config, write_model_config)
from motifprobe.engine.params import Param, declared_params, parse_pairs, resolve
from motifprobe.engine.sequences import one_hot

Progress = Callable[..., None]
MAX_CODE = 4
"""Codes a model receives: 0..3 = A, C, G, T; 4 = N (unknown base). Featurizing 4 is the plugin's job."""
ROW_SUM_TOLERANCE = 1e-4
"""Rows of a model's (n, C) output must sum to 1 within this."""


class SequenceModel:
    """Base class of model plugins: the base owns the scaffolding, the plugin the model.

    A plugin declares ``name``, ``description`` and ``parameters`` (a tuple of
    :class:`motifprobe.Param`; the checked values land in ``self.params``) and implements four
    methods; the public ``fit``, ``predict_proba``, ``save`` and ``load`` are the base's:

    - ``_fit(codes, labels, val, seed, progress)``: train. Inputs are already checked: codes
      ``uint8`` (N, L) in 0..4, labels ``int64`` (N,) >= 0 with at least two classes,
      ``val`` = (codes, labels) or None; ``self.seq_length_`` and ``self.classes_`` are set.
    - ``_predict_proba(codes)``: probabilities for at most ``predict_chunk`` checked sequences:
      (n, C) with one column per class of ``classes_`` (or per label 0..max label), or (n,) =
      P(class 1). The base checks the shape, finiteness, range and row sums.
    - optionally ``_predict_context()``: a context manager around all chunks of one call
      (thread settings, no-grad mode), entered once.
    - ``_save_weights(directory) -> list of file names`` it wrote (safe formats only: JSON,
      safetensors, ...). The base writes ``config.json`` beside them.
    - ``_load_weights(directory, config)``: read them back into ``self``, which was built from
      the saved parameters, with ``seq_length_`` and ``classes_`` set. Every file it reads has
      passed its checksum; anything it raises becomes one ``MotifprobeError`` line.

    Standard parameter names a plugin may declare, so the ``train`` flags reach it:
    ``epochs``, ``lr``, ``dropout``, ``early_stop``, ``monitor``, ``balance``. Optional fitted
    attributes ``best_epoch_``, ``n_epochs_`` (run metrics) and ``history_`` (a list of dicts of
    per-epoch numbers) are saved and restored by the base.
    """

    name: ClassVar[str] = ""
    """The registered plugin name; used in errors and recorded in ``config.json`` (default: the class name)."""
    description: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = ()
    predict_chunk: ClassVar[int] = 1024
    """Sequences per ``_predict_proba`` call (bounds prediction memory); may be a property."""
    predict_streams: ClassVar[int] = 1
    """How many ``_predict_proba`` calls may run at once, each in its own thread inside
    ``_stream_context()`` (may be a property). More than 1 only for a model whose forward is
    thread-safe and releases the GIL (torch, onnxruntime): on 2 CPU cores, two single-threaded
    torch streams outran one two-threaded stream by about 1.2x."""
    any_length: ClassVar[bool] = False
    """True: predict on sequences of any length; False: only the length seen in training."""
    binary: ClassVar[bool] = False
    """True: training labels must be 0 and 1."""
    weights_version: ClassVar[int] = 1
    """Version of the plugin's own weights layout; a saved model of another version is refused."""
    output_kind: ClassVar[str] = "prob"
    """What the model's output is, for scoring: ``"prob"`` (probabilities, the default), ``"logit"``
    (probabilities computed from logits: prediction mode reports the change in log-odds) or
    ``"value"`` (a regression output from ``predict_values``: prediction mode only)."""

    @property
    def input_length(self) -> int | None:
        """The one sequence length the model takes (None: any); the orchestrator fits datasets to it."""
        return None if self.any_length else getattr(self, "seq_length_", None)

    def set_device(self, device: str = "auto") -> str:
        """Run predictions on ``device`` (``auto``, ``cpu``, ``cuda``); returns the device used.

        The base runs on the CPU only: ``cuda`` is refused, ``auto`` gives ``cpu``.
        """
        check_device(device)
        if device == "cuda":
            raise self._error("runs on the CPU only; --device cuda is for torch-based models")
        return "cpu"

    def __init__(self, **params: Any) -> None:
        self.params = resolve_params(type(self), params, self.plugin_name())

    @classmethod
    def plugin_name(cls) -> str:
        return cls.name or cls.__name__

    # -- what a plugin implements --------------------------------------------------------------
    def _fit(self, codes: np.ndarray, labels: np.ndarray, val: tuple[np.ndarray, np.ndarray] | None,
             seed: int | None, progress: Progress | None) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _fit")

    def _predict_proba(self, codes: np.ndarray) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement _predict_proba")

    def _predict_context(self) -> ContextManager[Any]:
        """Optional: a context entered once around all chunks of one ``predict_proba`` call."""
        return contextlib.nullcontext()

    def _stream_context(self) -> ContextManager[Any]:
        """Optional: the context of one stream's chunks when ``predict_streams`` > 1, entered in the
        stream's own thread (e.g. one torch thread per stream). Default: ``_predict_context()``."""
        return self._predict_context()

    def _save_weights(self, directory: Path) -> list[str]:
        raise NotImplementedError(f"{type(self).__name__} does not implement _save_weights")

    def _load_weights(self, directory: Path, config: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _load_weights")

    # -- the contract -------------------------------------------------------------------------
    def fit(self, codes: np.ndarray, labels: np.ndarray, *, val: tuple[np.ndarray, np.ndarray] | None = None,
            seed: int | None = None, progress: Progress | None = None) -> "SequenceModel":
        """Train on ``uint8`` codes (N, L) and integer labels (N,); return ``self``.

        ``val`` = (codes, labels) for early stopping; ``progress(epoch=, total=, **metrics)``
        may be called once per epoch or round. Bad input raises one ``MotifprobeError`` line.
        """
        codes = self._check_codes(codes, "fit")
        labels = self._check_labels(labels, len(codes), "fit")
        if len(codes) == 0:
            raise self._error("fit needs at least one sequence")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise self._error(f"training needs at least two classes, got only label {int(classes[0])}")
        if len(classes) > MAX_CLASSES or classes[-1] >= MAX_CLASSES:
            raise self._error(f"labels must lie in 0..{MAX_CLASSES - 1}")
        if self.binary and classes[-1] > 1:
            raise self._error(f"a binary classifier: labels must be 0 or 1, got classes {classes.tolist()}")
        if val is not None:
            if not isinstance(val, (tuple, list)) or len(val) != 2:
                raise self._error("val must be a tuple (codes, labels)")
            val_codes = self._check_codes(val[0], "fit (val)", None if self.any_length else codes.shape[1])
            val = (val_codes, self._check_labels(val[1], len(val_codes), "fit (val)"))
        self.seq_length_, self.classes_ = int(codes.shape[1]), classes
        try:
            self._fit(codes, labels, val, seed, progress)
        except BaseException:
            del self.seq_length_, self.classes_  # a failed fit leaves no half-trained model
            raise
        return self

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        """Class probabilities, ``float32`` (N, max(2, max label + 1)), rows summing to 1.

        Computed ``predict_chunk`` sequences at a time (in ``predict_streams`` threads at once);
        the plugin's output is checked (shape per chunk; finite, in [0, 1], rows summing to 1 over
        the call) and a violation is one line.
        """
        if not self.is_fitted():
            raise self._error("not trained yet: call fit or load first")
        codes = self._check_codes(codes, "predict_proba", None if self.any_length else self.seq_length_)
        width = n_outputs(self.classes_)
        out = np.empty((len(codes), width), dtype=np.float32)
        step = max(1, int(self.predict_chunk))
        owner = f"model plugin {self.plugin_name()!r}"

        def run(starts: range) -> None:
            for lo in starts:
                chunk = codes[lo:lo + step]
                raw = self._predict_proba(chunk)
                if isinstance(raw, np.ndarray) and raw.shape == (len(chunk), width) and raw.dtype.kind == "f":
                    out[lo:lo + step] = raw  # the common case, checked once for the whole call below
                    continue
                out[lo:lo + step] = as_probabilities(raw, len(chunk), owner=owner, classes=self.classes_)

        try:
            starts = range(0, len(codes), step)
            streams = min(max(1, int(self.predict_streams)), len(starts))
            if streams > 1:  # each chunk to whichever stream is free: its output is the same either way
                spread_over_streams(run, starts, streams, self._stream_context)
            else:
                with self._predict_context():
                    run(starts)
            out = as_probabilities(out, len(out), owner=owner, classes=self.classes_)
        except MotifprobeError as exc:  # the output checks, or the plugin's own error: a model fault
            if str(exc).startswith(owner):
                raise ModelFault(str(exc)) from exc
            raise ModelFault(str(self._error(first_line(exc)))) from exc
        except Exception as exc:  # noqa: BLE001 - plugin code: one line, the traceback chained
            raise ModelFault(str(self._error(f"predict_proba failed: {type(exc).__name__}: {first_line(exc)}"))) from exc
        return out

    def is_fitted(self) -> bool:
        return "seq_length_" in self.__dict__ and "classes_" in self.__dict__

    def save(self, directory: str | Path) -> None:
        """Write the weights (the plugin's safe files) and ``config.json`` into ``directory`` (new or empty).

        The config holds the format and its version, the plugin name, parameters,
        ``seq_length``, ``classes``, the training facts and the sha256 of each weights file.
        """
        if not self.is_fitted():
            raise self._error("nothing to save: call fit first")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if any(directory.iterdir()):  # load refuses files the config does not list
            raise self._error(f"save needs an empty directory; {str(directory)!r} is not empty")
        files = self._save_weights(directory)
        if (not isinstance(files, (list, tuple)) or not files or not all(is_plain_name(f) for f in files)
                or len(set(files)) != len(files)):
            raise self._error(f"_save_weights must return the names of the files it wrote, got {files!r}")
        config: dict[str, Any] = {"plugin": self.plugin_name(), "weights_version": int(self.weights_version),
                                  "params": self.params, "seq_length": int(self.seq_length_),
                                  "classes": [int(c) for c in self.classes_]}
        for key in ("best_epoch", "n_epochs"):
            if getattr(self, key + "_", None) is not None:
                config[key] = int(getattr(self, key + "_"))
        if getattr(self, "history_", None) is not None:
            config["history"] = list(self.history_)
        write_model_config(directory, config, list(files))

    @classmethod
    def load(cls, directory: str | Path) -> "SequenceModel":
        """Read a model written by :meth:`save`; any damage raises one ``MotifprobeError`` line.

        Order: config shape, format version and checksums of every weights file, then plugin
        name and parameters (through the declared ``parameters``), then ``_load_weights``.
        """
        directory = Path(directory)
        name = cls.plugin_name()
        label = f"{name} model"
        config_path = directory / CONFIG
        config = read_model_config(directory, label)

        def bad(problem: str) -> MotifprobeError:
            return config_error(config_path, label, problem)

        if config.get("plugin") != name:
            raise bad(f"it was saved by model plugin {config.get('plugin')!r}, not {name!r}")
        if config.get("weights_version") != cls.weights_version:
            raise bad(f"weights version {config.get('weights_version')!r} is not the {cls.weights_version} "
                      f"this {name} reads: retrain the model")
        params = config.get("params")
        if not isinstance(params, dict):
            raise bad("'params' must be an object")
        seq_length = config_int(config, "seq_length", config_path, label, 1, MAX_SEQ_LENGTH)
        classes = config.get("classes")
        if (not isinstance(classes, list) or not 2 <= len(classes) <= MAX_CLASSES
                or not all(type(c) is int and 0 <= c < MAX_CLASSES for c in classes) or sorted(set(classes)) != classes
                or (cls.binary and classes != [0, 1])):
            raise bad("'classes' must be " + ("[0, 1]" if cls.binary else
                                              f"2..{MAX_CLASSES} increasing integers in 0..{MAX_CLASSES - 1}"))
        facts = {key: config_int(config, key, config_path, label, 1, optional=True) for key in ("n_epochs", "best_epoch")}
        if None not in facts.values() and facts["best_epoch"] > facts["n_epochs"]:
            raise bad(f"best_epoch {facts['best_epoch']} is after n_epochs {facts['n_epochs']}")
        history = config.get("history")
        if history is not None and (not isinstance(history, list) or not all(
                isinstance(h, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                            for v in h.values()) for h in history)):
            raise bad("'history' must be a list of objects of numbers")
        try:
            model = cls(**params)
        except Exception as exc:  # noqa: BLE001 - any damage to the config is the user's file problem
            raise bad(first_line(exc)) from None
        model.seq_length_, model.classes_ = seq_length, np.asarray(classes, dtype=np.int64)
        for key, value in facts.items():
            if value is not None:
                setattr(model, key + "_", value)
        if history is not None:
            model.history_ = history
        files = sorted(config["sha256"])
        where = str(directory / files[0]) if len(files) == 1 else f"{str(directory)} ({', '.join(files)})"
        try:
            model._load_weights(directory, config)
        except Exception as exc:  # noqa: BLE001 - the plugin's readers raise many types: one line
            if isinstance(exc, OSError) and exc.filename:
                raise MotifprobeError(f"cannot read {label} {str(exc.filename)!r}: {exc.strerror}") from None
            raise MotifprobeError(f"cannot read {label} {where!r}: {first_line(exc)}") from None
        return model

    # -- checks ---------------------------------------------------------------------------------
    def _error(self, problem: str) -> MotifprobeError:
        return MotifprobeError(f"model plugin {self.plugin_name()!r}: {problem}")

    def _check_codes(self, codes: Any, where: str, length: int | None = None) -> np.ndarray:
        """``uint8`` (N, L) codes in 0..4, of ``length`` when given; one line naming the plugin otherwise."""
        if not isinstance(codes, np.ndarray) or codes.dtype != np.uint8:
            got = f"dtype {codes.dtype}" if isinstance(codes, np.ndarray) else type(codes).__name__
            raise self._error(f"{where} needs uint8 codes (N, L), got {got}")
        if codes.ndim != 2 or codes.shape[1] < 1:
            raise self._error(f"{where} needs uint8 codes (N, L), got shape {codes.shape}")
        if length is not None and codes.shape[1] != length:
            raise self._error(f"{where} got sequences of length {codes.shape[1]}; the model was trained on "
                              f"length {length}")
        if codes.size and int(codes.max()) > MAX_CODE:
            raise self._error(f"{where} got code {int(codes.max())}; codes must lie in 0..{MAX_CODE} (A C G T N)")
        return codes

    def _check_labels(self, labels: Any, n: int, where: str) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.dtype != bool and not np.issubdtype(labels.dtype, np.integer):
            raise self._error(f"{where} needs integer labels, got dtype {labels.dtype}")
        if labels.shape != (n,):
            raise self._error(f"{where} needs one label per sequence: {n} sequences, labels of shape {labels.shape}")
        labels = labels.astype(np.int64)
        if n and labels.min() < 0:
            raise self._error(f"{where} needs labels >= 0, got {int(labels.min())}")
        return labels


def n_outputs(classes: np.ndarray) -> int:
    """Columns of ``predict_proba``: one per label 0..max label, at least two."""
    return max(2, int(np.max(classes)) + 1)


def resolve_params(factory: Any, given: dict[str, Any], name: str | None = None, kind: str = "model") -> dict[str, Any]:
    """Merge ``given`` into ``factory``'s declared parameters; unknown keys and bad values raise.

    ``name`` (the registered plugin name) is used in the error; default: the class name.
    See :mod:`motifprobe.engine.params`.
    """
    name = name or getattr(factory, "__name__", str(factory))
    return resolve(declared_params(factory), given, f"{kind} plugin {name!r}")


def parse_param_pairs(pairs: list[str] | None) -> dict[str, str]:
    """Parse ``key=value`` strings from ``--param``."""
    return parse_pairs(pairs, "--param")


def as_probabilities(raw: Any, n: int, *, owner: str = "model", classes: np.ndarray | None = None) -> np.ndarray:
    """Check a model's output and normalise it to float32 (n, C), C >= 2; one line naming ``owner`` if wrong.

    ``raw`` is (n,) = P(class 1) or (n, C) probabilities: finite, in [0, 1], rows summing to 1
    within :data:`ROW_SUM_TOLERANCE`. With ``classes`` (the labels seen in training), C may be
    ``len(classes)`` (columns in the order of ``classes``, placed at their labels) or one per
    label 0..max label; the result has ``max(2, max label + 1)`` columns.
    """
    try:
        probs = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise MotifprobeError(f"{owner}: predict_proba returned {type(raw).__name__}, not an array of numbers") from None
    width = None if classes is None else n_outputs(classes)
    if probs.ndim == 2 and probs.shape[1] == 1:
        probs = probs[:, 0]
    if probs.ndim == 1 and width not in (None, 2):
        raise MotifprobeError(f"{owner}: predict_proba returned shape {np.shape(raw)} (P(class 1)) for a model "
                              f"of {width} classes; expected ({n}, {width})")
    want = f"({n},) or ({n}, {'C' if width is None else width})"
    if probs.ndim not in (1, 2) or probs.shape[0] != n:
        raise MotifprobeError(f"{owner}: predict_proba returned shape {np.shape(raw)} for {n} sequences; expected {want}")
    bad = ~np.isfinite(probs)
    if bad.any():
        raise MotifprobeError(f"{owner}: predict_proba returned NaN or infinite values ({int(bad.sum())} of "
                              f"{probs.size}); expected probabilities")
    if probs.size and (probs.min() < -1e-6 or probs.max() > 1 + 1e-6):
        raise MotifprobeError(f"{owner}: predict_proba returned values outside [0, 1] (min {probs.min():.4g}, "
                              f"max {probs.max():.4g}); expected probabilities")
    probs = np.clip(probs, 0.0, 1.0)
    if probs.ndim == 1:
        return np.stack([1.0 - probs, probs], axis=1).astype(np.float32)
    sums = probs.sum(axis=1)
    off = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if off.any():
        worst = sums[np.argmax(np.abs(sums - 1.0))]
        raise MotifprobeError(f"{owner}: predict_proba returned rows that do not sum to 1 ({int(off.sum())} of {n}; "
                              f"one sums to {worst:.6g})")
    if width is not None and probs.shape[1] != width:
        if probs.shape[1] != len(classes):
            raise MotifprobeError(f"{owner}: predict_proba returned {probs.shape[1]} columns; expected {len(classes)} "
                                  f"(one per class {np.asarray(classes).tolist()}) or {width} (one per label)")
        placed = np.zeros((n, width), dtype=np.float64)
        placed[:, np.asarray(classes, dtype=np.int64)] = probs
        probs = placed
    if probs.shape[1] < 2:
        raise MotifprobeError(f"{owner}: predict_proba returned shape {np.shape(raw)}; expected {want}")
    return probs.astype(np.float32)


class CallableModel:
    """Wrap a plain function so it can be interpreted like any model.

    Parameters
    ----------
    fn : callable
        ``fn(x) -> probabilities`` where ``x`` is codes (N, L) or one-hot (N, 4, L); the result
        is (N, n_classes) or (N,) = P(class 1).
    input : {'codes', 'onehot'}
    batch_size : int
        Sequences per call.
    """

    def __init__(self, fn: Callable[[np.ndarray], Any], input: str = "codes", batch_size: int = 256):
        if input not in ("codes", "onehot"):
            raise MotifprobeError(f"input must be 'codes' or 'onehot', got {input!r}")
        self.fn, self.input, self.batch_size = fn, input, batch_size

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        out = []
        for lo in range(0, len(codes), self.batch_size):
            chunk = codes[lo:lo + self.batch_size]
            x = one_hot(chunk) if self.input == "onehot" else chunk
            out.append(as_probabilities(self.fn(x), len(chunk)))
        return np.concatenate(out) if out else np.zeros((0, 2), np.float32)


_STREAM_POOLS: dict[int, Any] = {}


def spread_over_streams(run: Callable[[range], None], starts: range, streams: int,
                        context: Callable[[], ContextManager[Any]]) -> None:
    """Call ``run`` on the items of ``starts``, one item at a time, in ``streams`` pool threads at
    once, each inside its own ``context()``; a thread takes the next item as soon as it is free,
    so a stream slowed by other work does not leave the others waiting at the end. The first
    exception raised in any stream is raised here."""
    from concurrent.futures import ThreadPoolExecutor

    pool = _STREAM_POOLS.get(streams)
    if pool is None:  # kept for the process: starting threads per call would cost more than a chunk
        pool = _STREAM_POOLS[streams] = ThreadPoolExecutor(streams, thread_name_prefix="motifprobe-predict")
    taken = itertools.count()  # next() on it is atomic under the GIL: each item goes to exactly one stream
    failed = threading.Event()

    def part() -> None:
        with context():
            while not failed.is_set():
                i = next(taken)
                if i >= len(starts):
                    return
                try:
                    run(starts[i:i + 1])
                except BaseException:
                    failed.set()  # the other streams stop at their next item
                    raise

    for future in [pool.submit(part) for _ in range(streams)]:
        future.result()


def as_model(model: Any) -> Any:
    """Accept a model with ``predict_proba`` or a plain callable over codes."""
    if hasattr(model, "predict_proba"):
        return model
    if callable(model):
        return CallableModel(model)
    raise MotifprobeError(f"cannot interpret {type(model).__name__}: give an object with predict_proba or a callable")


# -- models trained elsewhere ----------------------------------------------------------------
DEVICES = ("auto", "cpu", "cuda")
LAYOUTS = ("N4L", "NL4", "codes")
"""Input layouts of an external model: one-hot channels-first (N, 4, L), channels-last (N, L, 4), codes (N, L)."""
OUTPUTS = ("prob", "logit", "regression")
OUTPUT_KINDS = {"prob": "prob", "logit": "logit", "regression": "value"}


def check_device(device: Any) -> str:
    """``device`` if it is one of :data:`DEVICES`; one line otherwise."""
    if device not in DEVICES:
        raise MotifprobeError(f"--device {device!r} is not allowed; allowed: {', '.join(DEVICES)}")
    return device


def torch_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without a GPU is one line."""
    import torch

    check_device(device)
    available = bool(torch.cuda.is_available())
    if device == "cuda" and not available:
        raise MotifprobeError("--device cuda: torch sees no CUDA device here (torch.cuda.is_available() is False); "
                              "use --device cpu or auto")
    return "cuda" if device == "cuda" or (device == "auto" and available) else "cpu"


def output_kind(model: Any) -> str:
    """A model's declared output kind (``prob`` when it declares none)."""
    kind = getattr(model, "output_kind", "prob")
    if kind not in ("prob", "logit", "value"):
        raise MotifprobeError(f"model declares output_kind {kind!r}; allowed: prob, logit, value")
    return kind


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


EXTERNAL_PARAMETERS = (
    Param("layout", str, "N4L", "model input: N4L = one-hot (N, 4, L), NL4 = one-hot (N, L, 4), codes = integers "
          "(N, L) with A=0 C=1 G=2 T=3 N=4; N is an all-zero one-hot row", choices=LAYOUTS),
    Param("length", int, None, "the one input length the model takes (datasets are centre-cropped or N-padded to "
          "it; unset: any length)", low=1),
    Param("target", str, None, "which output: INDEX or NAME of one output of a multi-output model, or INDEX of a "
          "column of an (N, T) output (unset: the only output; (N, C) probabilities or logits are classes)"),
    Param("output", str, "prob", "what the chosen output is: prob = P(class 1) or (N, C) probabilities, logit = "
          "sigmoid / softmax gives them, regression = a raw value (prediction mode only)", choices=OUTPUTS),
    Param("batch_size", int, 256, "sequences per forward call", low=1),
    Param("device", str, "auto", "auto = cuda when available, else cpu (torch-based and ONNX models)",
          choices=DEVICES),
)


class ExternalModel(SequenceModel):
    """Base of model plugins for models trained elsewhere (``torchscript``, ``onnx``, ``python``).

    Never trains: :meth:`fit` refuses. :meth:`open` reads the model; ``predict_proba`` (output
    ``prob`` or ``logit``) or ``predict_values`` (output ``regression``) feed it the declared
    layout ``batch_size`` sequences at a time, pick the ``target`` output and check it. A plugin
    implements ``_open(source)`` and ``_forward(x) -> array, tuple/list or dict of arrays``
    (names from :meth:`output_names` when it returns a tuple or list), and may override
    ``_convert(x)`` (numpy input -> what the model takes) and ``set_device``.
    """

    any_length = True
    parameters = EXTERNAL_PARAMETERS
    loading_note: ClassVar[str] = ""
    """Said when the model is loaded: what loading runs (e.g. 'runs no Python code')."""

    def __init__(self, **params: Any) -> None:
        if isinstance(params.get("target"), (int, np.integer)) and not isinstance(params["target"], bool):
            params["target"] = str(int(params["target"]))  # an index from the Python API
        super().__init__(**params)
        target = self.params["target"]
        self.params["target"] = None if target in (None, "") else str(target).strip()
        self.source_: str | None = None
        self.device_ = "cpu"

    # -- what a plugin implements -------------------------------------------------------------
    def _open(self, source: str) -> None:
        raise NotImplementedError

    def _forward(self, x: Any) -> Any:
        raise NotImplementedError

    def _convert(self, x: np.ndarray) -> Any:
        return x

    def output_names(self) -> list[str] | None:
        """Names of the model's outputs when it has several (ONNX names them), else None."""
        return None

    # -- the contract ------------------------------------------------------------------------------
    @property
    def output_kind(self) -> str:  # type: ignore[override]
        return OUTPUT_KINDS[self.params["output"]]

    @property
    def input_length(self) -> int | None:
        return self.params["length"]

    @property
    def predict_chunk(self) -> int:  # type: ignore[override]
        return int(self.params["batch_size"])

    def open(self, source: str | Path) -> "ExternalModel":
        """Load the model from ``source`` (a file, or ``module:name`` for ``python``) and return ``self``.

        Anything the loader raises becomes one ``MotifprobeError`` line naming the source.
        """
        source = str(source)
        try:
            self._open(source)
        except MotifprobeError:
            raise
        except Exception as exc:  # noqa: BLE001 - the loaders raise many types: one line
            raise MotifprobeError(f"cannot load {self.plugin_name()} model {source!r}: "
                                  f"{type(exc).__name__}: {first_line(exc)}") from None
        self.source_ = source
        self.set_device(self.params["device"])
        return self

    def describe(self) -> str:
        """One line for the output: what was loaded, how it is read, on which device."""
        p = self.params
        length = f"length {p['length']}" if p["length"] else "any length"
        target = f", target {p['target']}" if p["target"] is not None else ""
        return (f"{self.plugin_name()} model {self.source_!r}: layout {p['layout']}, {length}{target}, output "
                f"{p['output']}, device {self.device_}")

    def fit(self, *args: Any, **kwargs: Any) -> "SequenceModel":
        raise self._error("a model trained elsewhere is not trained by motifprobe; interpret or compare it with "
                          "--model-file")

    def is_fitted(self) -> bool:
        return self.source_ is not None

    def save(self, directory: str | Path) -> None:
        raise self._error("a model loaded from a file is not saved by motifprobe; keep the original file")

    @classmethod
    def load(cls, directory: str | Path) -> "SequenceModel":
        raise MotifprobeError(f"model plugin {cls.plugin_name()!r} reads a model file: give it with --model-file")

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        """Probabilities float32 (N, C) from a ``prob`` or ``logit`` output (sigmoid or softmax of logits)."""
        if self.params["output"] == "regression":
            raise self._error("output=regression gives values, not probabilities: use --mode prediction")
        return self._run(codes).astype(np.float32)

    def predict_values(self, codes: np.ndarray) -> np.ndarray:
        """The chosen output as float64 (N,) (any output kind; for ``prob`` and ``logit``, as the model gives it)."""
        return self._run(codes, values=True)

    # -- the machinery ------------------------------------------------------------------------------
    def _run(self, codes: np.ndarray, values: bool = False) -> np.ndarray:
        if not self.is_fitted():
            raise self._error("no model loaded: call open first")
        codes = self._check_codes(codes, "predict", None)
        length = self.params["length"]
        if length is not None and codes.shape[1] != length:
            raise self._error(f"the model takes sequences of length {length} (length={length}); got length "
                              f"{codes.shape[1]}")
        step, parts = self.predict_chunk, []
        for lo in range(0, len(codes), step):
            chunk = codes[lo:lo + step]
            parts.append(self._chosen(self._call(chunk), len(chunk), values))
        if parts:
            return np.concatenate(parts)
        return np.zeros((0,) if values else (0, 2))

    def _call(self, chunk: np.ndarray) -> Any:
        layout = self.params["layout"]
        if layout == "codes":
            x = chunk
        else:
            x = one_hot(chunk, channels_first=layout == "N4L")
        try:
            return self._forward(self._convert(x))
        except MotifprobeError:
            raise
        except Exception as exc:  # noqa: BLE001 - the boundary: name the layout the model was given
            raise self._error(f"the model failed on input layout {layout} of shape {tuple(x.shape)} "
                              f"({x.dtype}): {type(exc).__name__}: {first_line(exc)}; check layout= "
                              f"({', '.join(LAYOUTS)}) and length=") from None

    def _outputs(self, raw: Any) -> list[tuple[str, Any]]:
        if isinstance(raw, dict):
            return [(str(k), v) for k, v in raw.items()]
        if isinstance(raw, (list, tuple)):
            names = self.output_names() or []
            return [(names[i] if i < len(names) else str(i), v) for i, v in enumerate(raw)]
        return [((self.output_names() or ["0"])[0], raw)]

    def _chosen(self, raw: Any, n: int, values: bool) -> np.ndarray:
        """The target output of one batch, checked against --output; probabilities or values."""
        p = self.params
        target, kind = p["target"], p["output"]
        outputs = self._outputs(raw)
        names = [name for name, _ in outputs]
        used = False
        if len(outputs) > 1:
            if target is None:
                raise self._error(f"the model has {len(outputs)} outputs ({', '.join(names)}); choose one with "
                                  "--target INDEX|NAME")
            if target in names:
                arr = outputs[names.index(target)][1]
            elif target.isdigit() and int(target) < len(outputs):
                arr = outputs[int(target)][1]
            else:
                raise self._error(f"--target {target} is not one of the model's {len(outputs)} outputs; allowed: "
                                  f"0..{len(outputs) - 1} or {', '.join(names)}")
            used = True
        else:
            arr = outputs[0][1]
            used = target is not None and target == names[0] and not target.isdigit()
        try:
            arr = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError):
            raise self._error(f"the model returned {type(arr).__name__}, not an array of numbers") from None
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim not in (1, 2) or arr.shape[0] != n:
            raise self._error(f"the model returned shape {arr.shape} for {n} sequences; expected ({n},) or ({n}, T)")
        if target is not None and not used:
            width = arr.shape[1] if arr.ndim == 2 else 1
            if not target.lstrip("-").isdigit():
                raise self._error(f"--target {target} names no output: the model has one unnamed output of "
                                  f"{width} column(s); give a column INDEX 0..{width - 1}")
            index = int(target)
            if not 0 <= index < width:
                raise self._error(f"--target {index} is out of range: the model's output has {width} column(s) "
                                  f"(0..{width - 1})")
            if arr.ndim == 2:
                arr = arr[:, index]
        bad = ~np.isfinite(arr)
        if bad.any():
            raise self._error(f"the model returned NaN or infinite values ({int(bad.sum())} of {arr.size})")
        if kind == "regression" or values:
            if arr.ndim == 2:
                raise self._error(f"the model's output has {arr.shape[1]} columns; a regression output must be one: "
                                  "choose it with --target INDEX")
            return arr
        if kind == "logit":
            if arr.ndim == 1:  # [sigmoid(-z), sigmoid(z)]: each class's share computed directly, no 1 - p
                return np.stack([np.exp(-np.logaddexp(0.0, arr)), np.exp(-np.logaddexp(0.0, -arr))], axis=1)
            return _softmax(arr)
        if arr.size and (arr.min() < -1e-6 or arr.max() > 1 + 1e-6):
            raise self._error(f"--output prob, but the output holds values outside [0, 1] (min {arr.min():.4g}, "
                              f"max {arr.max():.4g}): is it a logit (--output logit) or a regression "
                              "(--output regression)?")
        if arr.ndim == 2:
            sums = arr.sum(axis=1)
            if np.any(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE):
                raise self._error(f"--output prob, but the output's {arr.shape[1]} columns do not sum to 1 (one row "
                                  f"sums to {sums[np.argmax(np.abs(sums - 1))]:.6g}): pick one column with --target "
                                  "INDEX, or --output logit")
            return np.clip(arr, 0.0, 1.0)
        arr = np.clip(arr, 0.0, 1.0)
        return np.stack([1.0 - arr, arr], axis=1)
