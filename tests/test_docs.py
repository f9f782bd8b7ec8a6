"""The plugin author's manual (docs/plugins.md) stays true to engine/hookspecs.py."""
from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

from motifprobe.engine import hookspecs
from motifprobe.engine.registry import Registry
from motifprobe.engine.testing import check_perturbation_test

ROOT = Path(__file__).resolve().parent.parent
MANUAL = ROOT / "docs" / "plugins.md"
SPEC_ATTR = f"{hookspecs.NAME}_spec"  # pluggy marks hookspecs with "<project>_spec"


def hookspec_functions() -> list:
    specs = [obj for _, obj in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(obj, SPEC_ATTR)]
    assert specs, "no hookspecs found in engine.hookspecs"
    return specs


def plain_signature(func) -> str:
    """``def name(args)`` without annotations or return type."""
    sig = inspect.signature(func)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return f"def {func.__name__}{sig.replace(parameters=params, return_annotation=inspect.Signature.empty)}"


def manual_text() -> str:
    assert MANUAL.is_file(), "docs/plugins.md is missing"
    return MANUAL.read_text()


def test_hookspecs_are_found():
    names = {f.__name__ for f in hookspec_functions()}
    assert {"register_generators", "register_models", "register_perturbation_tests"} <= names


@pytest.mark.parametrize("func", hookspec_functions(), ids=lambda f: f.__name__)
def test_every_hookspec_is_documented_with_its_exact_signature(func):
    signature = plain_signature(func)
    lines = [line.strip() for line in manual_text().splitlines()]
    assert signature in lines, f"docs/plugins.md lacks the line {signature!r}"


@pytest.mark.parametrize("func", hookspec_functions(), ids=lambda f: f.__name__)
def test_every_hookspec_is_exercised_by_some_test(func):
    here = Path(__file__).resolve()
    users = [p.name for p in (ROOT / "tests").rglob("*.py")
             if p.resolve() != here and func.__name__ in p.read_text()]
    assert users, f"no test under tests/ uses the hook {func.__name__}"


def test_manual_documents_the_environment_and_the_entry_point_group():
    text = manual_text()
    for needle in ("MOTIFPROBE_LOAD_PLUGINS", "MOTIFPROBE_DISABLE_PLUGINS", "MOTIFPROBE_STRICT_PLUGINS",
                   f"[project.entry-points.{hookspecs.NAME}]", "plugin_distribution", "pip install",
                   "check_model", "check_generator", "check_perturbation_test"):
        assert needle in text, f"docs/plugins.md does not mention {needle}"


def test_readme_links_the_manual():
    readme = ROOT / "README.md"
    assert MANUAL.is_file()
    if readme.is_file():
        assert "docs/plugins.md" in readme.read_text()


def test_the_manuals_minimal_plugin_works():
    """The ~20-line example in the manual registers and passes the conformance check."""
    blocks = re.findall(r"```python\n(.*?)```", manual_text(), flags=re.S)
    [source] = [b for b in blocks if b.startswith("# motifprobe_reverse.py")]
    assert len(source.strip().splitlines()) <= 25
    module = types.ModuleType("motifprobe_reverse")
    exec(compile(source, "docs/plugins.md", "exec"), module.__dict__)  # noqa: S102 - our own docs
    registry = Registry(extra_plugins={"reverse": module}, entry_points=False)
    entry = registry.get("perturbation_test", "reverse")
    assert entry.plugin == "reverse"
    check_perturbation_test(entry.factory)
