"""Small registries that apps above ``core`` fill in ``AppConfig.ready()``.

``core`` must not import the apps above it, so they register what it needs: their source kinds (for
``add_source``, ``sync_all`` and the scheduler), post-sync hooks, navigation entries, search providers and the
panels of the home page.
"""

from __future__ import annotations

from argparse import ArgumentParser
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser, AnonymousUser

    from apps.core.models import SyncRun


@dataclass(frozen=True)
class SourceRef:
    """A configured source as ``core`` sees it."""

    kind: str
    id: int
    name: str
    location: str
    enabled: bool = True


class Progress(Protocol):
    def __call__(self, *, done: int, total: int, phase: str = "", counts: dict[str, int] | None = None) -> None: ...


@dataclass(frozen=True)
class SourceKind:
    """What a sync app tells ``core`` about its kind of source."""

    name: str
    label: str
    list_sources: Callable[[], list[SourceRef]]
    get_source: Callable[[str], SourceRef]
    sync: Callable[..., dict[str, int]]  # (source_id, *, full, progress) -> counts
    add_source: Callable[..., tuple[SourceRef, bool]]  # (name, location, **options) -> (source, created)
    add_arguments: Callable[[ArgumentParser], None] | None = None
    ensure_defaults: Callable[[], None] | None = None


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    order: int
    permission: str | None = None


@dataclass(frozen=True)
class SearchHit:
    kind: str
    title: str
    url: str
    detail: str = ""


@dataclass(frozen=True)
class OverviewStat:
    label: str
    value: int
    url: str = ""


OverviewProvider = Callable[[], list[OverviewStat]]


@dataclass(frozen=True)
class HomePanel:
    """A panel of the home page: ``template`` rendered with ``context(user)``, in ``order``, shown only to users
    with ``permission`` (when given)."""

    name: str
    template: str
    context: Callable[[AbstractUser | AnonymousUser], dict[str, Any]]
    order: int
    permission: str | None = None


SearchProvider = Callable[[str, "AbstractUser | AnonymousUser", int], list[SearchHit]]


@dataclass
class _Registry:
    kinds: dict[str, SourceKind] = field(default_factory=dict)
    post_sync_hooks: list[Callable[[SyncRun], None]] = field(default_factory=list)
    nav: dict[str, NavEntry] = field(default_factory=dict)
    search: list[tuple[str, SearchProvider]] = field(default_factory=list)
    overview: dict[str, OverviewProvider] = field(default_factory=dict)
    home_panels: dict[str, HomePanel] = field(default_factory=dict)


_registry = _Registry()


def register_source_kind(kind: SourceKind) -> None:
    _registry.kinds[kind.name] = kind


def source_kinds() -> dict[str, SourceKind]:
    return dict(_registry.kinds)


def source_kind(name: str) -> SourceKind:
    from apps.core.errors import SourceError

    try:
        return _registry.kinds[name]
    except KeyError:
        known = ", ".join(sorted(_registry.kinds)) or "none"
        raise SourceError(f"Unknown source kind {name!r}.", hint=f"Known kinds: {known}.") from None


def register_post_sync_hook(hook: Callable[[SyncRun], None]) -> None:
    if hook not in _registry.post_sync_hooks:
        _registry.post_sync_hooks.append(hook)


def post_sync_hooks() -> list[Callable[[SyncRun], None]]:
    return list(_registry.post_sync_hooks)


def register_nav(*, label: str, url_name: str, order: int, permission: str | None = None) -> None:
    _registry.nav[url_name] = NavEntry(label=label, url_name=url_name, order=order, permission=permission)


def nav_entries() -> list[NavEntry]:
    return sorted(_registry.nav.values(), key=lambda e: e.order)


def register_search_provider(name: str, provider: SearchProvider) -> None:
    if name not in {n for n, _ in _registry.search}:
        _registry.search.append((name, provider))


def search_providers() -> Iterable[tuple[str, SearchProvider]]:
    return list(_registry.search)


def register_overview_provider(name: str, provider: OverviewProvider) -> None:
    _registry.overview[name] = provider


def overview_stats() -> list[OverviewStat]:
    stats: list[OverviewStat] = []
    for provider in _registry.overview.values():
        stats.extend(provider())
    return stats


def register_home_panel(
    name: str,
    *,
    template: str,
    context: Callable[[AbstractUser | AnonymousUser], dict[str, Any]],
    order: int,
    permission: str | None = None,
) -> None:
    """Add (or replace, by ``name``) a panel of the home page."""
    _registry.home_panels[name] = HomePanel(
        name=name, template=template, context=context, order=order, permission=permission
    )


def home_panels() -> list[HomePanel]:
    """The home page's panels in their order."""
    return sorted(_registry.home_panels.values(), key=lambda panel: (panel.order, panel.name))
