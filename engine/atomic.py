"""Write-then-rename, so a failed run never leaves a partial file or directory behind."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from motifprobe.engine.errors import MotifprobeError

# Read once at import (single-threaded): os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, with a clear message, when ``path``'s folder cannot be written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise MotifprobeError(f"output path {str(path)!r} is a directory; give a file name")
    if parent.exists() and not parent.is_dir():
        raise MotifprobeError(f"cannot write {str(path)!r}: {str(parent)!r} is not a directory")
    if parent.exists() and not os.access(parent, os.W_OK):
        raise MotifprobeError(f"cannot write {str(path)!r}: folder {str(parent)!r} is not writable")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success."""
    path = check_writable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MotifprobeError(f"cannot create folder {str(path.parent)!r}: {exc.strerror}") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the file the mode a plain open() would have.
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; move it into place only on success."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise MotifprobeError(f"{str(path)!r} already exists; pass --overwrite to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise MotifprobeError(f"cannot write to {str(path.parent)!r}: {exc.strerror}") from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
