"""Plugin discovery through real entry points (a distribution written into a temp dir)."""
from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.registry import PluginLoadWarning, Registry

GOOD = '''
from motifprobe import hookimpl

class Echo:
    param_defaults = {}

@hookimpl
def register_models(register):
    register("echo-model", Echo, aliases=("echo",))
'''
BROKEN = "raise ImportError('this plugin is broken on purpose')\n"
DUPLICATE = '''
from motifprobe import hookimpl

@hookimpl
def register_models(register):
    register("sklearn", object)
'''


def install_dist(root, dist, modules: dict[str, str]):
    """Write a minimal installed distribution (dist-info + modules) under ``root``."""
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = ["[motifprobe]"] + [f"{name.replace('_', '-')} = {name}" for name in modules]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    for var in ("MOTIFPROBE_LOAD_PLUGINS", "MOTIFPROBE_DISABLE_PLUGINS", "MOTIFPROBE_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    yield tmp_path
    for name in ("good_plugin", "broken_plugin", "dup_plugin"):
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


def test_builtins_register_through_the_hooks():
    reg = Registry(entry_points=False)
    assert {"simdna", "fast"} <= set(reg.names("generator"))
    assert {"torch-cnn", "kmer-logreg", "xgboost-kmer"} <= set(reg.names("model"))
    assert reg.get("model", "sklearn").name == "kmer-logreg"  # the former name is an alias
    assert reg.names("perturbation_test")[:5] == ["presence", "order", "distance", "interaction", "control"]
    assert reg.plugins["simdna"].builtin and reg.plugins["simdna"].distribution == "motifprobe"


def test_entry_point_plugin_is_discovered_with_its_distribution(site):
    install_dist(site, "mp-good", {"good_plugin": GOOD})
    reg = Registry()
    entry = reg.get("model", "echo")
    assert entry.name == "echo-model" and entry.distribution == "mp-good" and entry.version == "1.2.3"
    assert reg.plugins["good-plugin"].registers == {"model": ["echo-model"]}


def test_broken_plugin_warns_and_the_rest_loads(site):
    install_dist(site, "mp-broken", {"broken_plugin": BROKEN})
    install_dist(site, "mp-good", {"good_plugin": GOOD})
    with pytest.warns(PluginLoadWarning, match="'broken-plugin' from distribution 'mp-broken'"):
        reg = Registry()
    assert "echo-model" in reg.names("model") and "broken-plugin" in reg.failed


def test_strict_mode_reraises(site, monkeypatch):
    install_dist(site, "mp-broken", {"broken_plugin": BROKEN})
    monkeypatch.setenv("MOTIFPROBE_STRICT_PLUGINS", "1")
    with pytest.raises(ImportError, match="broken on purpose"):
        Registry()


def test_duplicate_names_name_both_plugins(site, monkeypatch):
    """A taken name is refused for the later plugin only; strict mode raises, naming both."""
    install_dist(site, "mp-dup", {"dup_plugin": DUPLICATE})
    with pytest.warns(PluginLoadWarning, match=r"'dup-plugin' from distribution 'mp-dup'.*'sklearn' \(motifprobe\)"):
        reg = Registry()
    assert reg.get("model", "sklearn").plugin == "sklearn" and "dup-plugin" not in reg.plugins
    monkeypatch.setenv("MOTIFPROBE_STRICT_PLUGINS", "1")
    with pytest.raises(MotifprobeError, match=r"'sklearn'.*'sklearn' \(motifprobe\).*'dup-plugin' \(mp-dup\)"):
        Registry()


def test_allow_and_block_lists(site, monkeypatch):
    install_dist(site, "mp-good", {"good_plugin": GOOD})
    monkeypatch.setenv("MOTIFPROBE_LOAD_PLUGINS", "")
    assert "echo-model" not in Registry().names("model")
    monkeypatch.setenv("MOTIFPROBE_LOAD_PLUGINS", "mp-good")
    assert "echo-model" in Registry().names("model")
    monkeypatch.delenv("MOTIFPROBE_LOAD_PLUGINS")
    monkeypatch.setenv("MOTIFPROBE_DISABLE_PLUGINS", "good-plugin,xgboost-kmer")
    reg = Registry()
    assert "echo-model" not in reg.names("model") and "xgboost-kmer" not in reg.names("model")


def test_unknown_name_lists_the_registered_ones():
    reg = Registry(entry_points=False)
    with pytest.raises(MotifprobeError, match="did you mean torch-cnn"):
        reg.get("model", "torch_cnn")


MISSPELLED = '''
from motifprobe import hookimpl

@hookimpl
def register_model(register):
    register("never", object)
'''


def test_misspelled_hook_name_costs_a_warning_not_the_tool(site):
    install_dist(site, "mp-typo", {"typo_plugin": MISSPELLED})
    install_dist(site, "mp-good", {"good_plugin": GOOD})
    with pytest.warns(PluginLoadWarning, match="'typo-plugin' from distribution 'mp-typo'"):
        reg = Registry()
    assert "echo-model" in reg.names("model") and "typo-plugin" not in reg.plugins
    sys.modules.pop("typo_plugin", None)
