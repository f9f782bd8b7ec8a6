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
    python scripts/mutate.py interpret       # a pending group runs only when named
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
    pending: bool = False
    """Run only when named (``make mutate GROUPS=interpret``): the modules are being rewritten and
    their tests are too slow for mutation testing (each mutant re-runs whole interpretations)."""


GROUPS = (
    Group("stats", ("engine/stats.py",), ("tests/test_stats.py",)),
    Group("scorecard", ("engine/scorecard.py",), ("tests/test_scorecard.py",)),
    Group("rules", ("engine/rules.py", "plugins/rules/*.py"), ("tests/test_rule_plugins.py",)),
    Group("features-params", ("engine/features.py", "engine/params.py"),
          ("tests/test_param_declarations.py", "tests/test_scorecard.py")),
    # Being rewritten (plan/run/summarize, ops, keyed streams): covered by pattern once they settle.
    Group("interpret", ("engine/interpret.py", "engine/interpret/*.py", "engine/perturb.py", "engine/ops.py",
                        "engine/perturbation.py", "engine/streams.py"),
          ("tests/test_interpret.py", "tests/test_perturb.py", "tests/test_keyed_runs.py"), note="being rewritten",
          pending=True),
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
    ("engine/stats.py", "bootstrap_ci", "block = max(2, min(n_boot, 2_000_000 // x.size))",
     "the block size only bounds memory: generating (2, n) indices draws the same stream as two (1, n) "
     "draws; it differs from the original only for n_boot = 1 (block clipped by hi) or x.size > 1e6"),
    ("engine/stats.py", "bootstrap_ci", "block = max(1, min(n_boot, 2000001 // x.size))",
     "same block size unless x.size divides 2,000,001 (3 x 666,667) and n_boot exceeds it; and the block "
     "size does not change the draws"),
    ("engine/stats.py", "bootstrap_ci",
     "means[lo:hi] = x[rng.integers(x.size, size=(hi - lo, x.size), dtype=np.int32)].mean(axis=1)",
     "integers(high) with one bound means integers(0, high)"),
    ("engine/stats.py", "bootstrap_ci",
     "means[lo:hi] = x[rng.integers(0, x.size, size=(hi - lo, x.size), )].mean(axis=1)",
     "numpy draws bounded int64 through the same 32-bit path as int32 when the range fits 32 bits "
     "(any x smaller than 4e9 values): the same indices"),
    ("engine/stats.py", "benjamini_hochberg", "q[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 2.0)",
     "the running minimum from the top is at most max(p) * m / m = max(p) <= 1 for p-values, so the cap "
     "never binds"),
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
     "as above"),
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
            "timeout_multiplier = 10.0",
            "timeout_constant = 5.0",
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
