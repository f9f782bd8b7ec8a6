"""Score interpretations against the rule planted in the data.

Which tests *should* show an effect (calibrated on presence, order and distance data):

- presence rule: presence of each pos motif; with several pos motifs, their (AND) interaction;
- order rule: presence of both pos motifs (found within labels), their order, and their
  interaction (negative for an AND);
- distance rule: all of the order rule, plus distance.

Nothing is expected of decoy motifs (in the data, not in the rule) or of the control, so calls
there are the empirical false-call rate. One case is neither: under an order or distance rule,
swapping or moving a pos motif together with a decoy can change the true label (the pos motif
lands elsewhere relative to its partner), so such ``order``/``distance`` rows are
``confounded`` and count neither as hits nor as false calls.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

STATUSES = ("hit", "miss", "extra", "decoy false call", "confounded", "correct none", "untestable")


def expected_tests(rule: dict | None) -> set[tuple[str, str]]:
    """(test, motifs) pairs the planted rule implies; motifs joined with '+' in either order."""
    if not rule:
        return set()
    pos = list(rule.get("pos_motifs", []))
    gen_type = rule.get("gen_type")
    expected = {("presence", m) for m in pos}
    pairs = list(itertools.combinations(pos, 2))
    for a, b in pairs:
        for key in (f"{a}+{b}", f"{b}+{a}"):
            expected.add(("interaction", key))
            if gen_type in ("order", "distance"):
                expected.add(("order", key))
            if gen_type == "distance":
                expected.add(("distance", key))
    return expected


def score(results: pd.DataFrame, rule: dict | None, metrics: dict[str, dict] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score each model's results against ``rule``.

    Parameters
    ----------
    results : DataFrame
        Interpret rows of one or more models (``model``, ``test``, ``motifs``, ``verdict``).
    rule : dict or None
        The dataset's planted rule (``gen_type``, ``pos_motifs``, ...).
    metrics : dict, optional
        ``{model: {"accuracy":..., "auroc":..., "beats_baseline":...}}`` from training.

    Returns
    -------
    (scorecard, summary)
        ``scorecard``: one row per model, test and motif set with ``expected``, ``found`` and
        ``status``; ``summary``: one row per model with counts and a plain statement.
    """
    expected = expected_tests(rule)
    pos = set((rule or {}).get("pos_motifs", []))
    rows = []
    for _, r in results.iterrows():
        is_expected = (r["test"], r["motifs"]) in expected
        found = r["verdict"] == "effect"
        names = str(r["motifs"]).split("+")
        only_decoys = all(m not in pos for m in names)
        mixed = any(m in pos for m in names) and not all(m in pos for m in names)
        moves_pos_motif = (rule or {}).get("gen_type") in ("order", "distance") and r["test"] in ("order", "distance") \
            and mixed
        if r["verdict"] == "untestable":
            status = "untestable"
        elif is_expected:
            status = "hit" if found else "miss"
        elif moves_pos_motif:
            status = "confounded"
        elif found:
            status = "decoy false call" if rule and (only_decoys or r["test"] == "control") else "extra"
        else:
            status = "correct none"
        rows.append({"model": r["model"], "test": r["test"], "motifs": r["motifs"], "expected": is_expected,
                     "found": found, "direction": r.get("direction", ""), "status": status})
    card = pd.DataFrame(rows, columns=["model", "test", "motifs", "expected", "found", "direction", "status"])
    summary_rows = []
    for model, group in card.groupby("model", sort=False):
        counts = group["status"].value_counts()
        m = (metrics or {}).get(model, {})
        hits, misses = int(counts.get("hit", 0)), int(counts.get("miss", 0))
        extras, decoys = int(counts.get("extra", 0)), int(counts.get("decoy false call", 0))
        negatives = int((~group["expected"] & (group["status"] != "untestable")).sum())
        beats = m.get("beats_baseline")
        if not rule:
            learned = "unknown rule"
        elif beats is False:
            learned = "no"
        elif misses == 0 and hits > 0:
            learned = "yes"
        elif hits > 0:
            learned = "partly"
        else:
            learned = "no"
        missing = ", ".join(f"{t} {mo}" for t, mo in group.loc[group["status"] == "miss", ["test", "motifs"]].itertuples(index=False))
        extra = ", ".join(f"{t} {mo}" for t, mo in group.loc[group["status"] == "extra", ["test", "motifs"]].itertuples(index=False))
        statement = _statement(model, learned, hits, misses, missing, extra, decoys, negatives, beats, m)
        summary_rows.append({"model": model, "accuracy": m.get("accuracy", np.nan), "auroc": m.get("auroc", np.nan),
                             "beats_baseline": beats, "hits": hits, "misses": misses, "extras": extras,
                             "decoy_false_calls": decoys, "negatives_tested": negatives,
                             "learned_rule": learned, "missing": missing, "extra": extra, "statement": statement})
    return card, pd.DataFrame(summary_rows)


def _statement(model, learned, hits, misses, missing, extra, decoys, negatives, beats, m) -> str:
    acc = f" (test accuracy {m['accuracy']:.3f})" if "accuracy" in m else ""
    if learned == "unknown rule":
        return f"{model}{acc}: the dataset carries no planted rule, so nothing can be scored."
    if beats is False:
        head = f"{model} did NOT learn the rule: it does not beat the majority baseline{acc}."
    elif learned == "yes":
        head = f"{model} learned the rule{acc}: all {hits} expected effects found."
    elif learned == "partly":
        head = f"{model} learned the rule only partly{acc}: {hits} of {hits + misses} expected effects found; missing {missing}."
    else:
        head = f"{model} did not learn the rule{acc}: none of the {misses} expected effects found."
    tail = f" Also sensitive to (not in the rule): {extra}." if extra else ""
    tail += f" False calls on decoys/control: {decoys}." if negatives else ""
    return head + tail
