"""Score interpretations against the rule planted in the data.

Each result row's test probes one *feature* (presence, order, spacing, interaction, ...; see
:mod:`motifprobe.engine.features`); the planted rule says what a model that learned it shows
for that feature and motif set (:meth:`motifprobe.Rule.expects`): an effect with a sign, no
effect, or confounded. The scorecard only asks; it knows no rule by name.

Statuses: ``hit`` (expected effect found, with the expected sign), ``wrong sign`` (an effect
was expected and one was found, of the opposite sign: the model learned something else, e.g.
AND where the rule is OR), ``miss``, ``extra`` (an effect the rule does not imply, on a pos
motif), ``decoy false call`` (an effect on decoys only, or from the control), ``shortcut`` (the
model reacts to a motif's composition or position, a check's verdict, where the rule expects no
effect: a real model shortcut, not a false call of the test), ``confounded``
(the test cannot say anything about this rule here), ``correct none``, ``untestable`` (too few
sequences), ``unscored`` (the test declares no feature, the rule failed to answer, or the
data's labels do not follow the rule) and ``model did not learn`` (the model does not beat its
majority baseline, so none of its calls counts, hit or false).

Signs are checked in loss mode; in prediction mode (a change of P(class 1)) the sign of an
effect depends on the label, so only its presence is checked.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.features import CONTROL, Expectation
from motifprobe.engine.registry import Registry, get_registry
from motifprobe.engine.rules import Rule, as_rule

STATUSES = ("hit", "wrong sign", "miss", "extra", "decoy false call", "shortcut", "confounded", "correct none",
            "untestable", "unscored", "model did not learn", "error")
SCORED = ("hit", "wrong sign", "miss", "extra", "decoy false call", "shortcut", "correct none")
"""Statuses that read a model's calls (replaced by ``model did not learn`` when it does not beat its baseline)."""
CARD_COLUMNS = ["model", "test", "feature", "motifs", "expected", "expected_sign", "found", "direction", "status",
                "reason"]


def feature_of_test(test: str, registry: Registry | None = None) -> str | None:
    """The feature a registered test declares (None if it declares none or is not installed)."""
    try:
        factory = (registry or get_registry()).get("perturbation_test", test).factory
    except Exception:  # noqa: BLE001 - a results file may name a test whose plugin is gone
        return None
    feature = getattr(factory, "feature", None)
    return feature if isinstance(feature, str) and feature else None


def _row_status(rule: Rule | None, feature: str | None, motifs: tuple[str, ...], verdict: str, direction: str,
                mode: str) -> tuple[Expectation | None, str, str]:
    """(expectation, status, reason) of one result row."""
    found = verdict == "effect"
    explained = verdict not in ("effect", "none", "untestable", "error")  # a check's status: composition, position
    if verdict == "error":
        return None, "error", "the run failed (see the results row's note)"
    if verdict == "untestable":
        return None, "untestable", "too few sequences to test"
    if feature is None:
        return None, "unscored", "the test declares no feature"
    if rule is None:
        return None, "unscored", "the dataset carries no planted rule"
    if feature == CONTROL:
        if explained:
            return None, "shortcut", f"the control's call is explained by {verdict}"
        return None, ("decoy false call" if found else "correct none"), "the control perturbs no motif"
    try:
        expectation = rule.expects(feature, motifs)
        if not isinstance(expectation, Expectation):
            raise TypeError(f"expects() returned {type(expectation).__name__}, not an Expectation")
    except Exception as exc:  # noqa: BLE001 - a rule plugin's fault costs one row, not the scorecard
        return None, "unscored", f"rule {rule.name!r} failed: {type(exc).__name__}: {exc}"
    pos = set(rule.pos_motifs)
    if expectation.status == "confounded":
        return expectation, "confounded", expectation.reason
    if explained:  # the model reacts, but to the motif's composition or position, not to the feature
        if expectation.status == "effect":
            return expectation, "miss", f"the effect is explained by {verdict}, not the motif: {expectation.reason}"
        return expectation, "shortcut", (f"a real model shortcut ({verdict}), not a false call of the test: "
                                         f"{expectation.reason}")
    if expectation.status == "effect":
        if not found:
            return expectation, "miss", expectation.reason
        observed = {"+": 1, "-": -1}.get(direction, 0)
        if expectation.sign == 0 or observed == 0 or mode == "prediction" or observed == expectation.sign:
            return expectation, "hit", expectation.reason
        return expectation, "wrong sign", (f"expected {expectation.symbol}, found {direction}: "
                                           f"{expectation.reason}")
    if found:
        only_decoys = all(m not in pos for m in motifs)
        return expectation, ("decoy false call" if only_decoys else "extra"), expectation.reason
    return expectation, "correct none", expectation.reason


UNVARIED = ("extra", "decoy false call", "correct none")
"""Statuses a feature the data never varied turns into ``confounded`` (:func:`unvaried`)."""


def unvaried(feature: str | None, motifs: tuple[str, ...], dataset: Any) -> str:
    """Why the data cannot say what a model should do for ``feature`` on ``motifs`` ("" if it can).

    A rule that ignores strand or copy number implies no effect only for what the training data
    showed: a model that never saw a motif on the minus strand, or twice in one sequence, is free
    to respond either way, so a call there is neither a false call nor a correct none.
    """
    sites = getattr(dataset, "sites", None)
    if feature not in ("orientation", "dosage") or sites is None or not len(sites):
        return ""
    mine = sites[sites["name"].isin(motifs)]
    if not len(mine):
        return ""
    if feature == "orientation" and "strand" in mine:
        one = [m for m, g in mine.groupby("name", sort=False) if g["strand"].nunique() < 2]
        if one:
            return (f"the data shows {', '.join(one)} on one strand only, so a strand preference is not a "
                    "departure from the rule")
    if feature == "dosage" and int(mine.groupby(["seq", "name"]).size().max()) < 2:
        return "the data never has two copies of a motif in one sequence, so a response to copy number is untested"
    return ""


def score(results: pd.DataFrame, rule: Rule | dict | None, metrics: dict[str, dict] | None = None,
          registry: Registry | None = None, dataset: Any = None,
          profiles: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score each model's results against ``rule``.

    Parameters
    ----------
    results : DataFrame
        Interpret rows of one or more models (``model``, ``test``, ``motifs``, ``verdict``,
        ``direction``; ``feature`` and ``mode`` when present).
    rule : Rule, dict or None
        The dataset's planted rule (a Rule or its metadata dict).
    metrics : dict, optional
        ``{model: {"accuracy":..., "auroc":..., "beats_baseline":...}}`` from training. A model
        whose ``beats_baseline`` is False gets no hits: its rows read ``model did not learn``.
    dataset : Dataset, optional
        The interpreted data: when its labels do not follow ``rule`` (shuffled or edited), nothing
        is scored against the rule, and the reason says so.
    profiles : DataFrame, optional
        The profile table of insertion tests (:func:`motifprobe.engine.profiles.profile_table`,
        built with the rule): a profile whose points the rule places inside or outside a window
        (:meth:`motifprobe.Rule.profile_window`) is a ``hit`` only when its peak lies inside the
        window and the points outside stay low (:func:`motifprobe.engine.profiles.profile_status`).

    Returns
    -------
    (scorecard, summary)
        ``scorecard``: one row per model, test and motif set with ``expected``,
        ``expected_sign``, ``found``, ``status`` and ``reason``; ``summary``: one row per model
        with counts and a plain statement.
    """
    rule_error = ""
    try:
        rule = as_rule(rule, registry)
    except MotifprobeError as exc:  # e.g. the rule's plugin is not installed here: score nothing, say why
        rule, rule_error = None, str(exc)
    if rule is not None and dataset is not None:
        from motifprobe.engine.rules import label_mismatch

        found = label_mismatch(dataset, registry)
        if found is not None and found[0]:
            rule_error = (f"{found[0]} of {found[1]} labels do not follow the planted rule {rule.name!r} "
                          f"(shuffled or edited labels?)")
            rule = None
    features: dict[str, Any] = {}
    rows = []
    for _, r in results.iterrows():
        feature = r.get("feature") if isinstance(r.get("feature"), str) and r.get("feature") else None
        if feature is None:
            if r["test"] not in features:
                features[r["test"]] = feature_of_test(r["test"], registry)
            feature = features[r["test"]]
        motifs = tuple(str(r["motifs"]).split("+"))
        direction = r.get("direction", "")
        direction = direction if isinstance(direction, str) else ""
        mode = r.get("mode", "loss")
        expectation, status, reason = _row_status(rule, feature, motifs, r["verdict"], direction,
                                                  mode if isinstance(mode, str) else "loss")
        if status in UNVARIED and dataset is not None:
            why = unvaried(feature, motifs, dataset)
            if why:
                status, reason = "confounded", why
        if profiles is not None and len(profiles) and status == "hit":  # a called profile: where does it peak?
            from motifprobe.engine.profiles import profile_status

            against_window = profile_status(profiles, r["model"], r["test"], r["motifs"])
            if against_window is not None:
                status, reason = against_window
        elif status == "miss" and r.get("subset") == "profile" and isinstance(r.get("reason"), str):
            reason = f"{reason}; the profile: {r['reason']}"
        if rule_error and status == "unscored":
            reason = f"the planted rule cannot be used: {rule_error}"
        if (metrics or {}).get(r["model"], {}).get("beats_baseline") is False and status in SCORED:
            status, reason = "model did not learn", "the model does not beat the majority baseline: its calls are not scored"
        expected = expectation is not None and expectation.status == "effect"
        rows.append({"model": r["model"], "test": r["test"], "feature": feature or "", "motifs": r["motifs"],
                     "expected": expected, "expected_sign": expectation.symbol if expectation else "",
                     "found": r["verdict"] == "effect", "direction": direction, "status": status, "reason": reason})
    card = pd.DataFrame(rows, columns=CARD_COLUMNS)
    summary_rows = []
    for model, group in card.groupby("model", sort=False):
        counts = group["status"].value_counts()
        m = (metrics or {}).get(model, {})
        hits, misses = int(counts.get("hit", 0)), int(counts.get("miss", 0))
        wrong, errors = int(counts.get("wrong sign", 0)), int(counts.get("error", 0))
        extras, decoys = int(counts.get("extra", 0)), int(counts.get("decoy false call", 0))
        shortcuts = int(counts.get("shortcut", 0))
        negatives = int(group["status"].isin(["extra", "decoy false call", "shortcut", "correct none"]).sum())
        beats = m.get("beats_baseline")
        if (group["status"] == "error").all():
            learned = "error"
        elif rule is None:
            learned = "unknown rule"
        elif beats is False:
            learned = "no"
        elif misses == 0 and wrong == 0 and errors == 0 and hits > 0:
            learned = "yes"  # an 'error' row may have been an expected effect: it cannot count as found
        elif hits > 0:
            learned = "partly"
        else:
            learned = "no"

        def listed(status: str) -> str:
            sel = group.loc[group["status"] == status, ["test", "motifs"]]
            return ", ".join(f"{t} {mo}" for t, mo in sel.itertuples(index=False))

        missing, extra, wrong_list = listed("miss"), listed("extra"), listed("wrong sign")
        statement = _statement(model, learned, hits, misses, missing, extra, decoys, negatives, beats, m,
                               wrong, wrong_list)
        if shortcuts:
            statement += f" Shortcuts (composition or position, not the motif): {listed('shortcut')}."
        if m.get("plateau_near_baseline"):  # see engine/training.py training_end
            statement += (f" Training stopped early on a plateau near the majority baseline (epoch "
                          f"{m.get('n_epochs', '?')}, best validation accuracy {m.get('best_val_accuracy', float('nan')):.3f}"
                          f" vs {m.get('val_baseline', float('nan')):.3f}): what it did not learn may be a training "
                          "artefact; retrain with more patience (--early-stop) or epochs.")
        summary_rows.append({"model": model, "accuracy": m.get("accuracy", np.nan), "auroc": m.get("auroc", np.nan),
                             "beats_baseline": beats, "hits": hits, "misses": misses, "wrong_sign": wrong,
                             "extras": extras, "decoy_false_calls": decoys, "shortcuts": shortcuts,
                             "negatives_tested": negatives,
                             "learned_rule": learned, "missing": missing, "wrong": wrong_list, "extra": extra,
                             "statement": statement})
    return card, pd.DataFrame(summary_rows)


def _statement(model, learned, hits, misses, missing, extra, decoys, negatives, beats, m, wrong=0,
               wrong_list="") -> str:
    acc = f" (test accuracy {m['accuracy']:.3f})" if "accuracy" in m else ""
    if learned == "error":
        return f"{model} failed: nothing could be scored (see the 'error' rows)."
    if learned == "unknown rule":
        return f"{model}{acc}: the dataset carries no planted rule, so nothing can be scored."
    if beats is False:
        head = f"{model} did NOT learn the rule: it does not beat the majority baseline{acc}."
    elif learned == "yes":
        head = f"{model} learned the rule{acc}: all {hits} expected effects found."
    elif learned == "partly":
        head = (f"{model} learned the rule only partly{acc}: {hits} of {hits + misses + wrong} expected effects found"
                + (f"; missing {missing}" if missing else "") + (f"; of the wrong sign {wrong_list}" if wrong else "") + ".")
    else:
        head = f"{model} did not learn the rule{acc}: none of the {misses + wrong} expected effects found" + (
            f" with the expected sign (wrong sign: {wrong_list})" if wrong else "") + "."
    tail = f" Also sensitive to (not in the rule): {extra}." if extra else ""
    tail += f" False calls on decoys/control: {decoys}." if negatives else ""
    return head + tail
