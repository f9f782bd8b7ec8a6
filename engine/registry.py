"""Plugin manager: built-ins, entry-point discovery, and the name registry.

Built-in plugins are ordinary pluggy plugins registered exactly like third-party ones; the
only difference is that they are found by module path instead of through an entry point.
Every entry point is loaded in its own ``try``: a broken third-party plugin costs a warning,
never the tool (``MOTIFPROBE_STRICT_PLUGINS=1`` re-raises instead).
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
from motifprobe.engine.errors import MotifprobeError, unknown

KINDS = ("generator", "model", "perturbation_test")
_HOOK_FOR_KIND = {
    "generator": "register_generators",
    "model": "register_models",
    "perturbation_test": "register_perturbation_tests",
}
BUILTIN_PLUGINS = {
    "simdna": "motifprobe.plugins.generators.simdna_generator",
    "fast": "motifprobe.plugins.generators.fast_generator",
    "torch-cnn": "motifprobe.plugins.models.torch_cnn",
    "sklearn": "motifprobe.plugins.models.sklearn_kmer",
    "xgboost-kmer": "motifprobe.plugins.models.xgboost_kmer",
    "presence": "motifprobe.plugins.tests.presence",
    "order": "motifprobe.plugins.tests.order",
    "distance": "motifprobe.plugins.tests.distance",
    "interaction": "motifprobe.plugins.tests.interaction",
    "control": "motifprobe.plugins.tests.control",
}


class PluginLoadWarning(UserWarning):
    """A third-party plugin failed to load or register; the rest still works."""


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


class Registry:
    """All plugins and the names they registered, per kind.

    Build it with :func:`get_registry`; tests may build their own with extra plugins.
    """

    def __init__(self, extra_plugins: dict[str, Any] | None = None, *, entry_points: bool = True):
        self.pm = pluggy.PluginManager(hookspecs.NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.failed: dict[str, str] = {}
        self._entries: dict[str, dict[str, PluginEntry]] = {kind: {} for kind in KINDS}
        self._aliases: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        disabled = _env_list("MOTIFPROBE_DISABLE_PLUGINS") or set()
        own = _own_version()
        for name, module in BUILTIN_PLUGINS.items():
            if name not in disabled:
                self._add(name, importlib.import_module(module), "motifprobe", own, builtin=True)
        if entry_points:
            self._load_entry_points(disabled)
        for name, obj in (extra_plugins or {}).items():
            self._add(name, obj, "(registered in code)", "", builtin=False)
        self._check_pending()
        self._collect()

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
            if ep.name in self.plugins:
                self._fail(ep.name, dist, MotifprobeError(
                    f"plugin name {ep.name!r} is already taken by {self.plugins[ep.name].distribution}"))
                continue
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure of a third party
                self._fail(ep.name, dist, exc)
                continue
            self._add(ep.name, obj, dist, version, builtin=False)

    def _check_pending(self) -> None:
        """Refuse hook implementations with no matching spec (a misspelled hook name).

        A third-party plugin with such a hook is unregistered with a warning; ours raise.
        """
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin)
                info = self.plugins.get(name)
                if info is None or info.builtin:
                    raise
                self.pm.unregister(exc.plugin)
                del self.plugins[name]
                self._fail(name, info.distribution, exc)

    def _fail(self, name: str, dist: str, exc: BaseException) -> None:
        if _strict():
            raise exc
        self.failed[name] = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"motifprobe plugin {name!r} from distribution {dist!r} failed to load and is skipped "
            f"({type(exc).__name__}: {exc}); set MOTIFPROBE_STRICT_PLUGINS=1 to see the traceback",
            PluginLoadWarning, stacklevel=2)

    def _add(self, name: str, obj: Any, dist: str, version: str, *, builtin: bool) -> None:
        self.pm.register(obj, name=name)
        self.plugins[name] = PluginInfo(name, dist, version, builtin)

    def _collect(self) -> None:
        for kind, hook_name in _HOOK_FOR_KIND.items():
            hook = getattr(self.pm.hook, hook_name)
            # Registration order = built-ins first, so a third party can never shadow them.
            for impl in hook.get_hookimpls():
                info = self.plugins[impl.plugin_name]
                register = self._make_register(kind, info)
                try:
                    impl.function(register=register)
                except MotifprobeError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    if info.builtin:
                        raise
                    self._fail(info.name, info.distribution, exc)

    def _make_register(self, kind: str, info: PluginInfo) -> Callable[..., None]:
        def register(name: str, factory: Callable[..., Any], *, aliases: tuple[str, ...] | list[str] = ()) -> None:
            for label in (name, *aliases):
                owner = self._owner(kind, label)
                if owner is not None:
                    raise MotifprobeError(
                        f"duplicate {kind} name {label!r}: registered by plugin {owner.plugin!r} "
                        f"({owner.distribution}) and by plugin {info.name!r} ({info.distribution})")
            entry = PluginEntry(kind, name, factory, info.name, info.distribution, info.version, tuple(aliases))
            self._entries[kind][name] = entry
            for alias in aliases:
                self._aliases[kind][alias] = name
            info.registers.setdefault(kind, []).append(name)
        return register

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
            raise unknown(kind.replace("_", " ") + " plugin", name, self.names(kind))
        return entry

    def create(self, kind: str, name: str, **params: Any) -> Any:
        """Build an instance of a registered plugin."""
        return self.get(kind, name).factory(**params)


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
