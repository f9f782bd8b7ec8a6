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


def close_matches(value: str, allowed: Iterable[str], n: int = 5) -> list[str]:
    """Names in ``allowed`` that ``value`` most likely meant, best first (at most ``n``).

    Case-insensitive, in this order: the same name in another case (``ctcf_known1`` ->
    ``CTCF_known1``), names starting with ``value`` (``CTCF`` -> ``CTCF_known1``, shortest
    first), names containing it, then spelling neighbours (:func:`difflib.get_close_matches`).
    """
    names = list(dict.fromkeys(str(a) for a in allowed))
    needle = str(value).lower()
    if not needle:
        return []
    by_lower: dict[str, list[str]] = {}
    for name in names:
        by_lower.setdefault(name.lower(), []).append(name)

    def ranked(keep) -> list[str]:  # a whole word first (CTCF_known1 before CTCFL_disc1), then shortest
        def key(nm: str) -> tuple:
            at = nm.lower().find(needle)
            rest = nm[at + len(needle):at + len(needle) + 1]
            return (bool(rest) and rest.isalnum(), len(nm), nm.lower(), nm)

        return sorted((nm for nm in names if keep(nm.lower())), key=key)

    found = by_lower.get(needle, []) + ranked(lambda low: low != needle and low.startswith(needle))
    found += ranked(lambda low: needle in low and not low.startswith(needle))
    found += [nm for low in difflib.get_close_matches(needle, list(by_lower), n=n, cutoff=0.6)
              for nm in by_lower[low]]
    for size in range(len(needle) - 1, max(3, (len(needle) + 1) // 2) - 1, -1):
        if found:
            break
        # nothing yet: a typo at the end (``ctcfx``): names sharing the longest prefix
        found = sorted((nm for nm in names if nm.lower().startswith(needle[:size])),
                       key=lambda nm: (len(nm), nm.lower(), nm))
    return list(dict.fromkeys(found))[:n]


def suggest(value: str, allowed: Iterable[str], n: int = 3) -> str:
    """Return a short ``did you mean`` hint for ``value`` among ``allowed`` (or '')."""
    close = close_matches(value, allowed, n=n)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def unknown(kind: str, value: str, allowed: Iterable[str], max_list: int = 12, *,
            aliases: Iterable[str] = ()) -> MotifprobeError:
    """Build the error for an unknown name, listing what is allowed and close matches (see
    :func:`close_matches`; ``aliases`` are matched too but not listed)."""
    allowed = sorted(allowed, key=lambda name: (str(name).lower(), str(name)))
    shown = ", ".join(allowed[:max_list]) + (f", ... ({len(allowed)} in all)" if len(allowed) > max_list else "")
    names = [*allowed, *aliases]
    close = close_matches(value, names, n=5)
    containing = sum(str(value).lower() in str(name).lower() for name in names) if str(value) else 0
    more = f", or {containing - len(close)} more containing {value!r}" if containing > len(close) else ""
    hint = f" (did you mean {', '.join(close)}{more}?)" if close else ""
    return MotifprobeError(f"unknown {kind} {value!r}{hint}; allowed: {shown}")


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
