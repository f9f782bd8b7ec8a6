"""The plugin author's manual (docs/plugins.md) stays true to engine/hookspecs.py."""
from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

from motifprobe import FEATURES
from motifprobe.engine import hookspecs
from motifprobe.engine.features import CONTROL
from motifprobe.engine.registry import KINDS, Registry
from motifprobe.engine.testing import check_generator, check_model, check_perturbation_test, check_rule

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


def manual_examples() -> dict[str, str]:
    """The manual's runnable examples: python blocks whose first line is ``# <module>.py``."""
    blocks = re.findall(r"```python\n(.*?)```", manual_text(), flags=re.S)
    out = {}
    for block in blocks:
        match = re.match(r"# (\w+)\.py\n", block)
        if match:
            assert match.group(1) not in out, f"two examples named {match.group(1)}.py"
            out[match.group(1)] = block
    return out


def load_example(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(manual_examples()[name], f"docs/plugins.md ({name}.py)", "exec"), module.__dict__)  # noqa: S102
    return module


HOOK_FOR_KIND = {"generator": "register_generators", "model": "register_models",
                 "perturbation_test": "register_perturbation_tests", "rule": "register_rules"}
CHECKS = {"generator": check_generator, "model": check_model, "perturbation_test": check_perturbation_test,
          "rule": check_rule}


def test_hookspecs_are_found():
    names = {f.__name__ for f in hookspec_functions()}
    assert {"register_generators", "register_models", "register_perturbation_tests"} <= names


@pytest.mark.parametrize("func", hookspec_functions(), ids=lambda f: f.__name__)
def test_every_hookspec_is_documented_with_its_exact_signature(func):
    signature = plain_signature(func)
    lines = [line.strip() for line in manual_text().splitlines()]
    assert signature in lines, f"docs/plugins.md lacks the line {signature!r}"


def implements_hook(source: str, hook: str) -> bool:
    """Whether ``source`` defines ``hook`` in code: a ``def`` of it (module level, in a class, or in
    plugin source a test writes out as a string), or a call of it. Comments and prose never count."""
    import io
    import tokenize

    definition = re.compile(rf"^\s*def {hook}\(register", flags=re.M)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.NAME and tok.string == hook and i and tokens[i - 1].string in ("def", "."):
            return True
        if tok.type == tokenize.STRING and definition.search(tok.string):
            return True
    return False


def test_implements_hook_ignores_comments_and_prose():
    assert implements_hook("def register_models(register):\n    pass\n", "register_models")
    assert implements_hook("module.register_models(register=r)\n", "register_models")
    assert implements_hook("SRC = '''\n@hookimpl\ndef register_rules(register):\n    pass\n'''\n", "register_rules")
    assert not implements_hook("# def register_rules(register): a comment\nx = 1\n", "register_rules")
    assert not implements_hook('"""Uses register_rules."""\nHOOK = "register_rules"\n', "register_rules")
    assert not implements_hook("def register_rules_helper(register):\n    pass\n", "register_rules")


@pytest.mark.parametrize("func", hookspec_functions(), ids=lambda f: f.__name__)
def test_every_hookspec_is_exercised_by_some_test(func):
    here = Path(__file__).resolve()
    users = [p.name for p in (ROOT / "tests").rglob("*.py")
             if p.resolve() != here and implements_hook(p.read_text(), func.__name__)]
    assert users, f"no test under tests/ implements or calls the hook {func.__name__} (a comment does not count)"


def test_manual_documents_the_environment_and_the_entry_point_group():
    text = manual_text()
    for needle in ("MOTIFPROBE_LOAD_PLUGINS", "MOTIFPROBE_DISABLE_PLUGINS", "MOTIFPROBE_STRICT_PLUGINS",
                   f"[project.entry-points.{hookspecs.NAME}]", "plugin_distribution", "pip install",
                   "check_model", "check_generator", "check_perturbation_test", "check_rule",
                   "--test-param", "--rule-param", "--rc-prob", "motifprobe plugins NAME", "Param(",
                   "effect(", "no_effect(", "confounded(", "wrong sign", "one unit"):
        assert needle in text, f"docs/plugins.md does not mention {needle}"


def test_readme_links_the_manual():
    readme = ROOT / "README.md"
    assert MANUAL.is_file() and readme.is_file()
    text = re.sub(r"<!--.*?-->", "", readme.read_text(), flags=re.S)  # a commented-out link is no link
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # nor is one in a code block
    assert re.search(r"\[[^\]]+\]\(docs/plugins\.md(#[\w-]+)?\)", text), "README.md has no link to docs/plugins.md"


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


def test_every_hook_kind_has_a_minimal_example():
    assert set(HOOK_FOR_KIND) == set(KINDS), "a plugin kind was added: give it a hook name and a check here"
    examples = manual_examples()
    for kind, hook in HOOK_FOR_KIND.items():
        owners = [name for name, source in examples.items() if f"def {hook}(register)" in source]
        assert owners, f"docs/plugins.md has no minimal {kind} example (a block starting '# <module>.py' with {hook})"


@pytest.mark.parametrize("kind", list(HOOK_FOR_KIND))
def test_each_minimal_example_registers_and_passes_its_conformance_check(kind):
    hook = HOOK_FOR_KIND[kind]
    name = next(n for n, src in manual_examples().items() if f"def {hook}(register)" in src)
    module = load_example(name)
    registry = Registry(extra_plugins={name: module}, entry_points=False)
    assert not registry.failures, f"{name}.py failed to load: {registry.failed}"
    registered = registry.plugins[name].registers
    assert list(registered) == [kind], f"{name}.py registers {registered}, expected one {kind}"
    [entry_name] = registered[kind]
    entry = registry.get(kind, entry_name)
    assert entry.plugin == name and entry.distribution == "(registered in code)"
    assert registry.describe(kind, entry_name)["description"], f"{name}.py: no one-line description"
    CHECKS[kind](entry.factory)


def test_the_manuals_model_example_is_only_the_model():
    """Written against the manual, a model implements the template methods and no scaffolding."""
    from motifprobe import SequenceModel

    source = manual_examples()["motifprobe_kmer_nb"]
    for scaffolding in ("def fit(", "def predict_proba(", "def save(", "def load(", "config.json", "sha256",
                        "MotifprobeError"):
        assert scaffolding not in source, f"the manual's model example still does {scaffolding!r} itself"
    assert len(source.strip().splitlines()) <= 45  # 50 when each model wrote its own checks and files
    assert issubclass(load_example("motifprobe_kmer_nb").KmerNB, SequenceModel)


def test_the_rule_example_states_signed_expectations():
    """The manual's rule: AND-like (negative interaction) when k is every pos motif, OR-like at k = 1."""
    module = load_example("motifprobe_at_least")
    rule = module.AtLeastRule
    pos = ("STAT_known2", "CTCF_known1")
    assert rule(pos, k=2).expects("interaction", pos).sign == -1
    assert rule(pos, k=1).expects("interaction", pos).sign == +1
    assert rule(pos, k="2").expects("presence", pos[:1]).sign == +1  # strings coerced
    assert rule(pos).expects("presence", ("GATA_known1",)).status == "none"
    from motifprobe import MotifprobeError

    with pytest.raises(MotifprobeError, match="k=3 exceeds"):
        rule(pos, k=3)
    with pytest.raises(MotifprobeError, match="unknown parameter"):
        rule(pos, j=1)


def test_every_feature_is_named_in_the_manual():
    text = manual_text()
    table_rows = {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| `")}
    for feature in [*FEATURES, CONTROL]:
        assert f"`{feature}`" in text, f"docs/plugins.md does not name the feature {feature!r}"
    for feature in FEATURES:
        assert f"`{feature}`" in table_rows, f"the feature table in docs/plugins.md lacks a row for {feature!r}"


def test_every_builtin_rule_is_named_in_the_manual_and_the_readme():
    registry = Registry(entry_points=False)
    rules = [name for name in registry.names("rule") if registry.plugins[registry.get("rule", name).plugin].builtin]
    assert {"presence", "any", "order", "distance"} <= set(rules)
    text = manual_text()
    table_rows = {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| `")}
    readme = (ROOT / "README.md").read_text() if (ROOT / "README.md").is_file() else None
    for name in rules:
        entry = registry.get("rule", name)
        assert f"`{name}`" in table_rows, f"the built-in rule table in docs/plugins.md lacks {name!r}"
        for alias in entry.aliases:
            assert f"`{alias}`" in text, f"docs/plugins.md does not give alias {alias!r} of rule {name!r}"
        assert entry.plugin in text, f"docs/plugins.md does not name the plugin {entry.plugin!r} (to disable it)"
        if readme is not None:
            assert f"`{name}`" in readme, f"README.md does not name the built-in rule {name!r}"


def test_the_manuals_public_api_import_runs():
    """The import block in 'What a plugin is' names only what ``motifprobe`` exports."""
    blocks = re.findall(r"```python\n(.*?)```", manual_text(), flags=re.S)
    [source] = [b for b in blocks if b.startswith("from motifprobe import (")]
    exec(compile(source, "docs/plugins.md (public API)", "exec"), {})  # noqa: S102 - our own docs


def test_testing_doc_lists_every_equivalent_mutant_the_mutation_script_excludes(capsys, monkeypatch):
    """docs/testing.md's table of equivalent mutants is the one scripts/mutate.py applies."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("mutate_script", ROOT / "scripts" / "mutate.py")
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)  # its dataclass looks its module up
    spec.loader.exec_module(script)
    assert script.main(["--equivalents"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `")]
    assert len(rows) == len(script.EQUIVALENT) > 0
    doc = (ROOT / "docs" / "testing.md").read_text()
    missing = [row for row in rows if row not in doc.splitlines()]
    assert not missing, f"docs/testing.md lacks {len(missing)} equivalent mutant(s), e.g. {missing[0]}"
