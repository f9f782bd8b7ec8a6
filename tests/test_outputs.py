"""The output guard (engine/outputs.py): nothing a command did not write is ever deleted or replaced.

Each case of issue 12, part 2: plain names, non-regular outputs, outputs that are inputs,
colliding outputs, what --overwrite may replace, atomic no-replace commits under a race,
writability checked before work, stale temporaries, OSErrors as one line.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from motifprobe import api
from motifprobe.cli import main
from motifprobe.engine import outputs
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.outputs import atomic_dir, atomic_path, check_name, clean_stale

MOTIFS = ["STAT_known2", "CTCF_known1"]
SMALL = ["--motifs", "STAT_known2", "--tests", "presence", "control", "--num-perturbs", "1"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A 300-sequence dataset, an sklearn run and a comparison (with its marker), written once."""
    root = tmp_path_factory.mktemp("outputs")
    data = root / "d.parquet"
    ds = api.generate("fast", num_seqs=300, seed=1, out=data, gen_type="order", motifs=MOTIFS)
    api.train(ds, "sklearn", seed=1, out_dir=root / "runs", model_name="lr")
    api.compare(ds, ["sklearn"], motifs=["STAT_known2"], tests=["presence", "control"], num_perturbs=1,
                out_dir=root / "cmp", figures=False)
    return root, data, root / "runs" / "lr", root / "cmp"


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: its type and, for files, a hash of the bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else \
            "fifo" if stat.S_ISFIFO(st.st_mode) else "file"
        out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest() if kind == "file" else kind
    return out


def one_line(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def train_args(data: Path, *extra: str) -> list[str]:
    return ["train", "--data-file", str(data), "--model-plugin", "sklearn", *extra]


# -- names --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, fragment", [
    ("..", "single plain file name"), (".", "single plain file name"), ("", "single plain file name"),
    ("../../x", "single plain file name"), ("/abs/x", "single plain file name"), ("a/b", "single plain file name"),
    ("n" * 256, "256 bytes long"),
])
def test_model_name_must_be_one_plain_component(env, tmp_path, capsys, name, fragment):
    _, data, _, _ = env
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    assert main(train_args(data, "--out-dir", str(tmp_path / "runs"), "--model-name", name, "--overwrite")) == 2
    one_line(capsys, fragment)
    assert snapshot(tmp_path) == before


def test_check_name_refuses_nul_and_non_strings():
    for bad in ("a\0b", None, 3):
        with pytest.raises(MotifprobeError, match="single plain file name"):
            check_name(bad)
    assert check_name("cnn-1.v2") == "cnn-1.v2"


# -- what --overwrite may replace -----------------------------------------------------------------
def test_overwrite_never_replaces_the_working_directory_or_its_ancestors(env, tmp_path, monkeypatch, capsys):
    _, data, _, cmp = env
    work = tmp_path / "parent" / "work"
    work.mkdir(parents=True)
    # the working directory even carries a valid compare marker: being the cwd is enough to refuse
    (work / "compare.json").write_text((cmp / "compare.json").read_text())
    (work / "keep.txt").write_text("mine")
    monkeypatch.chdir(work)
    before = snapshot(tmp_path)
    for out_dir in (".", "..", str(work), "../work/."):
        assert main(["compare", "--data-file", str(data), "--model-plugin", "sklearn", "--out-dir", out_dir,
                     "--overwrite", *SMALL]) == 2
        one_line(capsys, "working directory")
    # a run name equal to the working directory (its parent is the --out-dir)
    (work / "manifest.json").write_text(json.dumps({"model_plugin": "sklearn", "format_version": 1}))
    before = snapshot(tmp_path)
    assert main(train_args(data, "--out-dir", "..", "--model-name", "work", "--overwrite")) == 2
    one_line(capsys, "working directory")
    assert snapshot(tmp_path) == before


def test_overwrite_replaces_only_directories_motifprobe_wrote(env, tmp_path, capsys):
    _, data, run, cmp = env
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "compare.json").write_text(json.dumps({"results": []}))  # no motifprobe marker
    before = snapshot(tmp_path)
    for out_dir in (mine, tmp_path / "fake"):
        assert main(["compare", "--data-file", str(data), "--model-plugin", "sklearn", "--out-dir", str(out_dir),
                     "--overwrite", *SMALL]) == 2
        one_line(capsys, "not a compare directory written by motifprobe")
    assert main(train_args(data, "--out-dir", str(tmp_path), "--model-name", "mine", "--overwrite")) == 2
    one_line(capsys, "not a run directory written by motifprobe")
    assert snapshot(tmp_path) == before
    # a directory of the other kind is refused too: a comparison is not a run, a run is not a comparison
    assert main(train_args(data, "--out-dir", str(cmp.parent), "--model-name", cmp.name, "--overwrite")) == 2
    one_line(capsys, "not a run directory")
    assert main(["compare", "--data-file", str(data), "--run", str(run), "--out-dir", str(run), "--overwrite",
                 *SMALL]) == 2
    one_line(capsys, str(run))
    assert (run / "manifest.json").exists() and (cmp / "compare.json").exists()


def test_overwrite_never_replaces_a_directory_holding_an_input(env, tmp_path, capsys):
    root, data, run, cmp = env
    before = snapshot(root)
    # the run being reused lives inside the --out-dir to be replaced (a compare run)
    inner = cmp / "runs" / "kmer-logreg"
    assert (inner / "manifest.json").exists()
    assert main(["compare", "--data-file", str(data), "--run", str(inner), "--out-dir", str(cmp), "--overwrite",
                 *SMALL]) == 2
    one_line(capsys, "is or contains", "an input of this command")
    # the dataset lies inside the run directory to be replaced
    shutil_copy = run / "d.parquet"
    shutil_copy.write_bytes(data.read_bytes())
    try:
        assert main(train_args(shutil_copy, "--out-dir", str(run.parent), "--model-name", run.name,
                               "--overwrite")) == 2
        one_line(capsys, "is or contains", "an input of this command")
    finally:
        shutil_copy.unlink()
    assert snapshot(root) == before


def test_overwrite_replaces_a_motifprobe_directory_and_leaves_no_temporary(env, tmp_path, capsys):
    _, data, _, _ = env
    out = tmp_path / "cmp"
    api.compare(api.load_dataset(data), ["sklearn"], motifs=["STAT_known2"], tests=["presence", "control"],
                num_perturbs=1, out_dir=out, figures=False)
    marker = json.loads((out / "compare.json").read_text())["motifprobe"]
    assert marker["kind"] == "compare"
    (out / "stray.txt").write_text("old")
    stale = tmp_path / f".cmp.{dead_pid()}.0123abcd.tmp"  # left by a SIGKILLed compare
    stale.mkdir()
    (stale / "half.csv").write_text("x")
    assert main(["compare", "--data-file", str(data), "--model-plugin", "sklearn", "--out-dir", str(out), *SMALL]) == 2
    one_line(capsys, "already exists", "--overwrite")
    assert main(["compare", "--data-file", str(data), "--model-plugin", "sklearn", "--out-dir", str(out),
                 "--overwrite", *SMALL]) == 0
    assert (out / "compare.csv").exists() and not (out / "stray.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmp"]  # stale temporary gone, no new one
    capsys.readouterr()


# -- non-regular outputs, inputs, collisions ------------------------------------------------------
@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_devices_are_refused_and_untouched(env, tmp_path, capsys, device):
    if not os.path.exists(device) or not stat.S_ISCHR(os.lstat(device).st_mode):
        pytest.skip(f"no {device}")
    _, data, run, _ = env
    rdev = os.lstat(device).st_rdev
    commands = [["generate", "--generator-plugin", "fast", "--num-seqs", "20", "--out", device],
                ["export", str(data), "--fasta", device],
                ["interpret", "--run", str(run), "--data-file", str(data), "--out", str(tmp_path / "r.csv"),
                 "--deltas", device, *SMALL]]
    for argv in commands:
        assert main(argv) == 2
        one_line(capsys, device, "not a regular file")
        st = os.lstat(device)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == rdev
    assert list(tmp_path.iterdir()) == []


def test_fifo_symlink_and_directory_outputs_are_refused(env, tmp_path, capsys):
    _, data, run, _ = env
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    target = tmp_path / "target.txt"
    target.write_text("keep")
    link = tmp_path / "link.fa"
    link.symlink_to(target)
    folder = tmp_path / "folder"
    folder.mkdir()
    afile = tmp_path / "afile"
    afile.write_text("keep too")
    before = snapshot(tmp_path)
    cases = [(["export", str(data), "--fasta", str(fifo)], "not a regular file"),
             (["export", str(data), "--bed", str(link)], "symbolic link"),
             (["generate", "--generator-plugin", "fast", "--num-seqs", "20", "--out", str(link)], "symbolic link"),
             (["export", str(data), "--fasta", str(folder)], "is a directory"),
             (["interpret", "--run", str(run), "--data-file", str(data), "--out", str(fifo), *SMALL],
              "not a regular file"),
             (["compare", "--data-file", str(data), "--model-plugin", "sklearn", "--out-dir", str(afile), "--overwrite",
               *SMALL], "exists and is not a directory"),
             (["compare", "--data-file", str(data), "--model-plugin", "sklearn", "--out-dir", str(link), "--overwrite",
               *SMALL], "symbolic link"),
             (train_args(data, "--out-dir", str(afile)), "is not a directory")]
    for argv, fragment in cases:
        assert main(argv) == 2, argv
        one_line(capsys, fragment)
    assert snapshot(tmp_path) == before


def test_outputs_that_are_inputs_are_refused(env, tmp_path, capsys):
    root, data, run, _ = env
    hardlink = tmp_path / "same.parquet"
    os.link(data, hardlink)
    before = snapshot(root)
    preds = run / "predictions.parquet"
    interpret = ["interpret", "--run", str(run), "--data-file", str(data), *SMALL]
    cases = [(interpret + ["--out", str(data)], "an input of this command"),
             (interpret + ["--out", str(tmp_path / "r.csv"), "--deltas", str(data)], "an input of this command"),
             (interpret + ["--out", str(tmp_path / "r.csv"), "--deltas", str(hardlink)], "an input of this command"),
             (interpret + ["--preds", str(preds), "--out", str(tmp_path / "r.csv"), "--deltas", str(preds)],
              "an input of this command"),
             (interpret + ["--out", str(run / "manifest.csv")], "lies inside"),  # twin manifest.json: never
             (["export", str(data), "--fasta", str(data)], "an input of this command"),
             (["export", str(hardlink), "--bed", str(data)], "an input of this command")]
    for argv, fragment in cases:
        assert main(argv) == 2, argv
        one_line(capsys, fragment)
    assert snapshot(root) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same.parquet"]


def test_two_outputs_of_one_command_may_not_be_the_same_file(env, tmp_path, capsys):
    _, data, run, _ = env
    interpret = ["interpret", "--run", str(run), "--data-file", str(data), *SMALL]
    cases = [(interpret + ["--out", str(tmp_path / "x.json")], ".json twin of --out"),
             (interpret + ["--out", str(tmp_path / "x.csv"), "--deltas", str(tmp_path / "x.csv")], "same file"),
             (interpret + ["--out", str(tmp_path / "x.csv"), "--deltas", str(tmp_path / "sub" / ".." / "x.json")],
              "same file"),
             (["export", str(data), "--fasta", str(tmp_path / "a"), "--bed", str(tmp_path / "." / "a")], "same file")]
    for argv, fragment in cases:
        assert main(argv) == 2, argv
        one_line(capsys, fragment)
    assert list(tmp_path.iterdir()) == []


# -- atomic commits -------------------------------------------------------------------------------
@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "mkdir-fallback"])
def test_two_racing_writers_of_one_directory_one_wins(tmp_path, monkeypatch, renameat2):
    if not renameat2:
        monkeypatch.setattr(outputs, "_RENAMEAT2", None)
    elif outputs._RENAMEAT2 is None:
        pytest.skip("no renameat2 here")
    target = tmp_path / "run"
    for _round in range(5):
        barrier = threading.Barrier(2)
        results: dict[int, str] = {}

        def write(i: int) -> None:
            try:
                with atomic_dir(target) as tmp:  # no --overwrite: the target must not exist
                    (tmp / "manifest.json").write_text(json.dumps({"model_plugin": "t", "format_version": 1, "who": i}))
                    barrier.wait(timeout=10)  # both have checked and written; now both commit
                results[i] = "ok"
            except MotifprobeError as exc:
                results[i] = str(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [i for i, r in results.items() if r == "ok"]
        assert len(winners) == 1, results
        loser = results[1 - winners[0]]
        assert "already exists" in loser and "\n" not in loser
        assert json.loads((target / "manifest.json").read_text())["who"] == winners[0]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary left
        for p in target.iterdir():
            p.unlink()
        target.rmdir()


def test_existing_run_is_refused_at_commit_time_too(tmp_path):
    """The early check passed, then another run wrote the directory: the commit still refuses."""
    target = tmp_path / "run"
    with pytest.raises(MotifprobeError, match="already exists"):
        with atomic_dir(target) as tmp:
            (tmp / "mine").write_text("x")
            target.mkdir()
            (target / "theirs").write_text("y")
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# -- before the work; stale temporaries; OSErrors -------------------------------------------------
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc (a folder nobody can create files in)")
def test_unwritable_outputs_are_found_before_any_work(env, monkeypatch, capsys):
    _, data, run, _ = env

    def started(*_a, **_k):
        raise AssertionError("the work started before the output was checked")

    nowhere = "/proc/motifprobe-test/sub"
    # train and compare read the dataset first (cheap), then check before training
    monkeypatch.setattr("motifprobe.engine.training.split_indices", started)
    monkeypatch.setattr("motifprobe.engine.compare.train", started)
    monkeypatch.setattr("motifprobe.engine.compare.load_run", started)
    for argv in (train_args(data, "--out-dir", nowhere),
                 ["compare", "--data-file", str(data), "--model-plugin", "sklearn", "--out-dir", nowhere, *SMALL]):
        assert main(argv) == 2, argv
        one_line(capsys, "cannot write", "/proc")
    # interpret, generate and export check before reading or generating anything
    monkeypatch.setattr("motifprobe.engine.api.generate", started)
    monkeypatch.setattr("motifprobe.engine.api.load_dataset", started)
    monkeypatch.setattr("motifprobe.engine.dataset.read_dataset", started)
    for argv in (["interpret", "--run", str(run), "--data-file", str(data), "--out", nowhere + "/r.csv"],
                 ["generate", "--out", nowhere + "/d.parquet"],
                 ["export", str(data), "--fasta", nowhere + "/x.fa"]):
        assert main(argv) == 2, argv
        one_line(capsys, "cannot write", "/proc")
    assert not os.path.exists("/proc/motifprobe-test")


def test_stale_temporaries_of_dead_processes_are_cleaned(tmp_path):
    target = tmp_path / "results.csv"
    dead, alive = dead_pid(), os.getppid()
    stale_file = tmp_path / f".results.csv.{dead}.0123abcd.tmp"
    live_file = tmp_path / f".results.csv.{alive}.0123abcd.tmp"
    other = tmp_path / f".results.csv.x.{dead}.0123abcd.tmp"  # another target's temporary
    for p in (stale_file, live_file, other):
        p.write_text("partial")
    with atomic_path(target) as tmp:
        tmp.write_text("a,b\n")
    assert target.read_text() == "a,b\n"
    assert not stale_file.exists() and live_file.exists() and other.exists()
    # a killed --overwrite between its two renames: the previous output is put back
    run = tmp_path / "run"
    old = tmp_path / f".run.{dead}.0123abcd.old.tmp"
    old.mkdir()
    (old / "manifest.json").write_text("{}")
    assert clean_stale(run) == [old]
    assert (run / "manifest.json").exists() and not old.exists()


def test_disk_full_during_a_write_is_one_line_and_leaves_nothing(env, tmp_path, monkeypatch, capsys):
    import pandas as pd
    import pyarrow.parquet as pq

    _, data, _, _ = env

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", full)
    out = tmp_path / "d.parquet"
    assert main(["generate", "--generator-plugin", "fast", "--num-seqs", "20", "--out", str(out)]) == 2
    one_line(capsys, str(out), "No space left on device")
    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    assert main(train_args(data, "--out-dir", str(tmp_path / "runs"))) == 2
    one_line(capsys, "runs", "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["runs"] and list((tmp_path / "runs").iterdir()) == []


def test_long_names_are_one_line_and_a_255_byte_name_works(env, tmp_path, capsys):
    _, data, _, _ = env
    assert main(["export", str(data), "--fasta", str(tmp_path / ("x" * 300))]) == 2
    one_line(capsys, "file name too long")
    ok = tmp_path / ("y" * 255)  # its temporary name is shortened to fit
    assert main(["export", str(data), "--fasta", str(ok)]) == 0
    assert ok.read_text().startswith(">") and [p.name for p in tmp_path.iterdir()] == [ok.name]


@pytest.mark.skipif(not os.path.isfile("/proc/version"), reason="needs /proc/version")
def test_proc_file_output_is_one_line(env, capsys):
    _, data, _, _ = env
    before = Path("/proc/version").read_text()
    assert main(["export", str(data), "--fasta", "/proc/version"]) == 2
    one_line(capsys, "/proc/version", "cannot")
    assert Path("/proc/version").read_text() == before
