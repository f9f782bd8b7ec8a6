"""Rich progress bars behind the engine's plain ``progress(**fields)`` callbacks."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextlib.contextmanager
def rich_progress(console: Console, description: str, *, extra: Callable[[dict], str] | None = None,
                  enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Yield a callback ``cb(completed=, total=, description=None, **info)`` that drives rich bars.

    A new ``description`` starts a new bar (one per test in interpret); ``extra`` renders
    the remaining fields (e.g. train loss, val accuracy) beside the bar.
    """
    if not enabled:
        yield lambda **_: None
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def callback(completed: int = 0, total: int | None = None, description: str | None = None, **info) -> None:
            label = description or description_default
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total, info="")
            text = extra(info) if extra and info else ""
            bar.update(tasks[label], completed=completed, total=total, info=text)

        description_default = description
        yield callback
