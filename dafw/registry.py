"""Registries of named components, one per kind, filled by plugins."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from dafw.components import KINDS
from dafw.errors import DafwError


@dataclass(frozen=True)
class Origin:
    """Provenance of a registry entry: its plugin and distribution.

    Attributes:
        plugin (str): Entry-point name of the plugin that registered the entry.
        distribution (str): Name of the installed distribution that provides the plugin.
        version (str): Version of that distribution.
    """

    plugin: str
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} (plugin {self.plugin!r})"


@dataclass(frozen=True)
class Entry:
    """One registered component.

    Attributes:
        kind (str): Component kind, one of ``dafw.components.KINDS``.
        name (str): Name that recipes use in ``type = "..."``.
        summary (str): One-line description shown by ``dafw list-plugins``.
        params (type[BaseModel]): Pydantic model of the parameters the factory accepts.
        factory (Callable[..., Any]): Builds the component; its signature depends on the kind.
        origin (Origin): Plugin and distribution that registered the entry.
    """

    kind: str
    name: str
    summary: str
    params: type[BaseModel]
    factory: Callable[..., Any]
    origin: Origin


class RegistryError(DafwError):
    """A component could not be registered or looked up."""


class Registry:
    """Entries of one kind, keyed by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, entry: Entry) -> None:
        """Add ``entry``; a name that is already taken raises and names both providers."""
        existing = self._entries.get(entry.name)
        if existing is not None:
            raise RegistryError(
                f"{self.kind} {entry.name!r} is registered twice: by {existing.origin} "
                f"and by {entry.origin}; uninstall or block one of the two plugins"
            )
        self._entries[entry.name] = entry

    def remove(self, name: str) -> None:
        """Remove the entry called ``name``, if present."""
        self._entries.pop(name, None)

    def get(self, name: str) -> Entry:
        """Return the entry called ``name``; an unknown name raises and lists the known ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(self.unknown_name_message(name)) from None

    def unknown_name_message(self, name: str) -> str:
        """Describe an unknown ``name``: the registered names and a close match, if any."""
        known = sorted(self._entries)
        message = f"unknown {self.kind} {name!r}"
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        listing = ", ".join(known) if known else "none (is a plugin missing or blocked?)"
        return f"{message} Registered {self.kind} names: {listing}"

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda entry: entry.name))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={sorted(self._entries)})"


class Registries:
    """The registries of every kind, as filled by one plugin manager."""

    def __init__(self) -> None:
        self._by_kind = {kind: Registry(kind) for kind in KINDS}

    def __getitem__(self, kind: str) -> Registry:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise RegistryError(
                f"unknown component kind {kind!r}; expected one of: {', '.join(KINDS)}"
            ) from None

    def entries(self) -> Iterator[Entry]:
        """Yield every entry, ordered by kind, then name."""
        for kind in KINDS:
            yield from self._by_kind[kind]


class Registrar:
    """Collects the entries of one plugin, stamping each with the plugin's origin."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.added: list[Entry] = []

    def add(
        self,
        kind: str,
        name: str,
        *,
        summary: str,
        params: type[BaseModel],
        factory: Callable[..., Any],
    ) -> None:
        """Register the component ``name`` of ``kind``.

        Args:
            kind (str): One of ``dafw.components.KINDS``.
            name (str): Name used by recipes; unique within the kind.
            summary (str): One line for ``dafw list-plugins``.
            params (type[BaseModel]): Parameter model; it should forbid unknown keys.
            factory (Callable[..., Any]): Builds the component, see ``dafw.components``.

        Raises:
            RegistryError: Unknown kind, a bad name or parameter model.
        """
        if kind not in KINDS:
            raise RegistryError(
                f"plugin {self.origin.plugin!r} registers {name!r} under the unknown kind "
                f"{kind!r}; expected one of: {', '.join(KINDS)}"
            )
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise RegistryError(
                f"plugin {self.origin.plugin!r} registers a {kind} with the invalid name "
                f"{name!r}; use letters, digits, '_' and '-'"
            )
        if not (isinstance(params, type) and issubclass(params, BaseModel)):
            raise RegistryError(
                f"plugin {self.origin.plugin!r} registers {kind} {name!r} with params={params!r}; "
                "expected a pydantic BaseModel subclass"
            )
        lines = summary.strip().splitlines()
        self.added.append(
            Entry(
                kind=kind,
                name=name,
                summary=lines[0] if lines else "",
                params=params,
                factory=factory,
                origin=self.origin,
            )
        )
