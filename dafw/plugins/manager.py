"""Discovery of plugins through entry points, and their registration."""

from __future__ import annotations

import difflib
import logging
import os
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType

import pluggy

from dafw.errors import DafwError
from dafw.plugins import hookspecs
from dafw.registry import Entry, Origin, Registrar, Registries, RegistryError

logger = logging.getLogger("dafw")

ENTRY_POINT_GROUP = "dafw.plugins"
STRICT_ENV = "DAFW_STRICT_PLUGINS"
BLOCK_ENV = "DAFW_BLOCK_PLUGINS"


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, validated or registered.

    Attributes:
        plugin (str): Entry-point name of the plugin.
        distribution (str): Distribution name and version that declares the entry point.
        stage (str): ``import``, ``validate`` or ``register``.
        error (str): One-line description of the error.
        details (str): Full traceback, for ``--verbose`` output.
    """

    plugin: str
    distribution: str
    stage: str
    error: str
    details: str = ""

    def describe(self) -> str:
        """Return one line naming the plugin, its distribution and the error."""
        return (
            f"plugin {self.plugin!r} from {self.distribution} failed at {self.stage}: {self.error}"
        )


class PluginLoadError(DafwError):
    """One or more plugins failed while strict plugin loading is on."""


@dataclass
class PluginSet:
    """The outcome of loading plugins: filled registries and what went wrong.

    Attributes:
        registries (Registries): Entries of every plugin that loaded.
        loaded (list[Origin]): Plugins that registered successfully.
        failures (list[PluginFailure]): Plugins that failed, with the reason.
        blocked (list[str]): Entry-point names skipped because they were blocked.
    """

    registries: Registries = field(default_factory=Registries)
    loaded: list[Origin] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def env_flag(name: str) -> bool:
    """Return whether the environment variable ``name`` is set to a true value."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def blocked_from_env() -> set[str]:
    """Return the plugin names listed, comma-separated, in ``DAFW_BLOCK_PLUGINS``."""
    raw = os.environ.get(BLOCK_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def one_line(error: BaseException) -> str:
    """Format ``error`` as ``Type: message`` on one line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class PluginManager:
    """Loads dafw plugins and fills the registries.

    Args:
        blocked (set[str] | None): Entry-point names to skip. Defaults to none.
        strict (bool): Raise ``PluginLoadError`` on the first report of a failed plugin
            instead of reporting it and going on. Defaults to False.
    """

    def __init__(self, blocked: set[str] | None = None, strict: bool = False) -> None:
        self.blocked = set(blocked or ())
        self.strict = strict
        self._pluggy = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pluggy.add_hookspecs(hookspecs)
        self._origins: dict[str, Origin] = {}
        self.result = PluginSet()

    def load_entry_points(self) -> PluginSet:
        """Load every plugin of the ``dafw.plugins`` entry-point group, then register them."""
        found = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
        for entry_point in found:
            distribution = describe_distribution(entry_point)
            if entry_point.name in self.blocked:
                logger.debug("plugin %r from %s is blocked", entry_point.name, distribution)
                self.result.blocked.append(entry_point.name)
                continue
            if entry_point.name in self._origins:
                first = self._origins[entry_point.name]
                self._fail(
                    entry_point.name,
                    distribution,
                    "import",
                    f"the plugin name is already used by {first.distribution} {first.version}",
                )
                continue
            try:
                module = entry_point.load()
            except Exception as error:  # a broken plugin must not break the others
                self._fail(entry_point.name, distribution, "import", one_line(error), error)
                continue
            origin = Origin(
                plugin=entry_point.name,
                distribution=entry_point.dist.name if entry_point.dist else "unknown",
                version=entry_point.dist.version if entry_point.dist else "unknown",
            )
            self.add_plugin(module, origin)

        self.register_all()
        return self.result

    def add_plugin(self, plugin: ModuleType | object, origin: Origin) -> bool:
        """Validate ``plugin`` against the hook specifications and keep it if it passes.

        Returns:
            bool: Whether the plugin was kept.
        """
        distribution = f"{origin.distribution} {origin.version}"
        if origin.plugin in self.blocked:
            self.result.blocked.append(origin.plugin)
            return False
        try:
            self._pluggy.register(plugin, name=origin.plugin)
        except Exception as error:  # pluggy raises on a bad hook signature
            self._fail(origin.plugin, distribution, "validate", one_line(error), error)
            return False

        unknown = [
            caller.name
            for caller in self._pluggy.get_hookcallers(plugin) or []
            if not caller.has_spec()
        ]
        if unknown:
            self._pluggy.unregister(plugin)
            known = [name for name in dir(hookspecs) if name.startswith("dafw_")]
            messages = []
            for hook in unknown:
                message = f"hook implementation {hook!r} matches no dafw hook specification"
                close = difflib.get_close_matches(hook, known, n=1)
                if close:
                    message += f"; did you mean {close[0]!r}?"
                messages.append(message)
            self._fail(origin.plugin, distribution, "validate", "; ".join(messages))
            return False

        self._origins[origin.plugin] = origin
        return True

    def register_all(self) -> None:
        """Call every kept plugin's ``dafw_register`` hook, one plugin at a time."""
        for impl in self._pluggy.hook.dafw_register.get_hookimpls():
            origin = self._origins[impl.plugin_name]
            distribution = f"{origin.distribution} {origin.version}"
            registrar = Registrar(origin)
            try:
                impl.function(registrar=registrar)
                self._commit(registrar.added)
            except Exception as error:  # one failing plugin leaves the others registered
                self._fail(origin.plugin, distribution, "register", one_line(error), error)
                continue
            self.result.loaded.append(origin)

    def _commit(self, entries: list[Entry]) -> None:
        """Add ``entries`` to the registries; on a duplicate name, add none of them."""
        committed: list[Entry] = []
        try:
            for entry in entries:
                self.result.registries[entry.kind].add(entry)
                committed.append(entry)
        except RegistryError:
            for entry in committed:
                self.result.registries[entry.kind].remove(entry.name)
            raise

    def _fail(
        self,
        plugin: str,
        distribution: str,
        stage: str,
        message: str,
        error: BaseException | None = None,
    ) -> None:
        details = "".join(traceback.format_exception(error)) if error is not None else ""
        failure = PluginFailure(plugin, distribution, stage, message, details)
        if self.strict:
            raise PluginLoadError(
                f"{failure.describe()} (strict plugin loading is on: unset {STRICT_ENV} "
                "and drop --strict-plugins to load the other plugins anyway, or block this "
                f"one with --block-plugin {plugin})"
            )
        logger.warning("%s", failure.describe())
        self.result.failures.append(failure)


def describe_distribution(entry_point: metadata.EntryPoint) -> str:
    """Return ``name version`` of the distribution that declares ``entry_point``."""
    dist = entry_point.dist
    if dist is None:
        return "unknown distribution"
    return f"{dist.name} {dist.version}"


def load_plugins(blocked: set[str] | None = None, strict: bool | None = None) -> PluginSet:
    """Load all installed plugins, honouring the block list and strict mode.

    Args:
        blocked (set[str] | None): Names to skip, added to those in ``DAFW_BLOCK_PLUGINS``.
        strict (bool | None): Fail on the first broken plugin. Defaults to the value of
            ``DAFW_STRICT_PLUGINS``.

    Returns:
        PluginSet: The filled registries and the failures.
    """
    names = blocked_from_env() | set(blocked or ())
    strict = env_flag(STRICT_ENV) if strict is None else strict
    return PluginManager(blocked=names, strict=strict).load_entry_points()
