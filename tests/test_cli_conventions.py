"""CLI conventions (#15 item 4): --version, fast --help, help on every flag, progress without a
terminal, the kmer-logreg name, xgboost-kmer threads, and suggestions for unknown names."""
from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from motifprobe import cli
from motifprobe.engine.errors import close_matches, unknown
from motifprobe.engine.registry import BUILTIN_NAMES, KINDS, Registry, get_registry

HEAVY = ("torch", "xgboost", "sklearn", "matplotlib", "scipy", "memelite", "numba", "onnxruntime", "pyjaspar",
         "pyfaidx", "jinja2")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "motifprobe.cli", *args], capture_output=True, text=True, timeout=120)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _imported_by_parser(names: tuple[str, ...]) -> list[str]:
    code = ("import sys, json; from motifprobe import cli; cli.build_parser(); "
            f"print(json.dumps([m for m in {list(names)!r} if m in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# -- --version and --help -----------------------------------------------------------------------
def test_version_prints_the_installed_version():
    proc = _run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"motifprobe {importlib.metadata.version('motifprobe')}"


def test_top_level_help_lists_every_command_and_version():
    proc = _run("--help")
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    for command in _subparsers(cli.build_parser()):
        assert command in proc.stdout
    assert "--version" in proc.stdout


def test_help_of_every_command_prints(capsys):
    commands = _subparsers(cli.build_parser())
    assert {"generate", "train", "interpret", "summarize", "compare", "plugins", "export", "import", "scan",
            "motifs"} <= set(commands)
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            cli.main([command, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: motifprobe {command}"), (command, out[:200])


def test_building_the_parser_imports_no_heavy_library_and_no_plugin():
    assert _imported_by_parser(HEAVY) == []
    loaded = _imported_by_parser(tuple(
        "motifprobe.plugins.models." + m for m in ("torch_cnn", "sklearn_kmer", "xgboost_kmer", "onnx_model")))
    assert loaded == []


def test_building_the_parser_imports_no_pandas():
    assert _imported_by_parser(("pandas", "numpy", "pyarrow")) == []


def test_every_flag_of_every_command_has_help():
    parser = cli.build_parser()
    missing = [f"motifprobe {'/'.join(a.option_strings) or a.dest}" for a in parser._actions
               if not a.help and not isinstance(a, argparse._SubParsersAction)]
    for command, sub in _subparsers(parser).items():
        missing += [f"motifprobe {command} {'/'.join(a.option_strings) or a.dest}" for a in sub._actions
                    if not (a.help and a.help.strip())]
    assert missing == []


def test_static_builtin_names_are_what_the_builtins_register():
    registry = Registry(entry_points=False)
    for kind in KINDS:
        assert list(BUILTIN_NAMES[kind]) == registry.names(kind), kind


def test_help_defaults_equal_the_engine_defaults():
    from motifprobe.engine.generation import DEFAULT_BACKGROUND
    from motifprobe.engine.motif_sources import DEFAULT_JASPAR_RELEASE

    assert tuple(cli._DEFAULT_BACKGROUND) == tuple(DEFAULT_BACKGROUND)
    assert cli._DEFAULT_JASPAR_RELEASE == DEFAULT_JASPAR_RELEASE


# -- progress without a terminal ----------------------------------------------------------------
class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_prints_at_start_every_interval_and_at_the_end():
    clock, out = _Clock(), io.StringIO()
    progress = cli.PlainProgress("training", extra=lambda info: f"loss {info['loss']}", stream=out, every=10.0,
                                 clock=clock)
    progress(completed=1, total=4, loss=0.7)  # first: printed
    clock.now += 3
    progress(completed=2, total=4, loss=0.6)  # 3 s later: not yet
    clock.now += 8
    progress(completed=3, total=4, loss=0.5)  # 11 s after the last line: printed
    clock.now += 1
    progress(completed=4, total=4, loss=0.4)  # done: printed at once
    progress(completed=4, total=4, loss=0.4)  # done again: not repeated
    progress(completed=0, total=2, description="presence A")  # a new stage: printed
    assert out.getvalue().splitlines() == [
        "training: 1/4 (25%), 0 s  loss 0.7",
        "training: 3/4 (75%), 11 s  loss 0.5",
        "training: 4/4 (100%), 12 s  loss 0.4",
        "presence A: 0/2 (0%), 0 s",
    ]


def test_generate_with_redirected_output_prints_progress_lines(tmp_path, capsys):
    out = tmp_path / "d.parquet"
    assert cli.main(["generate", "--generator-plugin", "fast", "--num-seqs", "60", "--seq-length", "60",
                     "--out", str(out)]) == 0
    assert "generating (fast): 60/60 (100%)" in capsys.readouterr().out


# -- kmer-logreg and xgboost-kmer threads ------------------------------------------------------
def test_kmer_logreg_is_the_name_and_sklearn_an_alias():
    registry = get_registry()
    assert "kmer-logreg" in registry.names("model") and "sklearn" not in registry.names("model")
    for name in ("sklearn", "sklearn-kmer", "kmer-logreg"):
        assert registry.get("model", name).name == "kmer-logreg"


def test_a_run_saved_under_the_old_name_still_loads(tmp_path):
    from motifprobe import api
    from motifprobe.engine.runs import MANIFEST, load_run

    ds = api.generate("fast", seed=1, num_seqs=120, seq_length=40, out=tmp_path / "d.parquet")
    run = api.train(ds, "sklearn", seed=1, out_dir=tmp_path / "runs")
    manifest_path = Path(run.directory) / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    assert manifest["model_plugin"] == "kmer-logreg" and Path(run.directory).name == "kmer-logreg"
    manifest["model_plugin"] = "sklearn"  # as a run written before the rename says
    manifest_path.write_text(json.dumps(manifest))
    again = load_run(run.directory, ds)
    assert type(again.model).__name__ == "SklearnKmer"
    assert (again.model.predict_proba(ds.codes[:20]) == run.model.predict_proba(ds.codes[:20])).all()


def test_xgboost_kmer_threads_default_to_the_machine_cores():
    from motifprobe.engine.params import declared_params
    from motifprobe.plugins.models.xgboost_kmer import XGBoostKmer

    declared = {p.name: p for p in declared_params(XGBoostKmer)}
    assert declared["num_threads"].default == 0
    assert XGBoostKmer()._n_jobs() == (os.cpu_count() or 1)
    assert XGBoostKmer(num_threads=1)._n_jobs() == 1


# -- suggestions for unknown names --------------------------------------------------------------
MOTIFS = ["CTCF_known1", "CTCF_known2", "CTCF_disc1", "CTCFL_disc1", "TCF7L2_known1", "YY1_known1", "STAT_known2",
          "ZNF143_CTCF_1"]


@pytest.mark.parametrize("value, first", [
    ("ctcf_known1", ["CTCF_known1"]),                     # another case: that name first
    # names starting with it (a whole word first, then shortest), then names containing it
    ("CTCF", ["CTCF_disc1", "CTCF_known1", "CTCF_known2", "CTCFL_disc1", "ZNF143_CTCF_1"]),
    ("ctcfx", ["CTCF_disc1", "CTCF_known1", "CTCF_known2"]),  # a typo at the end: the longest shared prefix
    ("STAT_knwn2", ["STAT_known2"]),                      # a spelling neighbour
])
def test_close_matches_rank_the_obvious_first(value, first):
    assert close_matches(value, MOTIFS)[:len(first)] == first


def test_close_matches_of_nothing_alike_is_empty():
    assert close_matches("zzzz", MOTIFS) == [] and close_matches("", MOTIFS) == []


def test_unknown_names_the_value_suggestions_and_allowed():
    message = str(unknown("ENCODE motif", "ctcf_known1", MOTIFS))
    assert message.startswith("unknown ENCODE motif 'ctcf_known1' (did you mean CTCF_known1, ")
    assert "YY1_known1 (" not in message.split(";")[0] and "; allowed: " in message


def test_unknown_plugin_name_suggests_in_any_case_and_aliases():
    with pytest.raises(Exception, match=r"did you mean torch-cnn"):
        get_registry().get("model", "Torch-CNN")
    with pytest.raises(Exception, match=r"did you mean sklearn"):
        get_registry().get("model", "Sklearn")


def test_unknown_says_how_many_more_names_contain_the_value():
    message = str(unknown("motif", "CTCF", [f"CTCF_disc{i}" for i in range(1, 11)] + ["CTCF_known1"]))
    assert "(did you mean CTCF_disc1, CTCF_disc2, CTCF_disc3, CTCF_disc4, CTCF_disc5, or 6 more containing 'CTCF'?)" \
        in message


# -- motifprobe motifs ---------------------------------------------------------------------------
def test_motifs_query_lists_ctcf_across_sources(capsys):
    assert cli.main(["motifs", "ctcf"]) == 0
    out = capsys.readouterr().out
    assert "CTCF_known1" in out and "CTCFL_disc1" in out and "encode (" in out
    assert "MA0139" in out and "jaspar (" in out


def test_motifs_without_arguments_lists_every_encode_name(capsys):
    from motifprobe.engine.motif_library import load_encode_motifs

    assert cli.main(["motifs"]) == 0
    out = capsys.readouterr().out
    assert f"{len(load_encode_motifs())} motif name(s) in encode" in out and "  CTCF_known1\n" in out


def test_motifs_query_matching_nothing_is_one_line_with_suggestions(capsys):
    assert cli.main(["motifs", "ctcfx"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err and "'ctcfx'" in err and "did you mean CTCF" in err


def test_compare_prints_pairwise_differences_only_between_models_that_learned(capsys):
    """As the report does: a paired difference involving a model at its majority baseline is not printed."""
    from types import SimpleNamespace

    import pandas as pd

    from motifprobe import cli

    results = pd.DataFrame([{"model": m, "test": "presence", "motifs": "A", "verdict": "effect", "avg_loss_diff": 0.5}
                            for m in ("cnn", "kmer", "xgb")])
    card = results[["model", "test", "motifs"]].assign(status="hit", expected_sign="+")
    summary = pd.DataFrame({"model": ["cnn", "kmer", "xgb"], "beats_baseline": [True, False, True],
                            "learned_rule": ["yes", "no", "yes"], "hits": 1, "misses": 0, "wrong_sign": 0,
                            "extras": 0, "decoy_false_calls": 0, "statement": ""})
    pair = {"test": "presence", "motifs": "A", "subset": "label1", "mean_a": 0.9, "mean_b": 0.1, "q_value": 1e-9}
    pairwise = pd.DataFrame([dict(pair, model_a="cnn", model_b="kmer", stronger="cnn"),
                             dict(pair, model_a="cnn", model_b="xgb", stronger="cnn")])
    cli.print_compare(SimpleNamespace(results=results, scorecard=card, summary=summary, pairwise=pairwise))
    out = capsys.readouterr().out
    assert "cnn 0.900 vs xgb 0.100" in out and "vs kmer" not in out
    assert "the curve's peak" not in out  # no profile rows: no note about their scale
    curve = results.assign(test="spacing", motifs="A+B", subset="profile")
    both = pd.concat([results.assign(subset="label1"), curve], ignore_index=True)
    cli.print_compare(SimpleNamespace(results=both, scorecard=pd.concat([card, curve[["model", "test", "motifs"]].assign(
        status="hit", expected_sign="")], ignore_index=True), summary=summary, pairwise=pairwise))
    assert "spacing: the curve's peak, as a change of P(class 1)" in capsys.readouterr().out
