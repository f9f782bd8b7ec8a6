"""Kept for importers of the earlier module: the writers live in :mod:`engine.outputs` (the output guard)."""
from __future__ import annotations

from motifprobe.engine.outputs import atomic_dir, atomic_path, check_writable

__all__ = ["atomic_dir", "atomic_path", "check_writable"]
