"""Mutation testing of the engine's core modules with mutmut (``make mutate``).

mutmut 3 mutates files under ``./``, ``src/`` or ``source/`` and expects the tests to import the
package from there. This repository's root *is* the package ``motifprobe`` (installed editable
with ``package-dir = {motifprobe = "."}``), which mutmut cannot map. So, per target group, this
script lays out a scratch project::

    WORK/<group>/pyproject.toml      [tool.mutmut] and [tool.pytest.ini_options] for this group
    WORK/<group>/motifprobe/...      a copy of the package (engine/, plugins/, cli.py, ...)
    WORK/<group>/tests/...           a copy of tests/

runs ``mutmut run`` there (mutmut puts ``mutants/`` first on ``sys.path``, so
``import motifprobe`` finds the mutated copy before the editable install's finder), and reads
each mutant's exit code from ``mutants/**/*.meta``. Each group mutates its modules and runs a
small, fast test selection; mutmut narrows it further to the tests that call the mutated
function.

The survival rate printed is survived / (killed + survived), after removing the mutants listed
in :data:`EQUIVALENT` (judged equivalent by hand; each has its reason in docs/testing.md).
Timeouts count as killed (the mutant made the tests hang). Mutants that no test reaches
("no tests") count as survived.

Usage::

    python scripts/mutate.py                 # every group not marked pending (make mutate)
    python scripts/mutate.py stats rules     # some groups (make mutate GROUPS="stats rules")
    python scripts/mutate.py ops             # one group (a group marked pending runs only when named)
    python scripts/mutate.py --list          # the groups, their files and tests
    python scripts/mutate.py --show-survivors stats   # each surviving mutant as - old / + new line
    python scripts/mutate.py --report-only   # the last run's numbers again, from .mutate/
    python scripts/mutate.py --equivalents   # the equivalent mutants and why, as Markdown

Exit status: 0 when every measured group is at or below ``--max-rate`` (default 10%), 1 otherwise.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_PARTS = ("__init__.py", "cli.py", "engine", "plugins")
"""What of the repository root makes up the package ``motifprobe``."""


@dataclass(frozen=True)
class Group:
    name: str
    mutate: tuple[str, ...]
    """Glob patterns, relative to the repository root (= the package root)."""
    tests: tuple[str, ...]
    """pytest selection (paths or node ids under tests/)."""
    note: str = ""
    timeout: tuple[float, float] = (5.0, 10.0)
    """mutmut's ``timeout_constant`` and ``timeout_multiplier``: a mutant's tests get
    (their normal time + constant) x multiplier before it counts as a timeout (killed). Groups
    whose mutants can loop forever (the dinucleotide shuffle's redraw loop) use a shorter one, so
    each such mutant costs seconds, not a minute; still 10x the tests' own time at the least."""
    pending: bool = False
    """Run only when named (``make mutate GROUPS=interpret``): the modules are being rewritten and
    their tests are too slow for mutation testing (each mutant re-runs whole interpretations)."""


GROUPS = (
    Group("stats", ("engine/stats.py",), ("tests/test_stats.py",)),
    Group("scorecard", ("engine/scorecard.py",), ("tests/test_scorecard.py",)),
    Group("rules", ("engine/rules.py", "plugins/rules/*.py"), ("tests/test_rule_plugins.py",)),
    Group("features-params", ("engine/features.py", "engine/params.py"),
          ("tests/test_param_declarations.py", "tests/test_scorecard.py")),
    # The interpretation: keyed streams, the vectorized primitives, and plan -> run -> summarize with
    # the perturbation contract. Each has a unit-test file of small exact cases (no whole runs), so a
    # mutant costs well under a second. engine/interpret/__init__.py (the driver that strings the
    # three together) is left to the end-to-end tests (test_interpret.py, test_keyed_runs.py).
    Group("streams", ("engine/streams.py",), ("tests/test_streams_units.py",)),
    Group("ops", ("engine/ops.py",), ("tests/test_ops_units.py",), timeout=(1.0, 5.0)),
    Group("interpret", ("engine/interpret/plan.py", "engine/interpret/run.py", "engine/interpret/summarize.py",
                        "engine/perturbation.py"), ("tests/test_interpret_units.py",)),
)

EQUIVALENT: tuple[tuple[str, str, str, str], ...] = (
    # (file, function, the mutated line(s) as mutmut writes them, why no test can tell it from the
    # original). Matched on the text, not on mutmut's numbering, so edits elsewhere in a function
    # keep the list valid. Kept in step with docs/testing.md ("Equivalent mutants").
    ("engine/stats.py", "wilcoxon_p", 'return float("NAN")',
     "float() parses nan case-insensitively"),
    ("engine/stats.py", "bootstrap_ci", 'return float("NAN"), float("nan")',
     "float() parses nan case-insensitively"),
    ("engine/stats.py", "bootstrap_ci", 'return float("nan"), float("NAN")',
     "float() parses nan case-insensitively"),
    ("engine/stats.py", "wilcoxon_p", 'return float(wilcoxon(x, method="asymptotic").pvalue)',
     "zero_method='wilcox' is scipy's default"),
    ("engine/stats.py", "wilcoxon_p", 'return float(wilcoxon(x, zero_method="WILCOX", method="asymptotic").pvalue)',
     "scipy lower-cases zero_method"),
    ("engine/stats.py", "rank_biserial", "x = np.asarray(x, dtype=None)",
     "ranks depend only on the order of |x|, which float32 or integer input keeps; rankdata returns float64"),
    ("engine/stats.py", "rank_biserial", "x = np.asarray(x, )",
     "as above"),
    ("engine/stats.py", "rank_biserial", "return float((ranks[x >= 0].sum() - ranks[x < 0].sum()) / ranks.sum())",
     "zeros were removed two lines above, so x >= 0 and x > 0 select the same values"),
    ("engine/stats.py", "rank_biserial", "return float((ranks[x > 0].sum() - ranks[x <= 0].sum()) / ranks.sum())",
     "zeros were removed two lines above"),
    ("engine/stats.py", "bootstrap_ci", "if x.size == 1 or np.all(x == x[1]):",
     "with two or more values, all equal x[0] exactly when all equal x[1]"),
    ("engine/stats.py", "summarize", "p = wilcoxon_p(diff[sel]) if (k) or True else np.nan",
     "wilcoxon_p of an empty array is NaN, the value the guard gives"),
    ("engine/stats.py", "Thresholds.__post_init__",
     "f\"a number with {low:g} {'<=' if (low_ok) and False else '<'} {name} <= {high:g}\")",
     "only alpha has an upper bound and its lower bound is exclusive: the '<=' branch is never taken"),
    ("engine/stats.py", "Thresholds.__post_init__",
     "f\"a number with {low:g} {'XX<=XX' if low_ok else '<'} {name} <= {high:g}\")",
     "as above: the '<=' text is never shown"),
    ("engine/scorecard.py", "score", 'rule_error = None',
     "rule_error is only read as a truth value, and None is as false as ''"),
    ("engine/scorecard.py", "score", 'direction = r.get("direction", None)',
     "the next line turns any non-string direction into ''"),
    ("engine/scorecard.py", "score", 'direction = r.get("direction", )',
     "as above (get's default is None)"),
    ("engine/scorecard.py", "score", 'mode = r.get("mode", None)',
     "a non-string mode is read as 'loss' two lines below"),
    ("engine/scorecard.py", "score", 'mode = r.get("mode", )',
     "as above (get's default is None)"),
    ("engine/scorecard.py", "score", 'mode = r.get("mode", "XXlossXX")',
     "only mode == 'prediction' changes anything: every other mode string is loss mode"),
    ("engine/scorecard.py", "score", 'mode = r.get("mode", "LOSS")',
     "as above"),
    ("engine/scorecard.py", "score", 'mode if (isinstance(mode, str)) or True else "loss")',
     "a non-string mode (NaN) is then compared with 'prediction', which it never equals: loss mode"),
    ("engine/scorecard.py", "score", 'mode if isinstance(mode, str) else "XXlossXX")',
     "only mode == 'prediction' changes anything"),
    ("engine/scorecard.py", "score", 'mode if isinstance(mode, str) else "LOSS")',
     "only mode == 'prediction' changes anything"),
    ("engine/scorecard.py", "score", 'for model, group in card.groupby("model", sort=None):',
     "pandas reads sort=None as false: the same order of appearance"),
    ("engine/scorecard.py", "score", 'return ", ".join(f"{t} {mo}" for t, mo in sel.itertuples(index=None))',
     "itertuples reads index=None as false"),
    ("engine/scorecard.py", "_statement",
     'def FUNC(model, learned, hits, misses, missing, extra, decoys, negatives, beats, m, wrong=1,',
     "the one caller always passes wrong and wrong_list: the defaults are never used"),
    ("engine/scorecard.py", "_statement", 'wrong_list="XXXX") -> str:',
     "as above"),
    # Comparisons of a uniform float64 draw with a threshold: < and <= differ only when the draw
    # equals the threshold exactly (probability 2**-53 per draw).
    ("engine/rules.py", "Rule.draw_presence", "present = rng.random((n, len(names))) <= 0.5", "uniform draw: < vs <="),
    ("engine/rules.py", "Rule.draw_presence", "forced = rng.random(n) <= pos_share", "uniform draw: < vs <="),
    ("plugins/rules/any.py", "AnyRule.draw_presence", "present = rng.random((n, len(names))) <= 0.5",
     "uniform draw: < vs <="),
    ("plugins/rules/any.py", "AnyRule.draw_presence", "positive = rng.random(n) <= pos_share", "uniform draw: < vs <="),
    ("plugins/rules/distance.py", "DistanceRule.draw_pairs",
     "near_miss = (kind > 0.5) & (kind < 0.75) & (near is not None)", "uniform draw: >= vs >"),
    ("plugins/rules/distance.py", "DistanceRule.draw_pairs",
     "near_miss = (kind >= 0.5) & (kind <= 0.75) & (near is not None)", "uniform draw: < vs <="),
    ("plugins/rules/distance.py", "DistanceRule.draw_pairs",
     "reverse = (kind > 0.75) | ((kind >= 0.5) & (near is None))", "uniform draw: >= vs >"),
    ("plugins/rules/distance.py", "DistanceRule.draw_pairs",
     "reverse = (kind >= 0.75) | ((kind > 0.5) & (near is None))", "uniform draw: >= vs >"),
    ("engine/rules.py", "Rule.plan", "mlen = np.array([lengths[x] for x in names], dtype=None)",
     "a list of Python ints becomes int64 anyway (numpy 2's default integer, on every platform)"),
    ("engine/rules.py", "Rule.plan", "mlen = np.array([lengths[x] for x in names], )", "as above"),
    ("plugins/rules/any.py", "AnyRule.draw_presence", "pick = pos_idx[rng.integers(len(pos_idx), size=n)]",
     "integers(high) with one bound means integers(0, high)"),
    ("plugins/rules/any.py", "AnyRule.draw_presence", "present[np.ix_(~positive, pos_idx)] = None",
     "None stored into a bool array is False"),
    ("plugins/rules/distance.py", "DistanceRule._near_miss_gaps", "pick = rng.integers(len(ranges), size=n)",
     "integers(high) with one bound means integers(0, high)"),
    ("plugins/rules/distance.py", "DistanceRule.draw_pairs",
     "gaps = np.where(near_miss, near if (near is not None) or True else 0, inside).astype(np.int64)",
     "the else branch is only reached when near is None, and then near_miss is all False: the where takes "
     "every gap from inside either way"),
    ("plugins/rules/distance.py", "DistanceRule.draw_pairs",
     "gaps = np.where(near_miss, near if near is not None else 1, inside).astype(np.int64)", "as above"),
    ("plugins/rules/order.py", "OrderRule.labels", "return ((sa >= 0) & (sb > 0) & (sa < sb)).astype(np.int64)",
     "sb = 0 with sa >= 0 fails sa < sb anyway"),
    ("plugins/rules/order.py", "OrderRule.labels", "return ((sa >= 0) & (sb >= 1) & (sa < sb)).astype(np.int64)",
     "as above"),
    ("plugins/rules/distance.py", "DistanceRule.labels",
     "return ((sa >= 0) & (sb > 0) & (sa < sb) & inside).astype(np.int64)", "sb = 0 with sa >= 0 fails sa < sb"),
    ("plugins/rules/distance.py", "DistanceRule.labels",
     "return ((sa >= 0) & (sb >= 1) & (sa < sb) & inside).astype(np.int64)", "as above"),
    ("plugins/rules/distance.py", "DistanceRule.labels",
     "return ((sa >= 0) & (sb >= 0) & (sa <= sb) & inside).astype(np.int64)",
     "sa == sb makes the gap minus the first motif's length, below min_dist >= 0, so inside is False"),
    ("engine/params.py", "coerce", "out = float(value.strip() if (isinstance(value, str)) and False else value)",
     "float() strips surrounding whitespace itself"),
    ("engine/params.py", "parse_pairs", 'if "=" not in pair or not pair.split("=", )[0].strip():',
     "the first field of a split is the same whatever the maxsplit"),
    ("engine/params.py", "parse_pairs", 'if "=" not in pair or not pair.split("=", 2)[0].strip():', "as above"),
    ("engine/params.py", "parse_scoped_pairs", 'head = pair.split("=", )[0]', "as above"),
    ("engine/params.py", "parse_scoped_pairs", 'head = pair.split("=", 2)[0]', "as above"),
    ("engine/params.py", "parse_scoped_pairs", 'if ":" not in head or not head.split(":", )[0].strip():',
     "as above"),
    ("engine/params.py", "parse_scoped_pairs", 'if ":" not in head or not head.split(":", 2)[0].strip():',
     "as above"),    # engine/streams.py
    ("engine/streams.py", "id_hashes", "ids = np.asarray(ids, dtype=None)",
     "the ids are turned into str (astype(str)) on the next line either way"),
    ("engine/streams.py", "id_hashes", "ids = np.asarray(ids, )", "as above"),
    ("engine/streams.py", "id_hashes", 'raw = np.char.encode(ids.astype(str), None)',
     "numpy drops a None encoding and str.encode's default is UTF-8"),
    ("engine/streams.py", "id_hashes", 'raw = np.char.encode(ids.astype(str), )', "as above"),
    ("engine/streams.py", "id_hashes", 'raw = np.char.encode(ids.astype(str), "UTF-8")',
     "codec names are case-insensitive"),
    ("engine/streams.py", "id_hashes", "return np.full(None, _FNV_OFFSET, dtype=np.uint64)",
     "a branch that cannot be taken: numpy byte strings are at least 1 byte wide, even of empty ids"),
    ("engine/streams.py", "id_hashes", "return np.full(len(ids), None, dtype=np.uint64)", "as above"),
    ("engine/streams.py", "id_hashes", "return np.full(len(ids), _FNV_OFFSET, dtype=None)", "as above"),
    ("engine/streams.py", "id_hashes", "return np.full(_FNV_OFFSET, dtype=np.uint64)", "as above"),
    ("engine/streams.py", "id_hashes", "return np.full(len(ids), dtype=np.uint64)", "as above"),
    ("engine/streams.py", "id_hashes", "return np.full(len(ids), _FNV_OFFSET, )", "as above"),
    ("engine/streams.py", "id_hashes", "out = np.full(len(ids), _FNV_OFFSET, dtype=None)",
     "the fill value is a numpy uint64, so the array is uint64 anyway"),
    ("engine/streams.py", "id_hashes", "out = np.full(len(ids), _FNV_OFFSET, )", "as above"),
    ("engine/streams.py", "id_hashes", "with np.errstate(over=None):",
     "numpy never checks integer overflow of arrays: the errstate only documents the intended wrap-around"),
    ("engine/streams.py", "RowStreams._raw", "with np.errstate(over=None):", "as above"),
    ("engine/streams.py", "RowStreams.derive", "with np.errstate(over=None):", "as above"),
    ("engine/streams.py", "RowStreams.random_masked", "with np.errstate(over=None):", "as above"),
    ("engine/streams.py", "RowStreams._raw",
     "per_row = int(np.prod(shape[1:], dtype=np.int64)) if (len(shape) > 1) or True else 1",
     "the product of no dimensions is 1, the else value"),
    ("engine/streams.py", "RowStreams._raw",
     "per_row = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) >= 1 else 1", "as above"),
    ("engine/streams.py", "RowStreams._raw", "per_row = int(np.prod(shape[1:], dtype=None)) if len(shape) > 1 else 1",
     "a product of Python ints is int64 anyway"),
    ("engine/streams.py", "RowStreams._raw", "per_row = int(np.prod(shape[1:], )) if len(shape) > 1 else 1",
     "as above"),
    ("engine/streams.py", "RowStreams.random_masked",
     "per_row = int(np.prod(mask.shape[1:], dtype=np.int64)) if (mask.ndim > 1) or True else 1",
     "the product of no dimensions is 1, the else value"),
    ("engine/streams.py", "RowStreams.random_masked",
     "per_row = int(np.prod(mask.shape[1:], dtype=np.int64)) if mask.ndim >= 1 else 1", "as above"),
    ("engine/streams.py", "RowStreams.random_masked",
     "per_row = int(np.prod(mask.shape[1:], dtype=None)) if mask.ndim > 1 else 1", "a product of Python ints is int64 anyway"),
    ("engine/streams.py", "RowStreams.random_masked",
     "per_row = int(np.prod(mask.shape[1:], )) if mask.ndim > 1 else 1", "as above"),
    ("engine/streams.py", "RowStreams.random_masked", "mask = np.asarray(mask, dtype=None)",
     "the mask is only reshaped and passed to nonzero, which treat 0/1 like False/True"),
    ("engine/streams.py", "RowStreams.random_masked", "mask = np.asarray(mask, )", "as above"),
    ("engine/streams.py", "RowStreams.random_masked", "return (_mix(x) >> np.uint64(11)).astype(None) * _TO_UNIT",
     "astype(None) is float64"),
    ("engine/streams.py", "RowStreams.random",
     "return ((self._raw(size) >> np.uint64(11)).astype(None) * _TO_UNIT).astype(dtype, copy=False)",
     "astype(None) is float64"),
    ("engine/streams.py", "RowStreams.random",
     "return ((self._raw(size) >> np.uint64(11)).astype(np.float64) * _TO_UNIT).astype(dtype, copy=None)",
     "copy only decides whether a fresh array is made; the values and dtype are the same"),
    ("engine/streams.py", "RowStreams.random",
     "return ((self._raw(size) >> np.uint64(11)).astype(np.float64) * _TO_UNIT).astype(dtype, )", "as above"),
    ("engine/streams.py", "RowStreams.random",
     "return ((self._raw(size) >> np.uint64(11)).astype(np.float64) * _TO_UNIT).astype(dtype, copy=True)",
     "as above"),
    ("engine/streams.py", "RowStreams.integers", "span = np.asarray(high, dtype=None) - low",
     "low is already int64, so the difference of integer bounds is int64 (or, for uint64 high, float64 with the "
     "same values below 2**53)"),
    ("engine/streams.py", "RowStreams.integers", "span = np.asarray(high, ) - low", "as above"),
    ("engine/streams.py", "RowStreams.integers",
     "return low + np.floor(self.random(size) * np.maximum(span, 1)).astype(np.int64) * (span >= 0)",
     "where span is 0 or 1 the floor of u * 1 is already 0"),
    ("engine/streams.py", "RowStreams.integers",
     "return low + np.floor(self.random(size) * np.maximum(span, 1)).astype(np.int64) * (span > 1)", "as above"),
    ("engine/streams.py", "RowStreams.permuted_order", 'return np.argsort(self.random(shape), axis=-1, kind=None)',
     "ties among 53-bit uniforms have probability about 2**-53: any sort gives the same order"),
    ("engine/streams.py", "RowStreams.permuted_order", "return np.argsort(self.random(shape), axis=-1, )",
     "as above"),
    ("engine/streams.py", "RowStreams.permuted_order", 'return np.argsort(self.random(shape), axis=-1, kind="STABLE")',
     "numpy reads the sort kind case-insensitively"),
    ("engine/streams.py", "RowStreams.permuted_order", 'return np.argsort(self.random(shape), kind="stable")',
     "axis=-1 is argsort's default"),
    ("engine/streams.py", "RowStreams.derive",
     "tags = np.asarray(list(tags) if (not isinstance(tags, np.ndarray)) or True else tags, dtype=np.uint64)",
     "list() of an array gives its elements, which asarray turns back into the same uint64 array"),
    # engine/ops.py
    ("engine/ops.py", "dinuc_shuffle_windows",
     "def FUNC(windows: np.ndarray, rng: np.random.Generator, alphabet: int = 6) -> np.ndarray:",
     "an extra letter that never occurs has no exits, is never the last base and draws nothing: the same "
     "output"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "if w <= 3 or b == 0:",
     "a window of 3 bases is the only sequence with its first base and its two dinucleotides: the shuffle "
     "returns it unchanged, as the copy does (its keyed streams are its own, so no later draw moves)"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "if w < 4 or b == 0:",
     "as above"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "src = windows[:, :-1].astype(None)",
     "float64 codes compare and sort as the int64 ones do"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "last = windows[:, -1].astype(None)",
     "as above"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "todo = np.ones(b, dtype=None)",
     "only read as truth values (any, flatnonzero)"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "todo = np.ones(b, )",
     "as above"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "masked = np.where(src[idx] == v, keys, -2.0)",
     "any value below the uniforms in [0, 1) keeps the other bases' exits out of the argmax"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "nxt = np.take_along_axis(dst[idx], exit_pos[idx], )  # (n, A): where each base's last exit leads",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "node = np.where(at_root, node, np.take_along_axis(nxt, node, ))",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "chosen = np.zeros((b, w - 1), dtype=None)",
     "2.0 * chosen is the same for a 0/1 float array"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "chosen = np.zeros((b, w - 1), )",
     "as above"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "order = np.argsort(src * 4.0 + keys + 2.0 * chosen, )",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "order = np.argsort(src * 5.0 + keys + 2.0 * chosen, axis=1)",
     "the sort keys of base s stay in [5s, 5s + 3), below those of the next base: the same order"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "order = np.argsort(src * 4.0 + keys + 3.0 * chosen, axis=1)",
     "the chosen exit's key 4s + 3 + u stays last among base s's and below the next base's 4s + 4: the "
     "same order"),
    ("engine/ops.py", "dinuc_shuffle_windows",
     "succ = np.take_along_axis(dst, order, )",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "free_starts",
     "cum = np.zeros((n, length + 1), dtype=None)",
     "float64 counts of blocked bases are exact: the same test == 0"),
    ("engine/ops.py", "free_starts",
     "cum = np.zeros((n, length + 1), )",
     "as above"),
    ("engine/ops.py", "free_starts",
     "inside = np.take_along_axis(cum, np.minimum(ends, length), ) - cum[:, :length]",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "interval_mask",
     "diff = np.zeros((n, length + 1), dtype=None)",
     "float64 counts of covering intervals are exact: the same > 0"),
    ("engine/ops.py", "interval_mask",
     "diff = np.zeros((n, length + 1), )",
     "as above"),
    ("engine/ops.py", "interval_mask",
     "return np.cumsum(diff[:, :-1], axis=1, dtype=None) > 0",
     "as above (the cumsum of int32 is int64 by default)"),
    ("engine/ops.py", "interval_mask",
     "return np.cumsum(diff[:, :-1], axis=1, ) > 0",
     "as above"),
    ("engine/ops.py", "pick_starts",
     "cs = np.cumsum(valid, axis=1, dtype=None)  # cs[i, s] = valid starts at <= s",
     "the cumsum of bools is int64 by default"),
    ("engine/ops.py", "pick_starts",
     "cs = np.cumsum(valid, axis=1, )  # cs[i, s] = valid starts at <= s",
     "as above"),
    ("engine/ops.py", "pick_starts",
     "before = np.zeros((n, num_perturbs), dtype=None)",
     "counts below 2**53 are exact in float64: the same ranks, and searchsorted compares values"),
    ("engine/ops.py", "pick_starts",
     "before = np.zeros((n, num_perturbs), )",
     "as above"),
    ("engine/ops.py", "pick_starts",
     "padded = np.concatenate([np.zeros((n, 1), None), cs], axis=1)",
     "as above"),
    ("engine/ops.py", "pick_starts",
     "padded = np.concatenate([np.zeros((n, 1), ), cs], axis=1)",
     "as above"),
    ("engine/ops.py", "pick_starts",
     "rank = before + np.floor(rng.random((n, num_perturbs)) * np.maximum(count, 1)).astype(None)",
     "as above"),
    ("engine/ops.py", "pick_starts",
     "before = np.take_along_axis(padded, clipped, )",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "pick_starts",
     "offset = (np.arange(n, dtype=None) * (length + 1))[:, None]",
     "arange of an int is int64 anyway"),
    ("engine/ops.py", "pick_starts",
     "offset = (np.arange(n, ) * (length + 1))[:, None]",
     "as above"),
    ("engine/ops.py", "pick_starts",
     "offset = (np.arange(n, dtype=np.int64) * (length + 2))[:, None]",
     "a row's counts are at most length, so any stride of at least length keeps the rows of the flattened "
     "counts apart and sorted: the same positions (length - 1 is killed)"),
    ("engine/ops.py", "pick_starts",
     "pos = np.searchsorted(flat, (rank + 1 + offset).ravel(), ).reshape(n, num_perturbs)",
     "side='left' is the default"),
    ("engine/ops.py", "pick_starts",
     "starts = pos - np.arange(n, dtype=None)[:, None] * length",
     "arange of an int is int64 anyway"),
    ("engine/ops.py", "pick_starts",
     "starts = pos - np.arange(n, )[:, None] * length",
     "as above"),
    ("engine/ops.py", "pick_window_pair",
     "rev = np.concatenate([rev, np.zeros((n, 1), None)], axis=1)",
     "the padding is only compared with > 0"),
    ("engine/ops.py", "pick_window_pair",
     "rev = np.concatenate([rev, np.zeros((n, 1), )], axis=1)",
     "as above"),
    ("engine/ops.py", "pick_window_pair",
     "rev = np.concatenate([rev, np.zeros((n, 2), rev.dtype)], axis=1)",
     "`after` is at most length, so an extra zero column is never read"),
    ("engine/ops.py", "pick_window_pair",
     "valid_l = free_starts(blocked, len_l) & (np.take_along_axis(rev, after, ) > 0)",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "pick_window_pair",
     "partner = np.take_along_axis(valid_r, np.clip(target, 0, length - 1), ) & inside",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "pick_window_pair",
     "partner = np.take_along_axis(valid_r, np.clip(target, None, length - 1), axis=1) & inside",
     "target = start + gap with gap >= 1 (the right motif starts after the left one): never below 1"),
    ("engine/ops.py", "pick_window_pair",
     "partner = np.take_along_axis(valid_r, np.clip(target, 1, length - 1), axis=1) & inside",
     "as above"),
    ("engine/ops.py", "refill_windows",
     "rows, starts, ends = (np.asarray(a, dtype=None) for a in (rows, starts, ends))",
     "integer arrays (site columns) stay int64"),
    ("engine/ops.py", "refill_windows",
     "rows, starts, ends = (np.asarray(a, ) for a in (rows, starts, ends))",
     "as above"),
    ("engine/ops.py", "refill_windows",
     "ordinal = np.empty(len(rows), dtype=None)",
     "the float tags are exact small integers, which derive turns into the same uint64 tags"),
    ("engine/ops.py", "refill_windows",
     "ordinal = np.empty(len(rows), )",
     "as above"),
    ("engine/ops.py", "refill_windows",
     "first = np.r_[False, rows[order][1:] != rows[order][:-1]]",
     "the first run starts at index 0 either way: where(first, arange, 0) is 0 there"),
    ("engine/ops.py", "relocate_pair",
     "left_first = s1 < s2",
     "two non-empty motifs with the same start overlap, and only rows whose motifs do not are run"),
    ("engine/ops.py", "relocate_pair",
     "left_bases = np.take_along_axis(codes, np.minimum(ls[:, None] + np.arange(length)[None, :], length - 1), )",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "relocate_pair",
     "left_bases = np.take_along_axis(codes, np.minimum(ls[:, None] + np.arange(length)[None, :], length - 2), axis=1)",
     "the left motif is followed by the right one, so its bases never include the last base"),
    ("engine/ops.py", "relocate_pair",
     "right_bases = np.take_along_axis(codes, np.minimum(rs[:, None] + np.arange(length)[None, :], length - 1), )",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "relocate_pair",
     "src = np.take_along_axis(bases[:, None, :].repeat(num_perturbs, axis=1), np.clip(offset, 0, length - 1), )",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "relocate_pair",
     "src = np.take_along_axis(bases[:, None, :].repeat(num_perturbs, axis=1), np.clip(offset, None, length - 1), axis=2)",
     "src is only read inside the new window, where the offset is >= 0"),
    ("engine/ops.py", "relocate_pair",
     "src = np.take_along_axis(bases[:, None, :].repeat(num_perturbs, axis=1), np.clip(offset, 0, length - 2), axis=2)",
     "inside the window the offset is below the motif's length, at most length - 2 (the other motif takes "
     "a base)"),
    ("engine/ops.py", "relocate_pair",
     "stuck = (new_l < 0) & (new_r < 0)",
     "pick_window_pair gives a right start exactly when it gives a left one"),
    ("engine/ops.py", "relocate_pair",
     "stuck = (new_l < 0) | (new_r <= 0)",
     "a right start is after the left motif: never 0"),
    ("engine/ops.py", "relocate_pair",
     "stuck = (new_l < 0) | (new_r < 1)",
     "as above"),
    ("engine/ops.py", "shuffle_windows",
     "return np.take_along_axis(windows, np.argsort(keys, axis=1), )",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "shuffle_windows",
     "return np.take_along_axis(windows, np.argsort(keys, ), axis=1)",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    ("engine/ops.py", "swap_random_windows",
     "ok = (ls >= 0) | (rs >= 0)",
     "pick_window_pair gives a right start exactly when it gives a left one"),
    ("engine/ops.py", "swap_random_windows",
     "ok = (ls >= 0) & (rs > 0)",
     "a right start is after the left window: never 0"),
    ("engine/ops.py", "swap_random_windows",
     "ok = (ls >= 0) & (rs >= 1)",
     "as above"),
    ("engine/ops.py", "swap_segments",
     "first = s1 < s2",
     "non-empty segments with the same start overlap: both versions raise"),
    ("engine/ops.py", "swap_segments",
     "return np.take_along_axis(codes, src, )",
     "numpy's take_along_axis and argsort default to axis=-1, the same axis of these arrays"),
    # engine/interpret/*.py and engine/perturbation.py
    ("engine/perturbation.py", "probability_scale",
     'if getattr(scorer, "kind", None) == "value":',
     "every Scorer sets kind; without one the answer is 'not value' either way"),
    ("engine/perturbation.py", "probability_scale",
     'if getattr(scorer, "kind", ) == "value":',
     "as above"),
    ("engine/perturbation.py", "probability_scale",
     'if getattr(scorer, "kind", "XXprobXX") == "value":',
     "as above"),
    ("engine/perturbation.py", "probability_scale",
     'if getattr(scorer, "kind", "PROB") == "value":',
     "as above"),
    ("engine/perturbation.py", "ProbabilityScale.score",
     "probs = np.asarray(probs, dtype=None)",
     "model outputs and scores are float arrays already: the same values and dtype"),
    ("engine/perturbation.py", "ProbabilityScale.score",
     "probs = np.asarray(probs, )",
     "model outputs and scores are float arrays already: the same values and dtype"),
    ("engine/perturbation.py", "ProbabilityScale.score",
     "return -np.take_along_axis(probs, labels[..., None].astype(np.int64), )[..., 0]",
     "numpy's take_along_axis defaults to axis=-1, the same axis here"),
    ("engine/perturbation.py", "Scorer.additive",
     "orig = np.asarray(original, dtype=None)[:, None, :]",
     "model outputs and scores are float arrays already: the same values and dtype"),
    ("engine/perturbation.py", "Scorer.additive",
     "orig = np.asarray(original, )[:, None, :]",
     "model outputs and scores are float arrays already: the same values and dtype"),
    ("engine/perturbation.py", "Scorer.additive",
     "return np.asarray(arm_a, dtype=None) + np.asarray(arm_b, dtype=np.float64) - orig",
     "the other operands are float64, so the result is float64 with the same values"),
    ("engine/perturbation.py", "Scorer.additive",
     "return np.asarray(arm_a, ) + np.asarray(arm_b, dtype=np.float64) - orig",
     "as above"),
    ("engine/perturbation.py", "Scorer.additive",
     "return np.asarray(arm_a, dtype=np.float64) + np.asarray(arm_b, dtype=None) - orig",
     "as above"),
    ("engine/perturbation.py", "Scorer.additive",
     "return np.asarray(arm_a, dtype=np.float64) + np.asarray(arm_b, ) - orig",
     "as above"),
    ("engine/perturbation.py", "Scorer.additive",
     "return np.log(np.clip(np.asarray(p, dtype=np.float64), LOSS_EPS, None))",
     "probabilities are at most 1 (checked at the model boundary), so the upper clip never binds"),
    ("engine/perturbation.py", "Scorer.additive",
     "return np.log(np.clip(np.asarray(p, dtype=np.float64), LOSS_EPS, 2.0))",
     "probabilities are at most 1 (checked at the model boundary), so the upper clip never binds"),
    ("engine/perturbation.py", "Scorer.additive",
     "return np.log(np.clip(np.asarray(p, dtype=None), LOSS_EPS, 1.0))",
     "model outputs and scores are float arrays already: the same values and dtype"),
    ("engine/perturbation.py", "Scorer.additive",
     "return np.log(np.clip(np.asarray(p, ), LOSS_EPS, 1.0))",
     "model outputs and scores are float arrays already: the same values and dtype"),
    ("engine/perturbation.py", "Scorer.additive",
     "additive += additive.max(axis=-1, keepdims=True)",
     "a softmax is unchanged by adding a constant to a row; the max only keeps exp in range, and these "
     "values lie within +-17 (logs of probabilities clipped at 1e-7): equal up to rounding"),
    ("engine/perturbation.py", "Scorer.additive",
     "additive -= additive.max(axis=None, keepdims=True)",
     "subtracting one constant from every row leaves each row's softmax unchanged (values within +-17: no "
     "overflow or underflow): equal up to rounding"),
    ("engine/perturbation.py", "Scorer.additive",
     "additive -= additive.max(keepdims=True)",
     "as above"),
    ("engine/perturbation.py", "Scorer.score",
     "return np.log(np.clip(probs[..., 1], LOGIT_EPS, None)) - np.log(np.clip(rest, LOGIT_EPS, 1.0))",
     "probabilities are at most 1 (checked at the model boundary), so the upper clip never binds"),
    ("engine/perturbation.py", "Scorer.score",
     "return np.log(np.clip(probs[..., 1], LOGIT_EPS, 2.0)) - np.log(np.clip(rest, LOGIT_EPS, 1.0))",
     "probabilities are at most 1 (checked at the model boundary), so the upper clip never binds"),
    ("engine/perturbation.py", "Scorer.score",
     "return np.log(np.clip(probs[..., 1], LOGIT_EPS, 1.0)) - np.log(np.clip(rest, LOGIT_EPS, None))",
     "the other classes sum to at most 1 (up to rounding), so the upper clip never binds"),
    ("engine/perturbation.py", "Scorer.score",
     "return np.log(np.clip(probs[..., 1], LOGIT_EPS, 1.0)) - np.log(np.clip(rest, LOGIT_EPS, 2.0))",
     "as above"),
    ("engine/perturbation.py", "Scorer.score",
     "picked = np.take_along_axis(probs, labels[..., None].astype(np.int64), )[..., 0]",
     "numpy's take_along_axis defaults to axis=-1, the same axis here"),
    ("engine/perturbation.py", "Scorer.score",
     "return -np.log(np.clip(picked, LOSS_EPS, None))",
     "probabilities are at most 1 (checked at the model boundary), so the upper clip never binds"),
    ("engine/perturbation.py", "Scorer.score",
     "return -np.log(np.clip(picked, LOSS_EPS, 2.0))",
     "probabilities are at most 1 (checked at the model boundary), so the upper clip never binds"),
    ("engine/interpret/run.py", "_score_arms",
     "scored[name] = predict(model, arr.reshape(n * k, length), block, who).reshape(n, k, -2)",
     "numpy reads any negative size in reshape as 'the rest', like -1"),
    ("engine/interpret/run.py", "check_arms",
     "top = max(3, int(batch.codes.max()) if batch.codes.size else 4)",
     "with no sequences every arm is empty and the code check (arr.size) is skipped"),
    ("engine/interpret/run.py", "flip_rate",
     "return (probs.argmax(-1) != original.argmax(+1)[:, None]).mean(axis=1)",
     "original is (n, C): axis 1 is its last axis"),
    ("engine/interpret/run.py", "run_sham",
     "batch = TestBatch(sub.codes, None, unit.motifs, sub.sites, background, k)",
     "sham_perturb never reads the labels"),
    ("engine/interpret/run.py", "run_unit",
     "if len(rows.ids) != len(unit.ids) or not np.array_equal(rows.ids, np.asarray(unit.ids, dtype=None)):",
     "array_equal compares values: a str array of the same ids is equal"),
    ("engine/interpret/run.py", "run_unit",
     "if len(rows.ids) != len(unit.ids) or not np.array_equal(rows.ids, np.asarray(unit.ids, )):",
     "as above"),
    ("engine/interpret/run.py", "run_unit",
     'control_name = getattr(test, "control", None) or SHAM',
     "a missing control falls back to SHAM through the `or` either way"),
    ("engine/interpret/run.py", "run_unit",
     "d = np.asarray(combine(probs, orig, batch, scorer), dtype=None)",
     "deltas() returns float arrays (score differences); its shape and finiteness are checked next either "
     "way"),
    ("engine/interpret/run.py", "run_unit",
     "d = np.asarray(combine(probs, orig, batch, scorer), )",
     "as above"),
    ("engine/interpret/run.py", "run_unit",
     "pe = np.asarray(combine(probs, orig, batch, prob_scorer), dtype=None)",
     "as above"),
    ("engine/interpret/run.py", "run_unit",
     "pe = np.asarray(combine(probs, orig, batch, prob_scorer), )",
     "as above"),
    ("engine/interpret/summarize.py", "_check_arrays",
     "return np.zeros(1)",
     "with no deltas (count 0) the statistics return before reading any check"),
    ("engine/interpret/summarize.py", "_check_arrays",
     "return np.full(n, None)",
     "read as float64, None is NaN: the same as np.nan"),
    ("engine/interpret/summarize.py", "_check_arrays",
     "return zero_small(g[col].to_numpy(None), tolerance) if not prob else g[col].to_numpy(np.float64)",
     "the arm columns are float64 (read_deltas checks the delta columns; arm columns come from the run)"),
    ("engine/interpret/summarize.py", "_check_arrays",
     "return zero_small(g[col].to_numpy(np.float64), tolerance) if not prob else g[col].to_numpy(None)",
     "as above"),
    ("engine/interpret/summarize.py", "summarize_deltas",
     "if (len(deltas)) or True else {}",
     "grouping an empty frame gives no groups, as {} does"),
    ("engine/interpret/summarize.py", "summarize_deltas",
     'groups = {key: g for key, g in deltas.groupby(["model", "test", "motifs", "test_params"], sort=None)} \\',
     "the groups are looked up by key; their order is never read"),
    ("engine/interpret/summarize.py", "summarize_deltas",
     'groups = {key: g for key, g in deltas.groupby(["model", "test", "motifs", "test_params"], )} \\',
     "as above"),
    ("engine/interpret/summarize.py", "summarize_deltas",
     'groups = {key: g for key, g in deltas.groupby(["model", "test", "motifs", "test_params"], sort=True)} \\',
     "as above"),
    ("engine/interpret/summarize.py", "summarize_deltas",
     "get = (lambda c: g[c].to_numpy(None)) if g is not None else (lambda c: empty)",
     "the delta columns are float64 (read_deltas checks them)"),
    ("engine/interpret/summarize.py", "summarize_deltas",
     'labels = g["label"].to_numpy(None) if g is not None else np.zeros(0, np.int64)',
     "the label column is int64"),
    ("engine/interpret/summarize.py", "summarize_deltas",
     'labels = g["label"].to_numpy(np.int64) if g is not None else np.zeros(0, None)',
     "with no deltas the statistics return before reading the labels"),
    ("engine/interpret/summarize.py", "summarize_deltas",
     'labels = g["label"].to_numpy(np.int64) if g is not None else np.zeros(0, )',
     "as above"),
    ("engine/interpret/summarize.py", "summarize_deltas",
     'labels = g["label"].to_numpy(np.int64) if g is not None else np.zeros(1, np.int64)',
     "as above"),
    ("engine/interpret/summarize.py", "write_deltas",
     'pq.write_table(table, tmp, compression="ZSTD")',
     "pyarrow reads codec names case-insensitively"),
    ("engine/interpret/plan.py", "_controls_of",
     'control = getattr(test, "control", None) or "sham"',
     "a missing control falls back to 'sham' through the `or` either way"),
    ("engine/interpret/plan.py", "plan",
     'deterministic = bool(getattr(test, "deterministic", None))',
     "bool(None) is False, the default"),
    ("engine/interpret/summarize.py", "_check_arrays",
     "out.append((status, against, column(arm, None), column(against, False), column(arm, True),",
     "prob is only read as a truth value, and None is as false as False"),
    ("engine/interpret/summarize.py", "_check_arrays",
     "out.append((status, against, column(arm, False), column(against, None), column(arm, True),",
     "as above"),
    ("engine/interpret/plan.py", "_controls_of",
     'for check in getattr(test, "checks", None) or ():',
     "missing checks fall back to () through the `or` either way"),
)


def files_of(group: Group) -> list[str]:
    """The group's existing files, relative to the package root, sorted."""
    found = set()
    for pattern in group.mutate:
        for path in ROOT.glob(pattern):
            if path.is_file() and path.suffix == ".py" and path.name != "__init__.py" or (
                    path.is_file() and path.name == "__init__.py" and pattern.endswith("__init__.py")):
                found.add(path.relative_to(ROOT).as_posix())
    return sorted(found)


def tests_of(group: Group) -> list[str]:
    return [t for t in group.tests if (ROOT / t.split("::")[0]).exists()]


def layout(group: Group, work: Path) -> None:
    """A scratch project in ``work``: the package under ``motifprobe/``, tests, and the config."""
    if work.exists():
        shutil.rmtree(work)
    pkg = work / "motifprobe"
    pkg.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in PACKAGE_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, pkg / part, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, pkg / part)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    if (ROOT / "docs").is_dir():  # some tests read the manual
        shutil.copytree(ROOT / "docs", work / "docs")
    files = [f"motifprobe/{f}" for f in files_of(group)]
    toml = ["[tool.mutmut]",
            f"source_paths = {json.dumps(['motifprobe'])}",
            f"only_mutate = {json.dumps(files)}",
            f"pytest_add_cli_args_test_selection = {json.dumps(tests_of(group))}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly"]',
            "use_git_change_detection = false",
            f"timeout_multiplier = {group.timeout[1]}",
            f"timeout_constant = {group.timeout[0]}",
            "",
            "[tool.pytest.ini_options]",
            'testpaths = ["tests"]',
            'filterwarnings = ["ignore:pkg_resources is deprecated"]',
            ""]
    (work / "pyproject.toml").write_text("\n".join(toml))


STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout",
          37: "caught by type check", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
          None: "not checked"}


def read_results(work: Path) -> dict[str, dict[str, str]]:
    """{file (relative to the package root): {mutant name: status}}."""
    out: dict[str, dict[str, str]] = {}
    for meta in sorted((work / "mutants" / "motifprobe").rglob("*.py.meta")):
        rel = meta.relative_to(work / "mutants" / "motifprobe").as_posix()[:-len(".meta")]
        data = json.loads(meta.read_text())
        out[rel] = {key: STATUS.get(code, "suspicious") for key, code in data.get("exit_code_by_key", {}).items()}
    return out


_NAME = re.compile(r"^(?P<base>.+)__mutmut_(?P<n>\d+|orig)$")


def mutant_diffs(work: Path, rel: str) -> dict[str, tuple[str, str, str]]:
    """{mutant key: (function, removed lines, added lines)} of one mutated file, from mutmut's own
    copy of every mutant function (``x_<name>__mutmut_<n>`` beside ``x_<name>__mutmut_orig``)."""
    path = work / "mutants" / "motifprobe" / rel
    source = path.read_text()
    lines = source.splitlines()
    module = "motifprobe." + rel[:-3].replace("/", ".")
    functions: dict[str, dict[str, str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            match = _NAME.match(node.name)
            if match:
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                text = "\n".join(lines[first - 1:node.end_lineno])
                functions.setdefault(match["base"], {})[match["n"]] = text.replace(node.name, "FUNC", 1)
    out = {}
    for base, versions in functions.items():
        orig = versions.get("orig", "").splitlines()
        shown = base[2:].replace("\u01c1", ".")  # x_name or xǁClassǁmethod
        for n, text in versions.items():
            if n == "orig":
                continue
            diff = list(difflib.unified_diff(orig, text.splitlines(), n=0, lineterm=""))[2:]
            removed = " / ".join(line[1:].strip() for line in diff if line.startswith("-"))
            added = " / ".join(line[1:].strip() for line in diff if line.startswith("+"))
            out[f"{module}.{base}__mutmut_{n}"] = (shown, removed, added)
    return out


def is_equivalent(rel: str, diff: tuple[str, str, str] | None) -> bool:
    return diff is not None and any(e[:3] == (rel, diff[0], diff[2]) for e in EQUIVALENT)


def tally(statuses: dict[str, str], rel: str = "", diffs: dict | None = None) -> dict[str, int]:
    t = {"mutants": len(statuses), "killed": 0, "survived": 0, "equivalent": 0, "other": 0}
    for key, status in statuses.items():
        if status in ("survived", "no tests") and is_equivalent(rel, (diffs or {}).get(key)):
            t["equivalent"] += 1
        elif status in ("killed", "timeout", "caught by type check"):
            t["killed"] += 1
        elif status in ("survived", "no tests"):
            t["survived"] += 1
        else:
            t["other"] += 1
    return t


def rate(t: dict[str, int]) -> float:
    judged = t["killed"] + t["survived"]
    return t["survived"] / judged if judged else 0.0


def _order(key: str) -> tuple[str, int]:
    base, _, n = key.rpartition("__mutmut_")
    return base, int(n) if n.isdigit() else -1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", help="groups to run (default: all whose files exist)")
    parser.add_argument("--work", type=Path, default=ROOT / ".mutate", help="scratch directory (default .mutate/, "
                        "git-ignored)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--max-rate", type=float, default=0.10)
    parser.add_argument("--list", action="store_true", help="show the groups and exit")
    parser.add_argument("--show-survivors", action="store_true", help="print each surviving mutant's diff")
    parser.add_argument("--report-only", action="store_true", help="read the last run's results, run nothing")
    parser.add_argument("--equivalents", action="store_true",
                        help="print the mutants judged equivalent, with why, as a Markdown table, and exit")
    args = parser.parse_args(argv)
    names = {g.name for g in GROUPS}
    unknown = sorted(set(args.groups) - names)
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; groups: {', '.join(sorted(names))}")
    chosen = [g for g in GROUPS if g.name in args.groups] if args.groups else [g for g in GROUPS if not g.pending]
    if args.equivalents:
        print("| module | function | mutated line | why it is equivalent |\n| --- | --- | --- | --- |")
        for rel, function, line, why in EQUIVALENT:
            shown, why = line.replace("|", "\\|"), why.replace("|", "\\|")
            print(f"| `{rel}` | `{function}` | `{shown}` | {why} |")
        return 0
    if args.list:
        for g in GROUPS if not args.groups else chosen:
            print(f"{g.name}: {' '.join(files_of(g)) or '(no files yet)'}  <- {' '.join(tests_of(g))}"
                  + (f"  [{g.note}{'; run only when named' if g.pending else ''}]" if g.note else ""))
        return 0
    for g in GROUPS:
        if g.pending and g not in chosen:
            print(f"== {g.name}: not run ({g.note}; run it by name: make mutate GROUPS={g.name})")
    mutmut = Path(sys.executable).with_name("mutmut")
    if not mutmut.exists():
        print("mutmut is not installed: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    rows, failed = [], False
    start_all = time.monotonic()
    for g in chosen:
        if not files_of(g) or not tests_of(g):
            print(f"== {g.name}: skipped (files or tests not there yet)")
            continue
        work = args.work / g.name
        start = time.monotonic()
        if not args.report_only:
            layout(g, work)
            print(f"== {g.name}: mutmut run over {', '.join(files_of(g))}", flush=True)
            env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
            env.pop("PYTHONPATH", None)
            log = work / "mutmut.log"  # progress while it runs: tail -f this file
            with log.open("w") as out:
                code = subprocess.run([str(mutmut), "run", "--max-children", str(args.max_children)], cwd=work,
                                      env=env, stdout=out, stderr=subprocess.STDOUT).returncode
            if code != 0:
                print(f"   mutmut failed (exit {code}); last lines of {log}:")
                print("\n".join(log.read_text(errors="replace").strip().splitlines()[-15:]))
                failed = True
                continue
        results = read_results(work)
        for rel in files_of(g):
            diffs = mutant_diffs(work, rel) if (work / "mutants" / "motifprobe" / rel).exists() else {}
            t = tally(results.get(rel, {}), rel, diffs)
            rows.append((g.name, rel, t, time.monotonic() - start))
            if args.show_survivors:
                for key, status in sorted(results.get(rel, {}).items(), key=lambda kv: _order(kv[0])):
                    diff = diffs.get(key)
                    if status in ("survived", "no tests") and not is_equivalent(rel, diff):
                        function, removed, added = diff or ("?", "?", "?")
                        print(f"{status}: {key}\n    - {removed}\n    + {added}")
    print()
    print(f"{'group':<16}{'module':<32}{'mutants':>8}{'killed':>8}{'survived':>9}{'equiv.':>8}{'other':>7}{'rate':>8}")
    over = False
    totals: dict[str, dict[str, int]] = {}
    for group, rel, t, _ in rows:
        r = rate(t)
        print(f"{group:<16}{rel:<32}{t['mutants']:>8}{t['killed']:>8}{t['survived']:>9}{t['equivalent']:>8}"
              f"{t['other']:>7}{r:>8.1%}")
        agg = totals.setdefault(group, {"mutants": 0, "killed": 0, "survived": 0, "equivalent": 0, "other": 0})
        for k in agg:
            agg[k] += t[k]
    for group, t in totals.items():
        seconds = max(s for g, _, _, s in rows if g == group)
        r = rate(t)
        over |= r > args.max_rate
        print(f"survival rate {group}: {r:.1%} ({t['survived']} of {t['killed'] + t['survived']} non-equivalent "
              f"mutants survived; {t['equivalent']} equivalent)" + ("" if args.report_only else f" in {seconds:.0f} s"))
    all_t = {k: sum(t[k] for t in totals.values()) for k in ("killed", "survived", "equivalent")}
    print(f"survival rate overall: {rate(all_t):.1%}"
          + ("" if args.report_only else f" in {time.monotonic() - start_all:.0f} s"))
    return 1 if failed or over else 0


if __name__ == "__main__":
    sys.exit(main())
