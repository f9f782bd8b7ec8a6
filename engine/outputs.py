"""The output guard: every file and directory motifprobe writes goes through this module.

Rules (README, "Outputs and --overwrite"; each one is a test in ``tests/test_outputs.py``):

- names that become one path component (``--model-name``) are single plain names;
- an existing output path that is not a regular file (directory, device, fifo, socket,
  symbolic link) is refused, and so is an output that is an input of the same command or lies
  inside an input directory; two outputs of one command may not be the same file;
- output folders are checked writable before any work starts;
- files are written to a temporary file beside the target and renamed into place; directories
  likewise, with a rename that fails when the target exists (no check-then-act), so of two
  concurrent runs writing the same directory one wins and the other gets one line;
- ``--overwrite`` replaces only a directory motifprobe wrote (a run's ``manifest.json``, a
  comparison's ``compare.json`` marker), never the working directory, one of its ancestors, an
  ancestor of an input, or an input itself;
- temporaries are named ``.NAME.PID.RANDOM.tmp``; ones left by a killed process are removed by
  the next run writing the same target;
- an ``OSError`` while writing (disk full, name too long, permission, read-only) becomes one
  ``MotifprobeError`` line naming the path and the cause.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from motifprobe.engine.errors import MotifprobeError

NAME_MAX = 255
"""Longest file name (bytes) accepted for an output or a ``--model-name``."""
_STEM_MAX = 200
"""Temporary names carry at most this many bytes of the target's name (NAME_MAX minus the suffix)."""
MARKER_KEY = "motifprobe"
"""Key of the marker object in a comparison's ``compare.json``."""
MARKER_FILES = {"run": "manifest.json", "compare": "compare.json"}
"""The file in a directory of each kind that says motifprobe wrote it."""


# -- names --------------------------------------------------------------------------------------
def check_name(name: object, what: str = "name") -> str:
    """Return ``name`` if it is one plain path component; raise one line otherwise."""
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name \
            or (os.altsep and os.altsep in name):
        raise MotifprobeError(f"{what} {name!r} must be a single plain file name "
                              "(not empty, '.' or '..', no '/', no NUL byte)")
    if len(os.fsencode(name)) > NAME_MAX:
        raise MotifprobeError(f"{what} {_short(name)!r} is {len(os.fsencode(name))} bytes long; "
                              f"at most {NAME_MAX} bytes")
    return name


def compare_marker() -> dict:
    """The marker object a comparison writes under ``MARKER_KEY`` in its ``compare.json``."""
    import importlib.metadata as md

    try:
        version = md.version("motifprobe")
    except md.PackageNotFoundError:
        version = "unknown"
    return {"kind": "compare", "version": version}


def written_by_motifprobe(directory: str | os.PathLike, kind: str) -> bool:
    """True when ``directory`` holds the marker file of ``kind`` ('run' or 'compare')."""
    marker = Path(directory) / MARKER_FILES[kind]
    try:
        if not stat.S_ISREG(os.lstat(marker).st_mode):
            return False
        data = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    if kind == "run":
        return "model_plugin" in data and "format_version" in data
    mark = data.get(MARKER_KEY)
    return isinstance(mark, dict) and mark.get("kind") == kind


# -- path checks --------------------------------------------------------------------------------
def _text(path: str | os.PathLike, what: str) -> str:
    try:
        text = os.fspath(path)
    except TypeError:
        raise MotifprobeError(f"{what} {path!r} is not a path") from None
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if "\0" in text:
        raise MotifprobeError(f"{what} {text!r} contains a NUL byte")
    if text == "":
        raise MotifprobeError(f"{what} is empty; give a path")
    for part in Path(text).parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            raise MotifprobeError(f"cannot write {_short(text)!r}: file name too long ({size} bytes in one "
                                  f"component; at most {NAME_MAX})")
    return text


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _canonical(text: str) -> Path:
    """Absolute path with its folders resolved; the last component kept unless it is '.' or '..'."""
    path = Path(text)
    if path.name in ("", ".", ".."):
        return Path(os.path.realpath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def _lstat(path: Path, shown: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # a folder on the way is missing or a file: _check_folder says which
        return None
    except OSError as exc:
        raise write_error(shown, exc) from None


def _check_folder(target: Path, shown: str) -> None:
    """``target``'s folder (or its nearest existing ancestor) must be a writable directory.

    The nearest existing folder is tested by creating and removing a temporary file in it (this
    also catches read-only file systems and pseudo file systems such as /proc, even for root).
    """
    probe, child = target.parent, target
    while not os.path.lexists(probe) and probe.parent != probe:
        probe, child = probe.parent, probe
    if not probe.is_dir():
        raise MotifprobeError(f"cannot write {shown!r}: {str(probe)!r} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise MotifprobeError(f"cannot write {shown!r}: folder {str(probe)!r} is not writable")
    if probe == child.parent:  # what a writer creates first in ``probe`` is ``child``
        tmp = _temp_name(child)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(tmp)
        except OSError as exc:
            raise MotifprobeError(f"cannot write {shown!r}: cannot create a file in folder {str(probe)!r} "
                                  f"({exc.strerror or exc})") from None


def _same_file(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.lexists(a) and os.path.lexists(b) and os.path.samefile(a, b)
    except OSError:
        return False


def _inputs(inputs: Iterable[object]) -> list[tuple[str, Path]]:
    out = []
    for item in inputs:
        if item is None or item == "":
            continue
        text = os.fspath(item)  # type: ignore[arg-type]
        out.append((str(text), Path(os.path.realpath(text))))
    return out


def check_output_file(path: str | os.PathLike, *, inputs: Iterable[object] = (), what: str = "output") -> Path:
    """Check an output file before any work; return its canonical path.

    Refused (one line): an empty path, a NUL byte or a component over 255 bytes; a folder that
    is not a writable directory; an existing path that is not a regular file (directory,
    symbolic link, device, fifo, socket); an input of the command (the same file, also through
    a hard link) or a path inside an input directory.
    """
    shown = _text(path, what)
    target = _canonical(shown)
    st = _lstat(target, shown)
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise MotifprobeError(f"{what} {shown!r} is a symbolic link; refusing to replace it (give the real path)")
        if stat.S_ISDIR(st.st_mode):
            raise MotifprobeError(f"{what} {shown!r} is a directory; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise MotifprobeError(f"{what} {shown!r} exists and is not a regular file (a device, fifo or socket); "
                                  "refusing to replace it")
    for text, real in _inputs(inputs):
        if _same_file(target, real):
            raise MotifprobeError(f"{what} {shown!r} is {text!r}, an input of this command; refusing to replace it")
        if real in target.parents and real.is_dir():
            raise MotifprobeError(f"{what} {shown!r} lies inside {text!r}, an input of this command; write it elsewhere")
    _check_folder(target, shown)
    return target


check_writable = check_output_file  # the earlier name


def check_outputs(outputs: Mapping[str, object], *, inputs: Iterable[object] = ()) -> dict[str, Path]:
    """Check several output files of one command (``{flag: path or None}``); no two may be the same file."""
    inputs = list(inputs)
    seen: dict[str, Path] = {}
    for what, path in outputs.items():
        if path is None:
            continue
        target = check_output_file(path, inputs=inputs, what=what)  # type: ignore[arg-type]
        for other_what, other in seen.items():
            if _same_file(target, other):
                raise MotifprobeError(f"{what} {str(path)!r} and {other_what} are the same file; give different names")
        seen[what] = target
    return seen


def check_output_dir(path: str | os.PathLike, *, overwrite: bool = False, kind: str = "run",
                     inputs: Iterable[object] = (), what: str = "output directory") -> Path:
    """Check an output directory before any work; return its canonical path.

    An existing target is refused without ``overwrite``; with it, it must be a directory of
    ``kind`` that motifprobe wrote and not the working directory, an ancestor of it, an input
    or an ancestor of an input.
    """
    if kind not in MARKER_FILES:
        raise ValueError(f"unknown output kind {kind!r}")
    shown = _text(path, what)
    target = _canonical(shown)
    st = _lstat(target, shown)
    if st is None:
        _check_folder(target, shown)
        return target
    if stat.S_ISLNK(st.st_mode):
        raise MotifprobeError(f"{what} {shown!r} is a symbolic link; refusing to replace it (give the real path)")
    if not stat.S_ISDIR(st.st_mode):
        raise MotifprobeError(f"{what} {shown!r} exists and is not a directory")
    if not overwrite:
        raise MotifprobeError(f"{what} {shown!r} already exists; pass --overwrite to replace it")
    _check_replaceable(target, shown, kind, _inputs(inputs), what)
    _check_folder(target, shown)
    return target


def _check_replaceable(target: Path, shown: str, kind: str, inputs: list[tuple[str, Path]], what: str) -> None:
    cwd = Path(os.path.realpath(os.getcwd()))
    if target == cwd or target in cwd.parents:
        raise MotifprobeError(f"refusing to replace {what} {shown!r}: it is the working directory or contains it")
    for text, real in inputs:
        if target == real or target in real.parents:
            raise MotifprobeError(f"refusing to replace {what} {shown!r}: it is or contains {text!r}, "
                                  "an input of this command")
    if not written_by_motifprobe(target, kind):
        raise MotifprobeError(f"refusing to replace {what} {shown!r}: it is not a {kind} directory written by "
                              f"motifprobe (no motifprobe {MARKER_FILES[kind]}); remove it yourself or choose "
                              "another name")


# -- writing ------------------------------------------------------------------------------------
def write_error(shown: str, exc: OSError) -> MotifprobeError:
    """One line for an OSError met while writing ``shown``: the path and the cause."""
    cause = exc.strerror or str(exc) or type(exc).__name__
    cause = " ".join(str(cause).split())
    return MotifprobeError(f"cannot write {shown!r}: {cause}")


def _stem(name: str) -> str:
    raw = os.fsencode(name)
    return name if len(raw) <= _STEM_MAX else os.fsdecode(raw[:_STEM_MAX])


def _temp_name(target: Path, old: bool = False) -> Path:
    suffix = ".old.tmp" if old else ".tmp"
    return target.parent / f".{_stem(target.name)}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # exists, but not ours (or an absurd number: leave it)
    return True


def clean_stale(target: str | os.PathLike) -> list[Path]:
    """Remove ``.NAME.PID.RANDOM.tmp`` temporaries of ``target`` whose process is gone.

    A leftover ``.old.tmp`` (a killed ``--overwrite`` between its two renames) is put back as
    ``target`` when ``target`` is missing. Returns what was removed or restored.
    """
    target = Path(target)
    pattern = re.compile(r"\." + re.escape(_stem(target.name)) + r"\.(\d+)\.[0-9a-f]{8}(\.old)?\.tmp")
    try:
        entries = os.listdir(target.parent)
    except OSError:
        return []
    done = []
    for entry in entries:
        match = pattern.fullmatch(entry)
        if not match or _pid_alive(int(match.group(1))):
            continue
        stale = target.parent / entry
        try:
            is_dir = stat.S_ISDIR(os.lstat(stale).st_mode)
            if match.group(2) and is_dir and not os.path.lexists(target):
                os.rename(stale, target)
            elif is_dir:
                shutil.rmtree(stale)
            else:
                os.unlink(stale)
            done.append(stale)
        except OSError:
            pass
    return done


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, inputs: Iterable[object] = (), what: str = "output") -> Iterator[Path]:
    """Yield a temporary file beside ``path``; rename it onto ``path`` only on success.

    ``path`` is checked first (:func:`check_output_file`); an existing regular file is replaced.
    """
    target = check_output_file(path, inputs=inputs, what=what)
    shown = str(path)
    # O_EXCL: the temp name is ours alone; the umask applies, as for open().
    tmp = _reserve_temp(target, shown, lambda p: os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)))
    try:
        try:
            yield tmp
        except OSError as exc:
            raise write_error(shown, exc) from None
        st = _lstat(target, shown)
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise MotifprobeError(f"{what} {shown!r} became something other than a regular file while it was "
                                  "written; not replaced")
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise write_error(shown, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _reserve_temp(target: Path, shown: str, create: Callable[[Path], object]) -> Path:
    """Create (with ``create``) a fresh temp path beside ``target``, after cleaning stale ones."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target)
        tmp = _temp_name(target)
        create(tmp)
    except OSError as exc:
        raise write_error(shown, exc) from None
    return tmp


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False, kind: str = "run",
               inputs: Iterable[object] = (), what: str = "output directory") -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; move it into place only on success.

    The move fails when ``path`` appeared meanwhile (rename without replace), so two runs
    writing the same directory cannot silently replace each other. With ``overwrite`` an
    existing directory passing :func:`check_output_dir` is moved aside, the new one moved in,
    and the old one deleted.
    """
    inputs = list(inputs)
    target = check_output_dir(path, overwrite=overwrite, kind=kind, inputs=inputs, what=what)
    shown = str(path)
    tmp = _reserve_temp(target, shown, lambda p: os.mkdir(p, 0o777))  # the umask applies
    try:
        try:
            yield tmp
        except OSError as exc:
            raise write_error(shown, exc) from None
        _commit_dir(tmp, target, shown=shown, overwrite=overwrite, kind=kind, inputs=inputs, what=what)
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def _commit_dir(tmp: Path, target: Path, *, shown: str, overwrite: bool, kind: str, inputs: list, what: str) -> None:
    for _attempt in range(3):
        try:
            rename_noreplace(tmp, target)
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise write_error(shown, exc) from None
        if not overwrite:
            raise MotifprobeError(f"{what} {shown!r} already exists (another run wrote it meanwhile); "
                                  "pass --overwrite to replace it")
        check_output_dir(target, overwrite=True, kind=kind, inputs=inputs, what=what)
        trash = _temp_name(target, old=True)
        try:
            os.rename(target, trash)
        except FileNotFoundError:
            continue  # removed meanwhile: try the plain move again
        except OSError as exc:
            raise write_error(shown, exc) from None
        if not written_by_motifprobe(trash, kind):  # swapped between the check and the move
            with contextlib.suppress(OSError):
                rename_noreplace(trash, target)
            raise MotifprobeError(f"refusing to replace {what} {shown!r}: it changed while being replaced")
        try:
            rename_noreplace(tmp, target)
        except OSError as exc:
            try:
                rename_noreplace(trash, target)  # put the previous output back
            except OSError:
                shutil.rmtree(trash, ignore_errors=True)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise MotifprobeError(f"{what} {shown!r} was written by another run meanwhile; not replaced") from None
            raise write_error(shown, exc) from None
        shutil.rmtree(trash, ignore_errors=True)
        return
    raise MotifprobeError(f"{what} {shown!r} keeps changing (another run is writing it); try again")


def _load_renameat2():
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _load_renameat2()
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def rename_noreplace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename directory ``src`` to ``dst``; fail with EEXIST/ENOTEMPTY if ``dst`` exists (never replace it).

    Linux ``renameat2(RENAME_NOREPLACE)``; elsewhere (or where the file system lacks it) the
    name is reserved with ``mkdir`` (atomic, fails if it exists) and ``src`` renamed onto the
    empty reservation.
    """
    if _RENAMEAT2 is not None:
        if _RENAMEAT2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), os.fspath(dst))
    os.mkdir(dst)
    try:
        os.rename(src, dst)
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(dst)
        raise
