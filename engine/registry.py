"""Plugin manager: built-ins, entry-point discovery, and the name registry.

Built-in plugins are ordinary pluggy plugins registered exactly like third-party ones; the
only difference is that they are found by module path instead of through an entry point.

Everything one plugin does at load and registration is one unit: importing its entry point,
``pm.register`` (which validates its hook signatures), the check for misspelled hook names,
each hook call and every name it registers. Names are staged while its hooks run and kept
only if the whole unit succeeds; if any part fails, the plugin is unregistered from pluggy,
none of its names or aliases stay, and the failure costs one warning line naming the plugin,
its distribution and the reason (``MOTIFPROBE_STRICT_PLUGINS=1`` re-raises instead). A name
that is already taken is refused: the built-in or first registrant keeps it and the later
plugin is skipped as a whole. Built-ins load first; a built-in that fails is a bug and raises.
"""
from __future__ import annotations

import importlib
import importlib.metadata as metadata
import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import pluggy

from motifprobe.engine import hookspecs
from motifprobe.engine.errors import MotifprobeError, suggest, unknown
from motifprobe.engine.params import declared_params

KINDS = ("generator", "model", "perturbation_test", "rule")
_HOOK_FOR_KIND = {
    "generator": "register_generators",
    "model": "register_models",
    "perturbation_test": "register_perturbation_tests",
    "rule": "register_rules",
}
BUILTIN_PLUGINS = {
    "simdna": "motifprobe.plugins.generators.simdna_generator",
    "fast": "motifprobe.plugins.generators.fast_generator",
    "torch-cnn": "motifprobe.plugins.models.torch_cnn",
    "sklearn": "motifprobe.plugins.models.sklearn_kmer",
    "xgboost-kmer": "motifprobe.plugins.models.xgboost_kmer",
    "torchscript": "motifprobe.plugins.models.torchscript_model",
    "onnx": "motifprobe.plugins.models.onnx_model",
    "python": "motifprobe.plugins.models.python_model",
    "presence": "motifprobe.plugins.tests.presence",
    "order": "motifprobe.plugins.tests.order",
    "distance": "motifprobe.plugins.tests.distance",
    "interaction": "motifprobe.plugins.tests.interaction",
    "control": "motifprobe.plugins.tests.control",
    "spacing": "motifprobe.plugins.tests.spacing",
    "strand": "motifprobe.plugins.tests.orientation",
    "dosage": "motifprobe.plugins.tests.dosage",
    "position": "motifprobe.plugins.tests.position",
    "rule-presence": "motifprobe.plugins.rules.presence",
    "rule-any": "motifprobe.plugins.rules.any",
    "rule-order": "motifprobe.plugins.rules.order",
    "rule-distance": "motifprobe.plugins.rules.distance",
}
# What the built-ins register, per kind, in registration order: ``--help`` names them without
# importing any plugin (tests/test_cli_conventions.py checks this against the registry).
BUILTIN_NAMES = {
    "generator": ("simdna", "fast"),
    "model": ("torch-cnn", "kmer-logreg", "xgboost-kmer", "torchscript", "onnx", "python"),
    "perturbation_test": ("presence", "order", "distance", "interaction", "control", "spacing", "strand", "dosage",
                          "position"),
    "rule": ("presence", "any", "order", "distance"),
}
_MAX_REASON = 400


class PluginLoadWarning(UserWarning):
    """A third-party plugin failed to load or register; the rest still works."""


class PluginRefused(MotifprobeError):
    """The host refused what a plugin did (a taken name, a bad registration)."""


@dataclass(frozen=True)
class PluginEntry:
    """One registered name: what it is, who registered it, and how to build it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    distribution: str
    version: str
    aliases: tuple[str, ...] = ()


@dataclass
class PluginInfo:
    """One loaded plugin and the names it registered."""

    name: str
    distribution: str
    version: str
    builtin: bool
    registers: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was skipped, and why (one line)."""

    plugin: str
    distribution: str
    version: str
    reason: str

    def describe(self) -> dict[str, str]:
        return {"plugin": self.plugin, "distribution": self.distribution, "version": self.version,
                "reason": self.reason}


def _env_list(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {item.strip() for item in raw.split(",") if item.strip()}


def _strict() -> bool:
    return os.environ.get("MOTIFPROBE_STRICT_PLUGINS", "") not in ("", "0", "false", "False")


def _own_version() -> str:
    try:
        return metadata.version("motifprobe")
    except metadata.PackageNotFoundError:
        return "source"


def _reason(stage: str, exc: BaseException) -> str:
    """One line: where it failed and the exception (type and message, whitespace collapsed)."""
    message = " ".join(str(exc).split())
    text = message if isinstance(exc, PluginRefused) else (
        f"{stage}: {type(exc).__name__}" + (f": {message}" if message else ""))
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON - 3] + "..."


def one_line_description(factory: Any) -> str:
    """A factory's ``description`` attribute, else the first line of its own docstring, else ''."""
    text = getattr(factory, "description", None)
    if not isinstance(text, str) or not text.strip():
        doc = getattr(factory, "__doc__", None)
        text = doc if isinstance(doc, str) else ""
    lines = [line.strip() for line in text.strip().splitlines()]
    return lines[0] if lines else ""


class Registry:
    """All plugins and the names they registered, per kind.

    Build it with :func:`get_registry`; tests may build their own with extra plugins.

    Attributes
    ----------
    plugins : dict of str to PluginInfo
        Loaded plugins in load order (built-ins first).
    failures : list of PluginFailure
        Third-party plugins that were skipped, with the reason.
    """

    def __init__(self, extra_plugins: dict[str, Any] | None = None, *, entry_points: bool = True):
        self.pm = pluggy.PluginManager(hookspecs.NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self._entries: dict[str, dict[str, PluginEntry]] = {kind: {} for kind in KINDS}
        self._aliases: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        disabled = _env_list("MOTIFPROBE_DISABLE_PLUGINS") or set()
        own = _own_version()
        for name, module in BUILTIN_PLUGINS.items():
            if name not in disabled:
                self._load(name, lambda module=module: importlib.import_module(module), "motifprobe", own,
                           builtin=True)
        if entry_points:
            self._load_entry_points(disabled)
        for name, obj in (extra_plugins or {}).items():
            self._load(name, lambda obj=obj: obj, "(registered in code)", "", builtin=False)

    @property
    def failed(self) -> dict[str, str]:
        """Skipped plugins: name -> reason (see :attr:`failures` for the distribution)."""
        return {f.plugin: f.reason for f in self.failures}

    # -- loading ---------------------------------------------------------------------------
    def _load_entry_points(self, disabled: set[str]) -> None:
        allowed = _env_list("MOTIFPROBE_LOAD_PLUGINS")
        for ep in metadata.entry_points(group=hookspecs.NAME):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else ""
            if ep.name in disabled or dist in disabled:
                continue
            if allowed is not None and ep.name not in allowed and dist not in allowed:
                continue
            self._load(ep.name, ep.load, dist, version, builtin=False)

    def _load(self, name: str, load: Callable[[], Any], dist: str, version: str, *, builtin: bool) -> None:
        """Load and register one plugin as a unit: all of it, or (with a warning) none of it."""
        info = PluginInfo(name, dist, version, builtin)
        stage, obj, registered = ["import"], None, False
        try:
            if name in self.plugins:
                owner = self.plugins[name]
                raise PluginRefused(f"plugin name {name!r} is already taken by {owner.distribution} "
                                    f"(refused for {dist})")
            obj = load()
            stage[0] = "hook validation"
            self.pm.register(obj, name=name)
            registered = True
            self._check_hooks(obj)
            staged = self._call_hooks(obj, info, stage)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - anything a third party can do
            if registered:
                self.pm.unregister(plugin=obj, name=name)
            if builtin:
                raise
            self._fail(info, stage[0], exc)
            return
        self.plugins[name] = info
        for entry in staged:
            self._entries[entry.kind][entry.name] = entry
            for alias in entry.aliases:
                self._aliases[entry.kind][alias] = entry.name
            info.registers.setdefault(entry.kind, []).append(entry.name)

    def _check_hooks(self, obj: Any) -> None:
        """Refuse a hook implementation with no matching spec (a misspelled hook name)."""
        specs = list(_HOOK_FOR_KIND.values())
        for caller in self.pm.get_hookcallers(obj) or []:
            if caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is obj and not impl.optionalhook:
                    raise pluggy.PluginValidationError(
                        obj, f"unknown hook {caller.name!r}{suggest(caller.name, specs)}; "
                             f"hooks are {', '.join(specs)}")

    def _call_hooks(self, obj: Any, info: PluginInfo, stage: list[str]) -> list[PluginEntry]:
        """Call the plugin's hooks, kind by kind; return the entries they registered (staged).

        ``stage[0]`` names the hook being called, for the failure's reason."""
        staged: list[PluginEntry] = []
        for kind, hook_name in _HOOK_FOR_KIND.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin is not obj:
                    continue
                if impl.hookwrapper or impl.wrapper:
                    raise PluginRefused(f"{hook_name} of plugin {info.name!r} ({info.distribution}) "
                                        f"is a hook wrapper; register hooks must be plain hooks")
                stage[0] = f"hook {hook_name}"
                register, close = self._make_register(kind, info, staged)
                kwargs = {"register": register}
                try:
                    impl.function(**{arg: kwargs[arg] for arg in impl.argnames if arg in kwargs})
                finally:
                    close()
        return staged

    def _make_register(self, kind: str, info: PluginInfo, staged: list[PluginEntry]):
        open_ = [True]
        label = kind.replace("_", " ")

        def refuse(message: str) -> PluginRefused:
            return PluginRefused(f"{message}; refused for plugin {info.name!r} ({info.distribution})")

        def register(name: str, factory: Callable[..., Any], *,
                     aliases: tuple[str, ...] | list[str] = ()) -> None:
            if not open_[0]:
                raise refuse(f"register({name!r}) called after its hook returned")
            if not isinstance(name, str) or not name.strip() or name != name.strip():
                raise refuse(f"{label} name {name!r} is not a non-empty name")
            if not callable(factory):
                raise refuse(f"{label} {name!r}: factory {factory!r} is not callable")
            if isinstance(aliases, str) or not isinstance(aliases, (tuple, list)):
                raise refuse(f"{label} {name!r}: aliases must be a list or tuple of names, got {aliases!r}")
            for alias in aliases:
                if not isinstance(alias, str) or not alias.strip() or alias != alias.strip():
                    raise refuse(f"{label} {name!r}: alias {alias!r} is not a non-empty name")
            mine = {lbl for e in staged if e.kind == kind for lbl in (e.name, *e.aliases)}
            seen: set[str] = set()
            for lbl in (name, *aliases):
                owner = self._owner(kind, lbl)
                if owner is not None:
                    raise refuse(f"duplicate {label} name {lbl!r}: already registered by plugin "
                                 f"{owner.plugin!r} ({owner.distribution})")
                if lbl in mine or lbl in seen:
                    raise refuse(f"duplicate {label} name {lbl!r}: registered twice by the same plugin")
                seen.add(lbl)
            declared_params(factory)  # a declaration that cannot be read fails now, not in `plugins`
            staged.append(PluginEntry(kind, name, factory, info.name, info.distribution, info.version,
                                      tuple(aliases)))

        def close() -> None:
            open_[0] = False

        return register, close

    def _fail(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        if _strict():
            raise exc
        reason = _reason(stage, exc)
        self.failures.append(PluginFailure(info.name, info.distribution, info.version, reason))
        warnings.warn(
            f"motifprobe plugin {info.name!r} from distribution {info.distribution!r} failed to load and is "
            f"skipped ({reason}); set MOTIFPROBE_STRICT_PLUGINS=1 to see the traceback",
            PluginLoadWarning, stacklevel=2)

    def _owner(self, kind: str, label: str) -> PluginEntry | None:
        if label in self._entries[kind]:
            return self._entries[kind][label]
        if label in self._aliases[kind]:
            return self._entries[kind][self._aliases[kind][label]]
        return None

    # -- lookup ----------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """Registered names of one kind, in registration order."""
        return list(self._entries[kind])

    def get(self, kind: str, name: str) -> PluginEntry:
        """Return the entry for ``name`` (or an alias); unknown names raise MotifprobeError."""
        entry = self._owner(kind, name)
        if entry is None:
            raise unknown(kind.replace("_", " ") + " plugin", name, self.names(kind), aliases=self._aliases[kind])
        return entry

    def create(self, kind: str, name: str, **params: Any) -> Any:
        """Build an instance of a registered plugin."""
        return self.get(kind, name).factory(**params)

    # -- description (``motifprobe plugins``) ------------------------------------------------
    def describe(self, kind: str, name: str) -> dict[str, Any]:
        """Plain data about one registered name (or alias): who registers it, its description,
        aliases and declared parameters (each as :meth:`Param.describe`)."""
        entry = self.get(kind, name)
        info = self.plugins[entry.plugin]
        return {"kind": kind, "name": entry.name, "aliases": list(entry.aliases),
                "description": one_line_description(entry.factory), "plugin": entry.plugin,
                "distribution": entry.distribution, "version": entry.version, "builtin": info.builtin,
                "parameters": [p.describe() for p in declared_params(entry.factory)]}

    def lookup(self, name: str) -> list[dict[str, Any]]:
        """Describe everything ``name`` stands for: a registered name or alias of any kind, and/or
        a plugin's name (all it registers). Unknown names raise MotifprobeError with close matches;
        a plugin that failed to load raises with its reason."""
        found: list[tuple[str, str]] = []
        for kind in KINDS:
            entry = self._owner(kind, name)
            if entry is not None:
                found.append((kind, entry.name))
        if name in self.plugins:
            for kind in KINDS:
                found += [(kind, n) for n in self.plugins[name].registers.get(kind, [])]
        if not found:
            for failure in self.failures:
                if failure.plugin == name:
                    raise MotifprobeError(f"plugin {name!r} from distribution {failure.distribution!r} failed "
                                          f"to load: {failure.reason}")
            known = set(self.plugins) | {f.plugin for f in self.failures}
            for kind in KINDS:
                known |= set(self._entries[kind]) | set(self._aliases[kind])
            raise unknown("plugin or registered name", name, known)
        return [self.describe(kind, n) for kind, n in dict.fromkeys(found)]

    def catalog(self) -> dict[str, Any]:
        """Everything ``motifprobe plugins --json`` shows: each plugin with what it registers
        (per kind: name, aliases, description, parameters), and the plugins that failed."""
        plugins = []
        for info in self.plugins.values():
            plugins.append({
                "plugin": info.name, "distribution": info.distribution, "version": info.version,
                "builtin": info.builtin, "registers": {k: list(v) for k, v in info.registers.items()},
                "entries": {kind: [self.describe(kind, n) for n in names] for kind, names in info.registers.items()},
            })
        return {"plugins": plugins, "failed": [f.describe() for f in self.failures]}


_lock = threading.Lock()
_registry: Registry | None = None


def get_registry() -> Registry:
    """Return the process-wide registry, building it on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = Registry()
        return _registry


def reset_registry() -> None:
    """Forget the cached registry (after installing or (dis)allowing plugins)."""
    global _registry
    with _lock:
        _registry = None
