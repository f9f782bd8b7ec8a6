"""Plugin parameters: one declaration type for every plugin kind.

Generators, models, perturbation tests and rules declare their parameters the same way, as a
tuple of :class:`Param` in the class attribute ``parameters``. The engine coerces strings from the
command line, checks types, ranges and choices, refuses unknown keys, and shows the
declarations in ``motifprobe plugins NAME``.

>>> class MyTest(PerturbationTest):
...     parameters = (Param("fill", str, "background", "replacement bases", choices=("background", "shuffle")),
...               Param("width", int, 10, "window in bp", low=1))
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from motifprobe.engine.errors import MotifprobeError

TYPES = {int: "int", float: "float", str: "str", bool: "bool", list: "list"}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    Parameters
    ----------
    name : str
        Key as given on the command line (``KEY=VALUE``; dashes become underscores).
    type : {int, float, str, bool, list}
        Values from the command line are coerced to this type; ``list`` takes comma-separated
        strings. ``None`` as a default means "unset" and is always accepted.
    default : object
    help : str
        One line for ``motifprobe plugins NAME``.
    choices : tuple, optional
        The allowed values.
    low, high : float, optional
        Inclusive bounds for numbers; ``low_open``/``high_open`` make them exclusive.
    """

    name: str
    type: type
    default: Any
    help: str = ""
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def type_name(self) -> str:
        return TYPES.get(self.type, getattr(self.type, "__name__", str(self.type)))

    def allowed(self) -> str:
        """What values are allowed, in words (for help and errors)."""
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        if self.type in (int, float) and (self.low is not None or self.high is not None):
            what = "an integer" if self.type is int else "a finite number"
            lo = None if self.low is None else f"{_plain(self.low)} {'<' if self.low_open else '<='} "
            hi = None if self.high is None else f" {'<' if self.high_open else '<='} {_plain(self.high)}"
            if lo is not None and hi is not None:
                return f"{what} with {lo}x{hi}"
            if lo is not None:
                return f"{what} {'>' if self.low_open else '>='} {_plain(self.low)}"
            return f"{what}{hi}"
        return {int: "an integer", float: "a finite number", bool: "true or false", list: "a comma-separated list",
                str: "a string"}.get(self.type, self.type_name)

    def describe(self) -> dict[str, Any]:
        """Plain-data description (``plugins --json``)."""
        return {"name": self.name, "type": self.type_name, "default": self.default, "help": self.help,
                "allowed": self.allowed(), "choices": list(self.choices) if self.choices is not None else None}


def _plain(value: Any) -> str:
    """Numbers as a user typed them (never ``np.float64(...)``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    return str(value)


def declared_params(factory: Any) -> tuple[Param, ...]:
    """The parameters a plugin factory declares.

    ``parameters`` (a tuple of :class:`Param`) is the mechanism; the older ``param_defaults``
    dict (with optional ``param_help``) is read as parameters typed by their defaults, so
    plugins written before ``Param`` keep working.
    """
    declared = getattr(factory, "parameters", None)
    if declared and isinstance(declared, (tuple, list)) and all(isinstance(p, Param) for p in declared):
        return tuple(declared)
    defaults = getattr(factory, "param_defaults", None) or {}
    helps = getattr(factory, "param_help", None) or {}
    out = []
    for key, default in defaults.items():
        kind = type(default) if isinstance(default, (bool, int, float, str, list)) else str
        out.append(Param(key, kind, default, helps.get(key, "")))
    return tuple(out)


def coerce(param: Param, value: Any, owner: str) -> Any:
    """Coerce ``value`` (possibly a command-line string) to ``param``'s type and check it."""
    if value is None:
        return None

    def bad(extra: str = "") -> MotifprobeError:
        return MotifprobeError(f"{owner}: parameter {param.name}={_plain(value)} is not allowed{extra}; "
                               f"allowed: {param.allowed()}")

    kind = param.type
    if kind is bool:
        if isinstance(value, bool):
            out = value
        elif isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            out = value.strip().lower() in _TRUE
        elif isinstance(value, (int, float)) and value in (0, 1):
            out = bool(value)
        else:
            raise bad()
    elif kind is int:
        try:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str):
                out = int(value.strip())
            else:
                number = float(value)
                if not number.is_integer():
                    raise ValueError
                out = int(number)
        except (TypeError, ValueError, OverflowError):
            raise bad() from None
    elif kind is float:
        try:
            if isinstance(value, bool):
                raise ValueError
            out = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise bad() from None
        if not math.isfinite(out):
            raise bad()
    elif kind is list:
        if isinstance(value, str):
            out = [item.strip() for item in value.split(",") if item.strip()]
        elif isinstance(value, (list, tuple)):
            out = list(value)
        else:
            raise bad()
    elif kind is str:
        if not isinstance(value, str):
            raise bad()
        out = value
    else:
        out = value
    if param.choices is not None and out not in param.choices:
        raise bad()
    if kind in (int, float):
        if param.low is not None and (out < param.low or (param.low_open and out == param.low)):
            raise bad()
        if param.high is not None and (out > param.high or (param.high_open and out == param.high)):
            raise bad()
    return out


def resolve(declared: Iterable[Param], given: dict[str, Any] | None, owner: str) -> dict[str, Any]:
    """Merge ``given`` into the declared defaults, coercing and checking every value.

    Parameters
    ----------
    declared : iterable of Param
    given : dict
        Keys may use dashes or underscores.
    owner : str
        Names the plugin in errors, e.g. ``"model plugin 'torch-cnn'"``.

    Raises
    ------
    MotifprobeError
        Unknown keys (listing the valid ones) or a bad value (naming what is allowed).
    """
    params = {p.name: p for p in declared}
    given = {str(k).replace("-", "_"): v for k, v in (given or {}).items()}
    unknown = sorted(set(given) - set(params))
    if unknown:
        raise MotifprobeError(f"{owner}: unknown parameter(s) {', '.join(unknown)}; "
                              f"valid: {', '.join(sorted(params)) or '(none)'}")
    out = {name: p.default for name, p in params.items()}
    for key, value in given.items():
        out[key] = coerce(params[key], value, owner)
    return out


def parse_pairs(pairs: Iterable[str] | None, flag: str = "--param") -> dict[str, str]:
    """Parse ``KEY=VALUE`` strings from the command line (values stay strings)."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            raise MotifprobeError(f"{flag} expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def parse_scoped_pairs(pairs: Iterable[str] | None, flag: str) -> dict[str, dict[str, str]]:
    """Parse ``PLUGIN:KEY=VALUE`` strings into ``{plugin: {key: value}}``."""
    out: dict[str, dict[str, str]] = {}
    for pair in pairs or []:
        head = pair.split("=", 1)[0]
        if ":" not in head or not head.split(":", 1)[0].strip():
            raise MotifprobeError(f"{flag} expects NAME:KEY=VALUE, got {pair!r}")
        plugin, rest = pair.split(":", 1)
        out.setdefault(plugin.strip(), {}).update(parse_pairs([rest], flag))
    return out
