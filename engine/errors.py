"""The one exception type for user mistakes."""
from __future__ import annotations

import difflib
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
