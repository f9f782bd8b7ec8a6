"""The one exception type for user mistakes."""
from __future__ import annotations

import difflib
import os
import traceback
from typing import Iterable


class MotifprobeError(ValueError):
    """A mistake the user can fix: a bad argument, an unknown name, an unreadable file.

    The CLI prints the message on one line and exits with status 2; anything else is a bug.
    """


def suggest(value: str, allowed: Iterable[str], n: int = 3) -> str:
    """Return a short ``did you mean`` hint for ``value`` among ``allowed`` (or '')."""
    close = difflib.get_close_matches(value, list(allowed), n=n, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def unknown(kind: str, value: str, allowed: Iterable[str], max_list: int = 12) -> MotifprobeError:
    """Build the error for an unknown name, listing what is allowed and close matches."""
    allowed = sorted(allowed)
    shown = ", ".join(allowed[:max_list]) + (f", ... ({len(allowed)} in all)" if len(allowed) > max_list else "")
    return MotifprobeError(f"unknown {kind} {value!r}{suggest(value, allowed)}; allowed: {shown}")


class PluginFault(MotifprobeError):
    """Plugin code raised or broke its contract during a run (one line naming the plugin).

    In ``interpret`` and ``compare`` such a fault costs the affected rows (verdict ``error``,
    exit status 3), not the whole run.
    """


class ModelFault(PluginFault):
    """The model raised, or returned something other than probabilities: none of its numbers can be trusted."""


class TestFault(PluginFault):
    """A perturbation test raised or broke its contract: its unit cannot be run."""

    __test__ = False  # not a pytest test class, despite the name


def debug_enabled() -> bool:
    """``--debug`` / ``MOTIFPROBE_DEBUG=1``: show tracebacks of plugin faults."""
    return os.environ.get("MOTIFPROBE_DEBUG", "") not in ("", "0", "false", "False")


def fault(kind: type[PluginFault], who: str, exc: BaseException) -> PluginFault:
    """Turn anything plugin code raised into one line naming the plugin (traceback with --debug)."""
    if isinstance(exc, PluginFault):
        return exc
    if isinstance(exc, MotifprobeError):
        return kind(f"{who}: {exc}")
    if debug_enabled():
        traceback.print_exception(exc)
    text = str(exc).strip().splitlines()
    return kind(f"{who} raised {type(exc).__name__}" + (f": {text[0]}" if text else ""))
