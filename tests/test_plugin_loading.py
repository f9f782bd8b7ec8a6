"""Loading that no plugin can break, and ``motifprobe plugins [NAME]`` (issue 11, items 4 and 5).

Every broken plugin is installed through a REAL entry point: a throw-away module plus a
``*.dist-info`` (METADATA, entry_points.txt in group ``motifprobe``) written into a temp dir
that is put on ``sys.path`` (in process) or ``PYTHONPATH`` (the ``motifprobe`` console script
in a subprocess).
"""
from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from motifprobe import cli
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.params import declared_params
from motifprobe.engine.registry import KINDS, PluginLoadWarning, PluginRefused, Registry, reset_registry

ENV_VARS = ("MOTIFPROBE_LOAD_PLUGINS", "MOTIFPROBE_DISABLE_PLUGINS", "MOTIFPROBE_STRICT_PLUGINS")
HEAD = "from motifprobe import hookimpl\nfrom motifprobe.engine.errors import MotifprobeError\n"

# A well-behaved third party, installed next to each broken one: it must keep working.
FINE = HEAD + '''
class FineModel:
    """A model that is fine. Second line of the docstring."""
    param_defaults = {"k": 3}
    param_help = {"k": "k-mer length"}

@hookimpl
def register_models(register):
    register("fine-model", FineModel, aliases=("fine",))
'''

# kind -> (module source, fragment of the reason, (kind, name) it tried to register, strict exception)
BROKEN = {
    "badparam": (HEAD + '''
@hookimpl
def register_models(reg):
    reg("badparam-model", object)
''', "PluginValidationError", [("model", "badparam-model")], Exception),
    "taken": (HEAD + '''
class Gen:
    """Would be fine on its own."""

@hookimpl
def register_generators(register):
    register("taken-gen", Gen)

@hookimpl
def register_models(register):
    register("torch-cnn", Gen)
''', "duplicate model name 'torch-cnn'", [("generator", "taken-gen"), ("model", "torch-cnn")], PluginRefused),
    "aliastaken": (HEAD + '''
@hookimpl
def register_models(register):
    register("aliastaken-model", object, aliases=("cnn",))
''', "duplicate model name 'cnn'", [("model", "aliastaken-model"), ("model", "cnn")], PluginRefused),
    "runtime": (HEAD + '''
@hookimpl
def register_perturbation_tests(register):
    raise RuntimeError("boom-runtime")
''', "hook register_perturbation_tests: RuntimeError: boom-runtime", [], RuntimeError),
    "usererr": (HEAD + '''
@hookimpl
def register_rules(register):
    raise MotifprobeError("boom-user")
''', "hook register_rules: MotifprobeError: boom-user", [], MotifprobeError),
    "half": (HEAD + '''
class Half:
    """Half of a plugin."""

@hookimpl
def register_generators(register):
    register("half-gen", Half)

@hookimpl
def register_models(register):
    register("half-model", Half, aliases=("half",))
    raise ValueError("boom-half")
''', "hook register_models: ValueError: boom-half", [("generator", "half-gen"), ("model", "half-model"),
                                                     ("model", "half")], ValueError),
    "importerr": ("raise ImportError('boom-import')\n", "import: ImportError: boom-import", [], ImportError),
    "typo": (HEAD + '''
@hookimpl
def register_generators(register):
    register("typo-gen", object)

@hookimpl
def register_model(register):
    register("typo-model", object)
''', "unknown hook 'register_model'", [("generator", "typo-gen"), ("model", "typo-model")], Exception),
}
STRICT_MATCH = {"badparam": r"\{'reg'\}", "taken": "'torch-cnn'", "aliastaken": "'cnn'", "runtime": "boom-runtime",
                "usererr": "boom-user", "half": "boom-half", "importerr": "boom-import",
                "typo": "unknown hook 'register_model'"}
BUILTIN_OWNED = {("model", "torch-cnn"), ("model", "cnn")}  # refused names stay with the built-in


def module_name(kind: str) -> str:
    return f"mpx_{kind}"


def plugin_name(kind: str) -> str:
    return f"mpx-{kind}"


def dist_name(kind: str) -> str:
    return f"mpx-dist-{kind}"


def install_dist(root: Path, dist: str, modules: dict[str, str]) -> None:
    """A minimal installed distribution: dist-info (METADATA, entry_points.txt) + modules."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
    lines = ["[motifprobe]"] + [f"{name.replace('_', '-')} = {name}" for name in modules]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))


def _forget_modules() -> None:
    for name in [m for m in sys.modules if m.startswith("mpx_")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def site(tmp_path, monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    _forget_modules()
    reset_registry()
    yield tmp_path
    _forget_modules()
    reset_registry()


def assert_not_registered(reg: Registry, kind: str, name: str, plugin: str) -> None:
    if (kind, name) in BUILTIN_OWNED:
        entry = reg.get(kind, name)
        assert entry.distribution == "motifprobe" and reg.plugins[entry.plugin].builtin
    else:
        with pytest.raises(MotifprobeError):
            reg.get(kind, name)
    assert all(e.plugin != plugin for k in KINDS for e in reg._entries[k].values())


# -- item 5: each broken kind, in process ---------------------------------------------------------
@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_plugin_is_skipped_as_a_whole(site, monkeypatch, kind):
    source, fragment, names, strict_exc = BROKEN[kind]
    install_dist(site, dist_name(kind), {module_name(kind): source})
    install_dist(site / "fine", "mpx-dist-fine", {"mpx_fine": FINE})
    monkeypatch.syspath_prepend(str(site / "fine"))
    with pytest.warns(PluginLoadWarning) as record:
        reg = Registry()
    lines = [str(w.message) for w in record if issubclass(w.category, PluginLoadWarning)]
    assert len(lines) == 1, lines
    assert f"'{plugin_name(kind)}' from distribution '{dist_name(kind)}'" in lines[0]
    assert fragment in lines[0] and "\n" not in lines[0]
    [failure] = reg.failures
    assert (failure.plugin, failure.distribution) == (plugin_name(kind), dist_name(kind))
    assert fragment in failure.reason and reg.failed == {plugin_name(kind): failure.reason}
    # Nothing of it stays: not in pluggy, not in the plugins, none of its names or aliases.
    assert plugin_name(kind) not in reg.plugins and reg.pm.get_plugin(plugin_name(kind)) is None
    for k, name in names:
        assert_not_registered(reg, k, name, plugin_name(kind))
    # Built-ins and the other third party keep working.
    assert reg.get("model", "fine").plugin == "mpx-fine" and reg.plugins["mpx-fine"].registers == {"model": ["fine-model"]}
    assert {"fast", "simdna"} <= set(reg.names("generator")) and "presence" in reg.names("rule")
    assert reg.names("model")[:3] == ["torch-cnn", "kmer-logreg", "xgboost-kmer"]  # built-ins first
    monkeypatch.setenv("MOTIFPROBE_STRICT_PLUGINS", "1")
    with pytest.raises(strict_exc, match=STRICT_MATCH[kind]):
        Registry()


def test_the_first_registrant_keeps_a_name(site, monkeypatch):
    mine = HEAD + '''
class {cls}:
    """{doc}"""

@hookimpl
def register_perturbation_tests(register):
    register("shared-test", {cls})
'''
    install_dist(site / "b", "mpx-dist-second", {"mpx_second": mine.format(cls="Second", doc="second")})
    install_dist(site / "a", "mpx-dist-first", {"mpx_first": mine.format(cls="First", doc="first")})
    monkeypatch.syspath_prepend(str(site / "b"))
    monkeypatch.syspath_prepend(str(site / "a"))  # earlier on sys.path: loaded first
    with pytest.warns(PluginLoadWarning, match="'mpx-second' from distribution 'mpx-dist-second'.*'shared-test'"):
        reg = Registry()
    entry = reg.get("perturbation_test", "shared-test")
    assert (entry.plugin, entry.factory.__name__) == ("mpx-first", "First")
    assert "mpx-second" not in reg.plugins and [f.plugin for f in reg.failures] == ["mpx-second"]


def test_a_plugin_named_like_a_builtin_is_refused(site):
    install_dist(site, "mpx-dist-fast", {"mpx_fast": FINE})
    (site / "mpx_dist_fast-0.0.1.dist-info" / "entry_points.txt").write_text("[motifprobe]\nfast = mpx_fast\n")
    with pytest.warns(PluginLoadWarning, match="plugin name 'fast' is already taken by motifprobe"):
        reg = Registry()
    assert reg.plugins["fast"].builtin and "fine-model" not in reg.names("model")
    assert "mpx_fast" not in sys.modules  # refused before its import


def test_register_after_the_hook_returned_is_refused(site):
    install_dist(site, "mpx-dist-late", {"mpx_late": HEAD + '''
KEPT = []

@hookimpl
def register_models(register):
    KEPT.append(register)
    register("late-model", object)
'''})
    reg = Registry()
    late = sys.modules["mpx_late"].KEPT[0]
    with pytest.raises(PluginRefused, match="after its hook returned"):
        late("sneaky-model", object)
    assert "late-model" in reg.names("model") and "sneaky-model" not in reg.names("model")


# -- item 5: the real console script, with every broken kind installed at once --------------------
@pytest.fixture(scope="module")
def broken_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("broken-site")
    for kind, (source, *_rest) in BROKEN.items():
        install_dist(root, dist_name(kind), {module_name(kind): source})
    install_dist(root, "mpx-dist-fine", {"mpx_fine": FINE})
    return root


def motifprobe(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("motifprobe")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "motifprobe.cli"]
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS and k != "PYTHONWARNINGS"}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(command + list(args), capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def check_warnings(stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == len(BROKEN), stderr
    for kind in BROKEN:
        [line] = [ln for ln in lines if f"'{plugin_name(kind)}'" in ln]
        assert line.startswith("motifprobe: warning: ") and f"'{dist_name(kind)}'" in line
        assert BROKEN[kind][1] in line


def test_plugins_json_lists_the_failures_and_none_of_their_names(broken_site, tmp_path):
    proc = motifprobe(broken_site, "plugins", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    check_warnings(proc.stderr)
    listing = json.loads(proc.stdout)
    failed = {f["plugin"]: f for f in listing["failed"]}
    assert set(failed) == {plugin_name(kind) for kind in BROKEN}
    for kind, (_, fragment, *_rest) in BROKEN.items():
        assert failed[plugin_name(kind)]["distribution"] == dist_name(kind) and fragment in failed[plugin_name(kind)]["reason"]
    plugins = {p["plugin"]: p for p in listing["plugins"]}
    assert not set(failed) & set(plugins)
    assert plugins["mpx-fine"]["registers"] == {"model": ["fine-model"]}
    assert {"fast", "torch-cnn", "presence", "rule-presence"} <= {n for n, p in plugins.items() if p["builtin"]}
    registered = {(k, label) for p in plugins.values() for k, entries in p["entries"].items()
                  for e in entries for label in (e["name"], *e["aliases"])}
    for kind, (_, _, names, _) in BROKEN.items():
        assert not (set(names) - BUILTIN_OWNED) & registered, kind
    assert plugins["torch-cnn"]["entries"]["model"][0]["aliases"] == ["cnn"]


def test_help_and_a_real_command_still_work(broken_site, tmp_path):
    proc = motifprobe(broken_site, "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "generate" in proc.stdout, proc.stderr
    assert proc.stderr == ""  # --help loads no plugin (fast), so the broken ones are not even seen
    out = tmp_path / "ds.parquet"
    proc = motifprobe(broken_site, "generate", "--generator-plugin", "fast", "--num-seqs", "50", "--seq-length", "100",
                      "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    check_warnings(proc.stderr)
    assert out.is_file() and out.stat().st_size > 0


# -- item 4: motifprobe plugins NAME --------------------------------------------------------------
@pytest.fixture
def fresh(monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cli.console, "width", 250)  # one table row per line
    reset_registry()
    yield
    reset_registry()


def test_plugins_name_shows_every_kind_a_name_has(fresh, capsys):
    assert cli.main(["plugins", "presence", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_kind = {e["kind"]: e for e in data["entries"]}
    assert set(by_kind) == {"perturbation_test", "rule"}
    assert (by_kind["rule"]["plugin"], by_kind["perturbation_test"]["plugin"]) == ("rule-presence", "presence")
    from motifprobe.engine.registry import get_registry

    for kind, e in by_kind.items():
        factory = get_registry().get(kind, "presence").factory
        assert e["description"] and "\n" not in e["description"]
        assert e["parameters"] == json.loads(json.dumps([p.describe() for p in declared_params(factory)]))
    assert cli.main(["plugins", "presence"]) == 0
    text = capsys.readouterr().out
    assert "perturbation test presence" in text and "rule presence" in text
    assert by_kind["rule"]["description"][:30] in text


def test_plugins_alias_lists_parameters_with_type_default_and_help(fresh, capsys):
    assert cli.main(["plugins", "cnn", "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)["entries"]
    assert (entry["kind"], entry["name"], entry["aliases"], entry["builtin"]) == ("model", "torch-cnn", ["cnn"], True)
    params = {p["name"]: p for p in entry["parameters"]}
    assert params["epochs"]["type"] == "int" and params["epochs"]["default"] == 30 and params["epochs"]["help"]
    assert cli.main(["plugins", "cnn"]) == 0
    text = capsys.readouterr().out
    assert "model torch-cnn (aliases: cnn)" in text
    [row] = [line for line in text.splitlines() if line.startswith("│ epochs ")]
    assert " int " in row and " 30 " in row and params["epochs"]["help"][:20] in row


def test_plugins_with_a_plugin_name_lists_all_it_registers(fresh, capsys):
    assert cli.main(["plugins", "example", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert [(e["kind"], e["name"]) for e in entries] == [("generator", "markov-gc"), ("model", "example-kmer-nb"),
                                                         ("perturbation_test", "orientation"), ("rule", "exactly-one")]
    assert {p["name"] for p in entries[1]["parameters"]} == {"k", "alpha", "balance"}


def test_plugins_listing_shows_aliases_and_descriptions(fresh, capsys):
    assert cli.main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert "cnn" in text and "perturbation test" in text and "rule" in text
    assert cli.main(["plugins", "--json"]) == 0
    catalog = json.loads(capsys.readouterr().out)
    [entry] = next(p for p in catalog["plugins"] if p["plugin"] == "control")["entries"]["perturbation_test"]
    assert entry["description"] and entry["description"].split()[0] in text
    assert catalog["failed"] == []


def test_unknown_plugins_name_is_one_line_exit_2_with_close_matches(fresh, capsys):
    assert cli.main(["plugins", "presnce"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "did you mean presence" in err


def test_plugins_name_of_a_failed_plugin_says_why(site, capsys):
    install_dist(site, dist_name("runtime"), {module_name("runtime"): BROKEN["runtime"][0]})
    with pytest.warns(PluginLoadWarning):
        code = cli.main(["plugins", plugin_name("runtime")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and dist_name("runtime") in err and "boom-runtime" in err


def test_a_description_falls_back_to_the_first_docstring_line(site, capsys):
    install_dist(site, "mpx-dist-fine", {"mpx_fine": FINE})
    reg = Registry()
    described = reg.describe("model", "fine")
    assert described["description"] == "A model that is fine. Second line of the docstring."
    assert described["parameters"] == [{"name": "k", "type": "int", "default": 3, "help": "k-mer length",
                                        "allowed": "an integer", "choices": None}]
