"""Conformance checks for plugin authors: call one from your own tests.

>>> from motifprobe.engine.testing import check_model
>>> check_model(MyModel)            # raises AssertionError naming what is wrong

Each check builds small seeded data, exercises the contract (shapes, dtypes, determinism,
save/load round trip, batching invariance, clear errors) and returns a dict of what it saw.
"""
from __future__ import annotations

import copy
import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from motifprobe.engine.dataset import Dataset, read_dataset, write_dataset
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.generation import GenerationSpec, compute_labels
from motifprobe.engine.models import SequenceModel
from motifprobe.engine.perturbation import Scorer, TestBatch

DEFAULT_MOTIFS = ("STAT_known2", "CTCF_known1")


def _toy_data(n: int = 600, length: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random codes; label 1 iff the 8-mer TGACGTCA was inserted (half the rows)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length)).astype(np.uint8)
    labels = (np.arange(n) % 2).astype(np.int64)
    motif = np.array([3, 2, 0, 1, 2, 3, 1, 0], dtype=np.uint8)
    pos = rng.integers(0, length - len(motif), size=n)
    rows = np.flatnonzero(labels == 1)
    codes[rows[:, None], pos[rows, None] + np.arange(len(motif))] = motif
    return codes, labels


def check_model(factory: Any, *, params: dict | None = None, seed: int = 0, min_accuracy: float | None = 0.75,
                n: int = 600, length: int = 80) -> dict:
    """Check a model plugin's factory against the model contract.

    Checks: ``fit`` returns self; ``predict_proba`` gives float32 (N, C) probabilities summing
    to 1; same seed, same predictions; batching invariance; save -> load round trip;
    unknown parameters and a damaged model directory raise MotifprobeError; optionally a
    minimum accuracy on an easy toy task. For a :class:`motifprobe.SequenceModel`, also that
    the base's checks are in force: the plugin's output goes through them (NaN or a wrong
    shape from ``_predict_proba`` is refused with one line naming the plugin), and so does its
    input (codes of the wrong dtype).
    """
    params = dict(params or {})
    codes, labels = _toy_data(n, length, seed)
    split = int(0.8 * n)
    train, test = slice(0, split), slice(split, n)
    model = factory(**params)
    fitted = model.fit(codes[train], labels[train], val=(codes[test], labels[test]), seed=seed)
    assert fitted is model, "fit must return self"
    probs = model.predict_proba(codes[test])
    assert isinstance(probs, np.ndarray) and probs.dtype == np.float32, f"predict_proba must return float32, got {getattr(probs, 'dtype', type(probs))}"
    assert probs.ndim == 2 and probs.shape[0] == n - split and probs.shape[1] >= 2, f"bad shape {probs.shape}"
    assert np.all(probs >= 0) and np.all(probs <= 1), "probabilities outside [0, 1]"
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-4), "rows must sum to 1"
    halves = np.concatenate([model.predict_proba(codes[test][: (n - split) // 2]),
                             model.predict_proba(codes[test][(n - split) // 2:])])
    assert np.allclose(halves, probs, atol=1e-5), "predictions depend on how the input is batched"
    assert model.predict_proba(codes[:0]).shape[0] == 0, "predict_proba must accept zero sequences"
    again = factory(**params).fit(codes[train], labels[train], val=(codes[test], labels[test]), seed=seed)
    assert np.allclose(again.predict_proba(codes[test]), probs, atol=1e-6), "same seed must give the same model"
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp))
        loaded = type(model).load(Path(tmp))
        assert np.allclose(loaded.predict_proba(codes[test]), probs, atol=1e-6), "save -> load changed predictions"
        files = [p for p in Path(tmp).rglob("*") if p.is_file()]
        assert files, "save wrote no file"
        for path in files:
            path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])
        try:
            type(model).load(Path(tmp))
        except MotifprobeError:
            pass
        else:
            raise AssertionError("loading a truncated model must raise MotifprobeError")
    try:
        factory(**{**params, "no_such_parameter_xyz": 1})
    except MotifprobeError:
        pass
    else:
        raise AssertionError("an unknown parameter must raise MotifprobeError")
    if isinstance(model, SequenceModel):
        _check_base_contract(model, codes[test])
    accuracy = float(np.mean(probs.argmax(axis=1) == labels[test]))
    if min_accuracy is not None:
        assert accuracy >= min_accuracy, f"accuracy {accuracy:.3f} on an easy toy task is below {min_accuracy}"
    return {"accuracy": accuracy}


def _check_base_contract(model: SequenceModel, codes: np.ndarray) -> None:
    """The base's input and output checks guard this fitted model (its plugin kept to the template)."""
    name = type(model).plugin_name()
    broken_outputs = {
        "NaN": lambda x: np.full((len(x), 2), np.nan),
        "a wrong shape": lambda x: np.full((max(len(x) - 1, 0), 2), 0.5),
    }
    for what, output in broken_outputs.items():
        broken = copy.copy(model)
        broken.__class__ = type(f"Broken{type(model).__name__}", (type(model),),
                                {"_predict_proba": lambda self, x, output=output: output(x)})
        try:
            broken.predict_proba(codes)
        except MotifprobeError as exc:
            assert name in str(exc) and "\n" not in str(exc), f"refusing {what} must be one line naming {name!r}: {exc}"
        else:
            raise AssertionError(f"predict_proba accepted {what} from _predict_proba: implement _predict_proba "
                                 "and leave predict_proba to SequenceModel")
    try:
        model.predict_proba(codes.astype(np.int64))
    except MotifprobeError:
        pass
    else:
        raise AssertionError("predict_proba accepted int64 codes: leave input checks to SequenceModel")


def check_generator(factory: Any, *, motifs: tuple[str, ...] = DEFAULT_MOTIFS, seed: int = 0,
                    gen_types: tuple[str, ...] = ("presence", "order", "distance"), num_seqs: int = 200) -> dict:
    """Check a generator plugin: shapes, sites, labels by the rule, determinism, file round trip, errors."""
    gen = factory()
    seen = {}
    for gen_type in gen_types:
        spec = GenerationSpec(num_seqs=num_seqs, seq_length=200, gen_type=gen_type, motifs=list(motifs),
                              pos_motifs=list(motifs[:2]) if gen_type != "presence" else [motifs[0]],
                              min_dist=2, max_dist=20)
        ds = gen.generate(spec, seed=seed)
        assert isinstance(ds, Dataset), "generate must return an engine.dataset.Dataset"
        assert ds.codes.dtype == np.uint8 and ds.codes.shape == (num_seqs, 200), f"bad codes {ds.codes.dtype} {ds.codes.shape}"
        assert ds.codes.max() <= 3, "codes must be 0..3 (A C G T)"
        s = ds.sites.sort_values(["seq", "start"])
        assert (s["start"] >= 0).all() and (s["end"] <= 200).all() and (s["start"] < s["end"]).all(), "site outside sequence"
        same = s["seq"].to_numpy()[1:] == s["seq"].to_numpy()[:-1]
        assert (s["start"].to_numpy()[1:][same] >= s["end"].to_numpy()[:-1][same]).all(), "sites overlap"
        if ds.rule:
            assert np.array_equal(ds.labels, compute_labels(ds.sites, len(ds), ds.rule)), "labels break the planted rule"
        twin = factory().generate(GenerationSpec(**spec.to_dict()), seed=seed)
        assert np.array_equal(twin.codes, ds.codes) and np.array_equal(twin.labels, ds.labels), "same seed, different data"
        other = factory().generate(GenerationSpec(**spec.to_dict()), seed=seed + 1)
        assert not np.array_equal(other.codes, ds.codes), "a different seed gave identical data"
        with tempfile.TemporaryDirectory() as tmp:
            back = read_dataset(write_dataset(ds, Path(tmp) / "d.parquet"))
            assert np.array_equal(back.codes, ds.codes), "Parquet round trip changed the sequences"
        seen[gen_type] = float(ds.labels.mean())
    try:
        gen.generate(GenerationSpec(num_seqs=0, motifs=list(motifs)), seed=seed)
    except MotifprobeError:
        pass
    else:
        raise AssertionError("num_seqs=0 must raise MotifprobeError")
    return {"positive_share": seen}


def check_perturbation_test(factory: Any, *, motifs: tuple[str, ...] = DEFAULT_MOTIFS + ("GATA_known1",),
                            seed: int = 0, num_perturbs: int = 3, params: dict | None = None) -> dict:
    """Check a perturbation test: arms are uint8 (n, K, L) over 0..3, the perturbation changes
    the sequences, same RNG seed gives the same perturbations, inputs are not modified, the
    declared feature is known, and ``deltas`` returns finite float64 (n, K)."""
    from motifprobe.engine.features import CONTROL, FEATURES
    from motifprobe.plugins.generators.fast_generator import FastGenerator  # noqa: PLC0415 - reference data

    test = factory(**dict(params or {}))
    n_motifs = getattr(test, "n_motifs", 1)
    assert isinstance(n_motifs, int) and not isinstance(n_motifs, bool) and n_motifs >= 1, \
        f"n_motifs must be a positive integer, got {n_motifs!r}"
    assert n_motifs <= len(motifs), f"n_motifs={n_motifs} needs at least that many motifs to check with"
    feature = getattr(test, "feature", None)
    assert feature in FEATURES or feature == CONTROL, \
        f"feature must be one of {', '.join([*FEATURES, CONTROL])}, got {feature!r}"
    ds = FastGenerator().generate(GenerationSpec(num_seqs=400, seq_length=200, gen_type="presence",
                                                 motifs=list(motifs), pos_motifs=list(motifs), pos_share=1.0),
                                  seed=seed)
    names = tuple(motifs[:n_motifs])
    rows = np.ones(len(ds), bool)
    for name in names:
        rows &= ds.site_bounds(name)[0] >= 0
    sub = ds.subset(np.flatnonzero(rows))
    batch = TestBatch(sub.codes.copy(), sub.labels, names, sub.sites, sub.background, num_perturbs)
    before = batch.codes.copy()
    arms = test.perturb(batch, np.random.default_rng(seed))
    assert np.array_equal(batch.codes, before), "perturb must not modify the input codes"
    assert isinstance(arms, dict) and arms, "perturb must return a non-empty dict of arms"
    k = 1 if getattr(test, "deterministic", False) else num_perturbs
    for name, arr in arms.items():
        assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8, f"arm {name!r} must be uint8"
        assert arr.shape == (len(sub), k, sub.seq_length), f"arm {name!r} has shape {arr.shape}, want {(len(sub), k, sub.seq_length)}"
        assert arr.max() <= 3, f"arm {name!r} has codes outside 0..3"
    again = test.perturb(batch, np.random.default_rng(seed))
    for name in arms:
        assert np.array_equal(arms[name], again[name]), f"arm {name!r}: same RNG seed, different perturbation"
    primary = getattr(test, "primary_arm", "perturbed")
    assert primary in arms, f"primary_arm {primary!r} is not among the arms {list(arms)}"
    changed = {name: float(np.any(arr != before[:, None, :], axis=2).mean()) for name, arr in arms.items()}
    assert changed[primary] > 0.5, (f"the primary arm {primary!r} changed only {changed[primary]:.0%} of the "
                                    "sequences: the test perturbs (almost) nothing")
    rng = np.random.default_rng(seed)
    probs = {name: np.stack([1 - (p := rng.uniform(0.05, 0.95, size=arr.shape[:2])), p], axis=-1)
             for name, arr in arms.items()}
    original = np.stack([1 - (p := rng.uniform(0.05, 0.95, size=len(sub))), p], axis=-1)
    d = np.asarray(test.deltas(probs, original, batch, Scorer("loss")))
    assert d.shape == (len(sub), k) and np.all(np.isfinite(d)), f"deltas must be finite (n, K), got {d.shape}"
    controls = test.controls(batch, np.random.default_rng(seed)) if hasattr(test, "controls") else {}
    assert isinstance(controls, dict), "controls() must return a dict of arms"
    for name, arr in controls.items():
        assert name not in arms and name != "sham", f"control arm {name!r} needs a name of its own"
        assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8 and arr.shape == (len(sub), k, sub.seq_length), \
            f"control arm {name!r} must be uint8 of shape {(len(sub), k, sub.seq_length)}"
        assert arr.max() <= 3, f"control arm {name!r} has codes outside 0..3"
    control = getattr(test, "control", "sham") or "sham"
    assert control == "sham" or control in controls, f"control {control!r} is neither 'sham' nor a control arm"
    known = {"sham", "delta", *arms, *controls}
    for check in getattr(test, "checks", ()) or ():
        parts = check.to_list() if hasattr(check, "to_list") else list(check)
        assert len(parts) == 3 and parts[0] in known and parts[1] in known, \
            f"check {check!r} names arms the test does not produce ({', '.join(sorted(known))})"
    return {"n_sequences": len(sub), "share_changed": float(np.mean(list(changed.values())))}


def check_rule(factory: Any, *, pos_motifs: tuple[str, ...] = DEFAULT_MOTIFS,
               motifs: tuple[str, ...] = DEFAULT_MOTIFS + ("GATA_known1",), params: dict | None = None,
               seed: int = 0, num_seqs: int = 2000, min_share: float = 0.1) -> dict:
    """Check a rule plugin: parameters validated, both classes well represented in its layout,
    labels a function of the planted sites, deterministic layout, expectations well formed.

    Returns the share of positives and the rule's expectation for every feature and motif set.
    """
    from motifprobe.engine.features import FEATURES, Expectation
    from motifprobe.plugins.generators.fast_generator import FastGenerator  # noqa: PLC0415 - reference data

    params = dict(params or {})
    rule = factory(list(pos_motifs), **params)
    for method in ("labels", "expects", "plan", "to_dict", "min_length"):
        assert callable(getattr(rule, method, None)), f"a rule needs a {method}() method"
    try:
        factory(list(pos_motifs), **{**params, "no_such_parameter_xyz": 1})
    except MotifprobeError:
        pass
    else:
        raise AssertionError("an unknown rule parameter must raise MotifprobeError")
    stored = rule.to_dict()
    assert set(stored) >= {"name", "pos_motifs", "params"}, f"to_dict() must give name, pos_motifs, params: {stored}"
    assert factory(stored["pos_motifs"], **stored["params"]).to_dict() == stored, "to_dict() does not round-trip"

    def generate(seed_: int) -> Dataset:
        spec = GenerationSpec(num_seqs=num_seqs, seq_length=200, gen_type=stored["name"], motifs=list(motifs),
                              pos_motifs=list(pos_motifs), rule_params=params)
        spec._rule = rule  # the factory under test, registered or not
        spec.pos_share = float(getattr(rule, "default_pos_share", 0.5))
        return FastGenerator().generate(spec, seed=seed_)

    ds = generate(seed)
    share = float(ds.labels.mean())
    assert min_share <= share <= 1 - min_share, \
        f"the layout gives {share:.1%} positives; both classes need at least {min_share:.0%}"
    again = generate(seed)
    assert np.array_equal(again.codes, ds.codes) and np.array_equal(again.labels, ds.labels), "same seed, other layout"
    shuffled = ds.sites.sample(frac=1.0, random_state=seed).sort_values(["seq", "start"], kind="stable")
    assert np.array_equal(compute_labels(shuffled, len(ds), rule), ds.labels), "labels must depend only on the sites"
    no_sites = ds.sites.iloc[:0]
    empty = np.asarray(rule.labels(no_sites, 5))
    assert empty.shape == (5,), "labels() must return one label per sequence"
    expectations = {}
    combos = [(m,) for m in motifs] + [c for c in itertools.combinations(motifs, 2)]
    for feature in FEATURES:
        for combo in combos:
            exp = rule.expects(feature, combo)
            assert isinstance(exp, Expectation), f"expects({feature!r}, {combo}) returned {type(exp).__name__}"
            expectations[(feature, "+".join(combo))] = exp
    decoys = [m for m in motifs if m not in pos_motifs]
    for decoy in decoys:
        assert expectations[("presence", decoy)].status == "none", \
            f"the rule expects a presence effect of decoy {decoy}, which it does not name"
    return {"positive_share": share, "expectations": expectations}
