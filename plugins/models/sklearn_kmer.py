"""The ``kmer-logreg`` model (alias ``sklearn``): logistic regression on k-mer frequencies, or
another scikit-learn classifier on k-mer counts (``estimator=``).

scikit-learn fits the estimator; the fitted model is then kept, saved and used as plain arrays
(coefficients, intercepts, log-probabilities, tree node arrays), written with safetensors next
to a JSON ``config.json``. Loading reads those arrays back, checks every dtype, shape, index
and value, and predicts with numpy: no object is ever rebuilt from a file, so a hostile model
directory can give at most a one-line error, never run code (skops and pickle are not used).
Predictions of a loaded model are bit-for-bit those of the model that was saved.

Features are built chunk by chunk (:func:`kmer_features`), so prediction memory is bounded
whatever the number of sequences. scikit-learn is imported inside ``fit`` only, so importing
this module (and loading a model) stays cheap.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from motifprobe import Param, hookimpl
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.kmers import check_k, chunk_rows, kmer_features
from motifprobe.engine.models import SequenceModel

MODEL = "kmer-logreg"
# The name saved models carry in config.json (``plugin``): runs saved before the model was named
# kmer-logreg keep loading, and the old name stays an alias.
PLUGIN = "sklearn"
ESTIMATORS = ("logistic_regression", "random_forest", "gradient_boosting", "naive_bayes")
MODEL_FILE = "model.safetensors"
TREE_ROWS = 1024
"""Sequences walked down all trees at once (bounds the (rows, trees) index arrays)."""
MAX_K = 8
TREE_KEYS = ("tree_offsets", "left", "right", "feature", "threshold", "value")
ARRAY_KEYS = {
    "logistic_regression": ("coef", "intercept"),
    "naive_bayes": ("feature_log_prob", "class_log_prior"),
    "random_forest": TREE_KEYS,
    "gradient_boosting": TREE_KEYS + ("baseline",),
}
INDEX_KEYS = ("tree_offsets", "left", "right", "feature")


@contextlib.contextmanager
def _thread_limit(n: int) -> Iterator[None]:
    """Limit BLAS and OpenMP threads to ``n`` inside the block (0 = leave the libraries' setting)."""
    if not n:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(n)):
        yield


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _expit(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


# -- fitted estimator -> arrays ----------------------------------------------------------------
def _pack_trees(trees: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-tree node arrays; child indices stay local to their tree, leaves have -1."""
    sizes = [len(t["left"]) for t in trees]
    out = {"tree_offsets": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)}
    for key in ("left", "right", "feature"):
        out[key] = np.concatenate([t[key] for t in trees]).astype(np.int64)
    out["threshold"] = np.concatenate([t["threshold"] for t in trees]).astype(np.float64)
    out["value"] = np.concatenate([t["value"] for t in trees]).astype(np.float64)
    return out


def _forest_arrays(estimator) -> dict[str, np.ndarray]:
    trees = []
    for tree in estimator.estimators_:
        t = tree.tree_
        leaf = t.children_left < 0
        value = np.array(t.value[:, 0, :], dtype=np.float64)
        sums = value.sum(axis=1, keepdims=True)
        if not np.allclose(sums, 1.0):  # scikit-learn < 1.4 stores counts, normalized in predict_proba
            sums[sums == 0] = 1.0
            value = value / sums
        trees.append({"left": np.where(leaf, -1, t.children_left), "right": np.where(leaf, -1, t.children_right),
                      "feature": np.where(leaf, 0, t.feature), "threshold": np.where(leaf, 0.0, t.threshold),
                      "value": value})
    return _pack_trees(trees)


def _hist_gb_arrays(estimator) -> dict[str, np.ndarray]:
    trees = []
    for iteration in estimator._predictors:
        for predictor in iteration:
            nodes = predictor.nodes
            if np.any(nodes["is_categorical"]):
                raise MotifprobeError("sklearn: categorical splits cannot be saved")
            leaf = nodes["is_leaf"].astype(bool)
            trees.append({"left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
                          "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
                          "feature": np.where(leaf, 0, nodes["feature_idx"]),
                          "threshold": np.where(leaf, 0.0, nodes["num_threshold"]),
                          "value": nodes["value"].astype(np.float64)})
    arrays = _pack_trees(trees)
    arrays["baseline"] = np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(-1)
    return arrays


def _estimator_arrays(name: str, estimator) -> dict[str, np.ndarray]:
    if name == "logistic_regression":
        # float32 when fitted on float32 features: kept as is, so predictions match scikit-learn's.
        dtype = np.float32 if estimator.coef_.dtype == np.float32 else np.float64
        return {"coef": np.array(estimator.coef_, dtype=dtype), "intercept": np.array(estimator.intercept_, dtype=dtype)}
    if name == "naive_bayes":
        return {"feature_log_prob": np.array(estimator.feature_log_prob_, dtype=np.float64),
                "class_log_prior": np.array(estimator.class_log_prior_, dtype=np.float64)}
    if name == "random_forest":
        return _forest_arrays(estimator)
    return _hist_gb_arrays(estimator)


# -- array checks (everything read from a file goes through here) -------------------------------
def _check_trees(arrays: dict[str, np.ndarray], n_features: int) -> dict[str, Any]:
    """Check packed trees; return their maximum depth and global child indices."""
    offsets = arrays["tree_offsets"]
    n = len(arrays["left"])
    if n >= 2**31:
        raise ValueError(f"{n} tree nodes are too many")
    if offsets.ndim != 1 or len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != n or np.any(np.diff(offsets) < 1):
        raise ValueError("tree_offsets do not partition the nodes")
    for key in ("right", "feature", "threshold"):
        if arrays[key].shape != (n,):
            raise ValueError(f"{key} has shape {arrays[key].shape}, expected ({n},)")
    if arrays["value"].shape[0] != n:
        raise ValueError(f"value has {arrays['value'].shape[0]} rows, expected {n}")
    left, right, feature = arrays["left"], arrays["right"], arrays["feature"]
    tree_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    local = np.arange(n) - offsets[tree_of]
    size = offsets[tree_of + 1] - offsets[tree_of]
    leaf = left < 0
    if np.any(leaf != (right < 0)) or np.any(left[leaf] != -1) or np.any(right[leaf] != -1):
        raise ValueError("a node has one child")
    inner = ~leaf
    for child in (left, right):
        if np.any(child[inner] <= local[inner]) or np.any(child[inner] >= size[inner]):
            raise ValueError("a child index points outside its tree or backwards")
    if np.any(feature[inner] < 0) or np.any(feature[inner] >= n_features) or np.any(feature[leaf] != 0):
        raise ValueError(f"a feature index lies outside 0..{n_features - 1}")
    if np.any(np.isnan(arrays["threshold"])):
        raise ValueError("a threshold is NaN")
    # Children come after their parent, so walking down a tree ends at a leaf within ``depth``
    # steps whatever the file says. Global child indices; a leaf points at itself.
    gleft = np.where(leaf, np.arange(n), offsets[tree_of] + left)
    gright = np.where(leaf, np.arange(n), offsets[tree_of] + right)
    depth, frontier = 0, offsets[:-1]
    while True:
        frontier = frontier[~leaf[frontier]]
        if not len(frontier):
            break
        frontier, depth = np.unique(np.concatenate([gleft[frontier], gright[frontier]])), depth + 1
    child = np.empty(2 * n, dtype=np.int32)  # child[2 * node + went_left]
    child[0::2], child[1::2] = gright, gleft
    return {"depth": depth, "child": child, "is_leaf": leaf, "feature32": feature.astype(np.int32)}


def _check_arrays(name: str, arrays: dict[str, np.ndarray], n_features: int, n_classes: int) -> dict[str, Any]:
    """Validate arrays for estimator ``name``; raise ValueError naming the problem.

    Returns the derived facts prediction needs (tree depth, global child indices, trees per iteration).
    """
    expected = ARRAY_KEYS[name]
    if set(arrays) != set(expected):
        raise ValueError(f"expected arrays {', '.join(sorted(expected))}, found {', '.join(sorted(arrays)) or 'none'}")
    for key, arr in arrays.items():
        ndim = 2 if key in ("coef", "feature_log_prob") or (key == "value" and name == "random_forest") else 1
        if arr.ndim != ndim:
            raise ValueError(f"{key} has {arr.ndim} dimensions, expected {ndim}")
        want = ("int64",) if key in INDEX_KEYS else ("float32", "float64") if key in ("coef", "intercept") else ("float64",)
        if arr.dtype.name not in want:
            raise ValueError(f"{key} has dtype {arr.dtype}, expected {' or '.join(want)}")
        if key not in INDEX_KEYS and key != "threshold" and not np.all(np.isfinite(arr)):
            raise ValueError(f"{key} holds non-finite values")
    facts: dict[str, Any] = {}
    if name == "logistic_regression":
        rows = 1 if n_classes == 2 else n_classes
        if arrays["coef"].dtype != arrays["intercept"].dtype:
            raise ValueError("coef and intercept differ in dtype")
        if arrays["coef"].shape != (rows, n_features) or arrays["intercept"].shape != (rows,):
            raise ValueError(f"coef {arrays['coef'].shape} / intercept {arrays['intercept'].shape} do not fit "
                             f"{n_classes} classes and {n_features} features (4**k)")
    elif name == "naive_bayes":
        if arrays["feature_log_prob"].shape != (n_classes, n_features) or arrays["class_log_prior"].shape != (n_classes,):
            raise ValueError(f"feature_log_prob {arrays['feature_log_prob'].shape} does not fit {n_classes} classes "
                             f"and {n_features} features (4**k)")
    elif name == "random_forest":
        if arrays["value"].shape[1] != n_classes:
            raise ValueError(f"value has shape {arrays['value'].shape}, expected (nodes, {n_classes})")
        if np.any(arrays["value"] < 0) or np.any(arrays["value"] > 1):
            raise ValueError("value holds class fractions outside [0, 1]")
        facts.update(_check_trees(arrays, n_features))
    else:
        per_iteration = 1 if n_classes == 2 else n_classes
        if arrays["baseline"].shape != (per_iteration,):
            raise ValueError(f"value {arrays['value'].shape} / baseline {arrays['baseline'].shape} do not fit "
                             f"{n_classes} classes")
        facts.update(_check_trees(arrays, n_features))
        if (len(arrays["tree_offsets"]) - 1) % per_iteration:
            raise ValueError(f"the number of trees is not a multiple of {per_iteration}")
        facts["per_iteration"] = per_iteration
    return facts


# -- prediction from arrays --------------------------------------------------------------------
def _leaves(arrays: dict[str, np.ndarray], facts: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Global leaf index (rows, trees) reached by each row of ``x`` in each tree.

    Walks all (row, tree) pairs down together, dropping pairs as they reach a leaf.
    """
    child, feature, threshold, is_leaf = facts["child"], facts["feature32"], arrays["threshold"], facts["is_leaf"]
    roots = arrays["tree_offsets"][:-1].astype(np.int32)
    n_rows, n_trees = len(x), len(roots)
    out = np.tile(roots, n_rows)
    flat_x = np.ascontiguousarray(x).ravel()
    pos = np.flatnonzero(~is_leaf[out])
    node, base = out[pos], (pos // n_trees).astype(np.int64) * x.shape[1]
    for _ in range(facts["depth"]):
        if not len(pos):
            break
        go_left = flat_x[base + feature[node]] <= threshold[node]
        node = child[2 * node + go_left]
        done = is_leaf[node]
        if done.any():
            out[pos[done]] = node[done]
            keep = ~done
            pos, node, base = pos[keep], node[keep], base[keep]
    return out.reshape(n_rows, n_trees)


def _predict_arrays(name: str, arrays: dict[str, np.ndarray], facts: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Class probabilities (rows, n_classes), computed as scikit-learn's ``predict_proba`` does."""
    if name == "logistic_regression":
        scores = x @ arrays["coef"].T + arrays["intercept"]
        if scores.shape[1] == 1:
            p = _expit(scores[:, 0])
            return np.stack([1 - p, p], axis=1)
        return _softmax(scores)
    if name == "naive_bayes":
        return _softmax(x @ arrays["feature_log_prob"].T + arrays["class_log_prior"])
    out = []
    for lo in range(0, len(x), TREE_ROWS):
        node = _leaves(arrays, facts, x[lo:lo + TREE_ROWS])
        value = arrays["value"]
        if name == "random_forest":  # sum tree by tree in order, then average, as the forest does
            total = np.zeros((len(node), value.shape[1]), dtype=np.float64)
            for t in range(node.shape[1]):
                total += value[node[:, t]]
            out.append(total / node.shape[1])
            continue
        k = facts["per_iteration"]
        raw = np.zeros((len(node), k), dtype=np.float64) + arrays["baseline"]
        for t in range(node.shape[1]):
            raw[:, t % k] += value[node[:, t]]
        if k == 1:
            p = _expit(raw[:, 0])
            out.append(np.stack([1 - p, p], axis=1))
        else:
            out.append(_softmax(raw))
    return np.concatenate(out) if out else np.zeros((0, 2))


class SklearnKmer(SequenceModel):
    """Logistic regression on k-mer frequencies (or another scikit-learn classifier on k-mer counts).

    Parameters
    ----------
    **params
        Declared in :attr:`parameters` (``motifprobe plugins kmer-logreg`` lists them).

    Attributes
    ----------
    arrays_ : dict of numpy.ndarray
        The fitted classifier as arrays (what is saved, and what predicts).
    classes_ : numpy.ndarray
        Class labels seen in training.
    seq_length_ : int
        Sequence length seen in training.
    threads_ : int or None
        BLAS/OpenMP threads used by ``fit`` (None: the libraries' default).
    """

    name = PLUGIN
    any_length = True  # k-mer counts exist at every length (at least k)
    parameters = (
        Param("estimator", str, "logistic_regression", "the scikit-learn classifier", choices=ESTIMATORS),
        Param("k", int, 4, "k-mer size (features: counts of all 4**k k-mers)", low=1, high=MAX_K),
        Param("C", float, 1.0, "inverse L2 regularization strength (logistic_regression, on k-mer frequency x 4**k)",
              low=0.0, low_open=True),
        Param("max_iter", int, 1000, "maximum solver iterations (logistic_regression)", low=1),
        Param("balance", bool, False, "weight classes inversely to their frequency"),
        Param("n_estimators", int, 200, "number of trees (random_forest)", low=1),
        Param("num_threads", int, 1, "BLAS/OpenMP threads during fit (0 = the libraries' default, which depends on "
              "the machine)", low=0),
    )

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

    @property
    def predict_chunk(self) -> int:
        return chunk_rows(int(self.params["k"]))

    def _fit(self, codes, labels, val, seed, progress) -> None:
        """Fit the estimator on k-mer features of ``codes``; ``val`` is not used."""
        check_k(self.params["k"], codes.shape[1])
        x = self._features(codes)
        estimator = self._make_estimator(seed)
        threads = int(self.params["num_threads"])
        with _thread_limit(threads):
            if self.params["balance"] and self.params["estimator"] == "naive_bayes":
                from sklearn.utils.class_weight import compute_sample_weight

                estimator.fit(x, labels, sample_weight=compute_sample_weight("balanced", labels))
            else:
                estimator.fit(x, labels)
        self._set(_estimator_arrays(self.params["estimator"], estimator))
        self.threads_ = threads or None
        if progress is not None:
            progress(epoch=1, total=1)

    def _set(self, arrays: dict[str, np.ndarray]) -> None:
        self._facts = _check_arrays(self.params["estimator"], arrays, 4 ** int(self.params["k"]), len(self.classes_))
        self.arrays_ = arrays

    def _predict_proba(self, codes: np.ndarray) -> np.ndarray:
        return _predict_arrays(self.params["estimator"], self.arrays_, self._facts, self._features(codes))

    def _save_weights(self, directory: Path) -> list[str]:
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v) for k, v in self.arrays_.items()}, str(directory / MODEL_FILE))
        return [MODEL_FILE]

    def _load_weights(self, directory: Path, config: dict[str, Any]) -> None:
        """Arrays only, every one checked before use."""
        from safetensors.numpy import load_file

        check_k(self.params["k"], self.seq_length_)
        arrays = load_file(str(directory / MODEL_FILE))
        try:
            self._set(arrays)
        except (ValueError, TypeError, IndexError) as exc:
            raise ValueError(f"{exc} (estimator {self.params['estimator']}, k={self.params['k']})") from None


@hookimpl
def register_models(register):
    register(MODEL, SklearnKmer, aliases=(PLUGIN, "sklearn-kmer"))
