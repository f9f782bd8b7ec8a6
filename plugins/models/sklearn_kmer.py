"""The ``sklearn`` model: scikit-learn classifiers on k-mer count features.

Features are built chunk by chunk (:func:`kmer_features`), so prediction memory is bounded
whatever the number of sequences. Models are saved with skops (no pickle) and loaded only
when every type in the file is a scikit-learn or numpy type. scikit-learn and skops are
imported inside functions, so importing this module stays cheap.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from motifprobe import hookimpl
from motifprobe.engine.errors import MotifprobeError, unknown
from motifprobe.engine.kmers import check_k, chunk_rows, kmer_features
from motifprobe.engine.model_files import first_line, read_model_config, write_model_config
from motifprobe.engine.models import SequenceModel, expand_proba

ESTIMATORS = ("logistic_regression", "random_forest", "gradient_boosting", "naive_bayes")
MODEL_FILE = "model.skops"
CHUNK = 20_000
CHUNK_ELEMENTS = 2**24
"""At most this many feature values (64 MB of float32) are built per chunk."""
MAX_K = 8
TRUSTED_PREFIXES = ("sklearn.", "numpy.")


class SklearnKmer(SequenceModel):
    """A scikit-learn classifier on k-mer counts (relative frequencies for logistic regression).

    Parameters
    ----------
    **params
        Keys of :attr:`param_defaults`; ``estimator`` is one of ``ESTIMATORS``.

    Attributes
    ----------
    estimator_ : sklearn estimator
        The fitted classifier.
    classes_ : numpy.ndarray
        Class labels seen in training.
    seq_length_ : int
        Sequence length seen in training.
    """

    param_defaults = {"estimator": "logistic_regression", "k": 4, "C": 1.0, "max_iter": 1000, "balance": False,
                      "n_estimators": 200}
    param_help = {
        "estimator": "logistic_regression, random_forest, gradient_boosting or naive_bayes",
        "k": "k-mer size (features: counts of all 4**k k-mers)",
        "C": "inverse L2 regularization strength (logistic_regression, on k-mer frequency x 4**k)",
        "max_iter": "maximum solver iterations (logistic_regression)",
        "balance": "weight classes inversely to their frequency",
        "n_estimators": "number of trees (random_forest)",
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.params["estimator"] not in ESTIMATORS:
            raise unknown("sklearn estimator", str(self.params["estimator"]), ESTIMATORS)
        check_k(self.params["k"])

    def _features(self, codes: np.ndarray) -> np.ndarray:
        name = self.params["estimator"]
        return kmer_features(codes, int(self.params["k"]), frequencies=name == "logistic_regression")

    def _make_estimator(self, seed: int | None):
        p, balanced = self.params, "balanced" if self.params["balance"] else None
        name = p["estimator"]
        if name == "logistic_regression":
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(C=float(p["C"]), max_iter=int(p["max_iter"]), class_weight=balanced)
        if name == "random_forest":
            from sklearn.ensemble import RandomForestClassifier

            return RandomForestClassifier(n_estimators=int(p["n_estimators"]), random_state=seed, n_jobs=1,
                                          class_weight=balanced)
        if name == "gradient_boosting":
            from sklearn.ensemble import HistGradientBoostingClassifier

            return HistGradientBoostingClassifier(random_state=seed, class_weight=balanced)
        from sklearn.naive_bayes import MultinomialNB

        return MultinomialNB()

    def fit(self, codes: np.ndarray, labels: np.ndarray, *, val: tuple[np.ndarray, np.ndarray] | None = None,
            seed: int | None = None, progress=None) -> "SklearnKmer":
        """Fit the estimator on k-mer features of ``codes``; ``val`` is not used. Returns ``self``."""
        codes, labels = np.asarray(codes, dtype=np.uint8), np.asarray(labels, dtype=np.int64)
        if codes.ndim != 2 or len(codes) != len(labels) or len(codes) == 0:
            raise MotifprobeError(f"fit needs codes (N, L) and N labels, got {codes.shape} and {labels.shape}")
        check_k(self.params["k"], codes.shape[1])
        x = self._features(codes)
        estimator = self._make_estimator(seed)
        if self.params["balance"] and self.params["estimator"] == "naive_bayes":
            from sklearn.utils.class_weight import compute_sample_weight

            estimator.fit(x, labels, sample_weight=compute_sample_weight("balanced", labels))
        else:
            estimator.fit(x, labels)
        self.estimator_, self.classes_, self.seq_length_ = estimator, np.asarray(estimator.classes_), codes.shape[1]
        if progress is not None:
            progress(epoch=1, total=1)
        return self

    def predict_proba(self, codes: np.ndarray) -> np.ndarray:
        """Class probabilities, ``float32`` (N, 2), featurized and predicted chunk by chunk."""
        if not hasattr(self, "estimator_"):
            raise MotifprobeError("this sklearn model is not trained yet: call fit or load first")
        codes = np.asarray(codes, dtype=np.uint8)
        width = max(2, int(self.classes_.max()) + 1)
        if len(codes) == 0:
            return np.zeros((0, width), dtype=np.float32)
        if codes.ndim != 2:
            raise MotifprobeError(f"codes must be 2-D (N, L), got shape {codes.shape}")
        out = np.empty((len(codes), width), dtype=np.float32)
        step = chunk_rows(int(self.params["k"]))
        for lo in range(0, len(codes), step):
            proba = self.estimator_.predict_proba(self._features(codes[lo:lo + step]))
            out[lo:lo + step] = expand_proba(proba, self.classes_)
        return out

    def save(self, directory: str | Path) -> None:
        """Write ``model.skops`` (the estimator, via skops) and ``config.json`` to ``directory``."""
        import skops.io as sio

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        sio.dump(self.estimator_, directory / MODEL_FILE)
        write_model_config(directory, MODEL_FILE, {"params": self.params, "seq_length": int(self.seq_length_),
                                                   "classes": self.classes_.tolist()})

    @classmethod
    def load(cls, directory: str | Path) -> "SklearnKmer":
        """Read a model written by :meth:`save`, trusting only scikit-learn and numpy types."""
        import skops.io as sio

        config, model, model_path = read_model_config(directory, MODEL_FILE, "sklearn model", cls)
        seq_length = config["seq_length"]
        try:
            untrusted = sio.get_untrusted_types(file=model_path)
        except Exception as exc:
            raise MotifprobeError(f"cannot read sklearn model {str(model_path)!r}: {first_line(exc)}") from None
        foreign = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if foreign:
            raise MotifprobeError(f"refusing to load {str(model_path)!r}: it contains types outside scikit-learn "
                                  f"and numpy ({', '.join(foreign[:5])})")
        try:
            estimator = sio.load(model_path, trusted=untrusted)
            classes = np.asarray(estimator.classes_, dtype=np.int64)
        except Exception as exc:
            raise MotifprobeError(f"cannot read sklearn model {str(model_path)!r}: {first_line(exc)}") from None
        model.estimator_, model.classes_, model.seq_length_ = estimator, classes, seq_length
        return model


@hookimpl
def register_models(register):
    register("sklearn", SklearnKmer, aliases=("sklearn-kmer",))
