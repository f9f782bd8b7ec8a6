"""The model contract: codes in, class probabilities out.

A model wrapper owns its featurization (one-hot, k-mers). Interpretation never looks inside a
model: anything with ``predict_proba(codes)`` works, and :class:`CallableModel` turns a plain
function into one.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.params import Param, declared_params, parse_pairs, resolve
from motifprobe.engine.sequences import one_hot

Progress = Callable[..., None]


class SequenceModel:
    """Base class for model plugins (subclassing is optional; the methods are the contract).

    ``__init__`` only stores parameters (declared in ``parameters``, a tuple of
    :class:`motifprobe.Param`; the values land in ``self.params``); ``fit`` does the work.

    Standard parameter names a plugin may declare, so the ``train`` flags reach it:
    ``epochs``, ``lr``, ``dropout``, ``early_stop``, ``monitor``, ``balance``.
    """

    parameters: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, **params: Any) -> None:
        self.params = resolve_params(type(self), params, getattr(type(self), "name", None))

    def fit(self, codes: np.ndarray, labels: np.ndarray, *, val: tuple[np.ndarray, np.ndarray] | None = None,
            seed: int | None = None, progress: Progress | None = None) -> "SequenceModel":
        """Train on ``uint8`` codes (N, L) and integer labels (N,); return ``self``.

        ``val`` = (codes, labels) for early stopping; ``progress(epoch=, total=, **metrics)``
        may be called once per epoch or round.
        """
        raise NotImplementedError

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        """Class probabilities, ``float32`` (N, n_classes), rows summing to 1, in bounded memory."""
        raise NotImplementedError

    def save(self, directory: str | Path) -> None:
        """Write the model into ``directory`` (exists, empty) in a safe, non-pickle format."""
        raise NotImplementedError

    @classmethod
    def load(cls, directory: str | Path) -> "SequenceModel":
        """Read a model written by :meth:`save`; a damaged file raises MotifprobeError."""
        raise NotImplementedError


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


def as_probabilities(raw: Any, n: int) -> np.ndarray:
    """Normalise a model's output to float32 (N, n_classes); a 1-D output is P(class 1)."""
    probs = np.asarray(raw, dtype=np.float64)
    if probs.ndim == 1 or (probs.ndim == 2 and probs.shape[1] == 1):
        p1 = probs.reshape(-1)
        probs = np.stack([1.0 - p1, p1], axis=1)
    if probs.ndim != 2 or probs.shape[0] != n:
        raise MotifprobeError(f"model returned shape {np.shape(raw)}, expected ({n}, n_classes)")
    if not np.all(np.isfinite(probs)) or probs.min() < -1e-6 or probs.max() > 1 + 1e-6:
        raise MotifprobeError("model returned values outside [0, 1]; predict_proba must return probabilities")
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


def as_model(model: Any) -> Any:
    """Accept a model with ``predict_proba`` or a plain callable over codes."""
    if hasattr(model, "predict_proba"):
        return model
    if callable(model):
        return CallableModel(model)
    raise MotifprobeError(f"cannot interpret {type(model).__name__}: give an object with predict_proba or a callable")


def expand_proba(proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Place an estimator's probability columns at their class labels: float32 (N, max(2, C))."""
    classes = np.asarray(classes, dtype=np.int64)
    out = np.zeros((len(proba), max(2, int(classes.max()) + 1)), dtype=np.float64)
    out[:, classes] = proba
    return out.astype(np.float32)
