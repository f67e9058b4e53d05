"""The dashboard registry: each domain app registers the tiles that show its audit indicators.

A tile is computed per request for the signed-in user, so every figure respects agency scoping.
An app that has nothing to show yet registers an empty-state tile that says what is coming.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

STATUS_OK = "ok"
STATUS_WARN = "warn"
STATUS_ALERT = "alert"
STATUS_EMPTY = "empty"


@dataclass(frozen=True)
class TileValue:
    """What a tile shows: a headline figure, its unit, a line of detail and a status."""

    value: str | int | float | None
    unit: str = ""
    detail: str = ""
    status: str = STATUS_OK
    url: str | None = None


@dataclass(frozen=True)
class Tile:
    """A dashboard tile registered by an app."""

    key: str
    title: str
    module: str
    order: int
    compute: Callable[[object], TileValue]
    capability: str = "dashboard.view"
    audit_finding: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


_REGISTRY: dict[str, Tile] = {}


def register(tile: Tile) -> None:
    """Add or replace a tile (re-registration by key keeps ``ready()`` idempotent)."""
    _REGISTRY[tile.key] = tile


def registered() -> list[Tile]:
    """All tiles, in display order."""
    return sorted(_REGISTRY.values(), key=lambda t: (t.order, t.key))


def tiles_for(user) -> list[tuple[Tile, TileValue]]:
    """The tiles ``user`` may see, each with its value computed for that user."""
    result = []
    for tile in registered():
        if not user.has_capability(tile.capability):
            continue
        result.append((tile, tile.compute(user)))
    return result


def empty_state_tile(*, key: str, title: str, module: str, order: int, audit_finding: str) -> Tile:
    """A tile for a module that is installed but has no data yet."""

    def compute(_user) -> TileValue:
        return TileValue(value=None, detail=str(_("No data yet: this module has not been set up.")),
                         status=STATUS_EMPTY)

    return Tile(key=key, title=title, module=module, order=order, compute=compute, audit_finding=audit_finding)


def register_core_tiles() -> None:
    """Core itself registers no figures; apps register theirs in their ``ready()``."""
