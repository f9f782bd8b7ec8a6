"""The README's demo scorecard is the demo's output, not a hand-copied table."""
from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("readme_demo", ROOT / "scripts" / "readme_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_block_is_the_rendering_of_the_stored_demo_output():
    script = _script()
    block = script.readme_block((ROOT / "README.md").read_text())
    assert block == script.render(script.load(ROOT / "docs" / "demo"))
    assert "torch-cnn" in block and "| presence | STAT_known2 | + |" in block


def _demo_commands() -> list[list[str]]:
    """The motifprobe commands of scripts/demo.sh, as argument lists."""
    text = (ROOT / "scripts" / "demo.sh").read_text().replace("\\\n", " ")
    return [shlex.split(line)[1:] for line in text.splitlines() if line.strip().startswith("$MP ")]


def test_a_fresh_demo_run_reproduces_the_readme(tmp_path, monkeypatch):
    """Runs the demo's own commands (about a minute on 2 cores) and compares with docs/demo:
    every verdict and status exactly, every number to the README's precision (float32 models on
    another CPU may differ in the last digits, so within 0.01 or 1%)."""
    from motifprobe import cli

    commands = _demo_commands()
    assert [c[0] for c in commands] == ["generate", "compare"], commands
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo_out").mkdir()
    for args in commands:
        assert cli.main(args) == 0, args
    script = _script()
    fresh, stored = script.load(tmp_path / "demo_out" / "compare"), script.load(ROOT / "docs" / "demo")
    for name in ("compare.csv", "scorecard.csv"):
        keys = ["model", "test", "motifs"]
        a, b = (t.set_index(keys).sort_index() for t in (fresh[name], stored[name]))
        assert list(a.index) == list(b.index), name
        for col in a.columns:
            if pd.api.types.is_float_dtype(b[col]):
                diff = (a[col] - b[col]).abs()
                assert (diff <= 0.01 + 0.01 * b[col].abs()).all(), (name, col, a[col][diff > 0.01].head())
            else:
                assert a[col].fillna("").tolist() == b[col].fillna("").tolist(), (name, col)
    summary = fresh["summary.csv"].set_index("model")
    expected = stored["summary.csv"].set_index("model")
    for col in ("beats_baseline", "learned_rule", "hits", "misses", "wrong_sign", "extras", "decoy_false_calls",
                "shortcuts"):
        assert summary[col].tolist() == expected[col].tolist(), col
    assert (summary["accuracy"] - expected["accuracy"]).abs().max() <= 0.01
    # the statements differ at most in the printed accuracy
    strip = re.compile(r"\d\.\d{3}")
    assert [strip.sub("x", s) for s in summary["statement"]] == [strip.sub("x", s) for s in expected["statement"]]
