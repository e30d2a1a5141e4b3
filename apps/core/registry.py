"""Small registries that apps above ``core`` fill in ``AppConfig.ready()``.

``core`` must not import the apps above it, so they register what it needs: their source kinds (for
``add_source``, ``sync_all`` and the scheduler), post-sync hooks, navigation entries, search providers, the
panels of the home page, fragments other apps' pages load, the jobs the embedded scheduler polls, and the audit
log's recorder (``core``'s own state changes, syncs and API tokens, are written to it through ``record_event``).
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


@dataclass(frozen=True)
class PageFragment:
    """A fragment an app serves for another app's page (``page``, e.g. ``model_version``): the page loads the URL
    named ``url_name``, reversed with the page's object id, in ``order``; only for users with ``permission``."""

    page: str
    name: str
    url_name: str
    order: int
    permission: str | None = None


@dataclass
class _Registry:
    kinds: dict[str, SourceKind] = field(default_factory=dict)
    post_sync_hooks: list[Callable[[SyncRun], None]] = field(default_factory=list)
    nav: dict[str, NavEntry] = field(default_factory=dict)
    search: list[tuple[str, SearchProvider]] = field(default_factory=list)
    overview: dict[str, OverviewProvider] = field(default_factory=dict)
    home_panels: dict[str, HomePanel] = field(default_factory=dict)
    fragments: dict[tuple[str, str], PageFragment] = field(default_factory=dict)
    pollers: dict[str, Callable[[], object]] = field(default_factory=dict)
    polled_tasks: set[str] = field(default_factory=set)
    event_recorder: Callable[..., None] | None = None


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


def register_page_fragment(page: str, name: str, *, url_name: str, order: int, permission: str | None = None) -> None:
    """Add (or replace, by ``page`` and ``name``) a fragment loaded into ``page``."""
    _registry.fragments[(page, name)] = PageFragment(
        page=page, name=name, url_name=url_name, order=order, permission=permission
    )


def page_fragments(page: str) -> list[PageFragment]:
    """The fragments registered for ``page`` in their order."""
    return sorted((f for f in _registry.fragments.values() if f.page == page), key=lambda f: (f.order, f.name))


def register_queue_poller(name: str, poll: Callable[[], object], *, replaces_task: str = "") -> None:
    """A job the embedded scheduler (``run_scheduler``, without Redis) runs every time it looks at its queue, e.g.
    the promotions waiting to be written to MLflow. With Redis, Celery beat runs the periodic task
    ``replaces_task`` instead, which the embedded scheduler then leaves out (the poller runs more often)."""
    _registry.pollers[name] = poll
    if replaces_task:
        _registry.polled_tasks.add(replaces_task)


def queue_pollers() -> list[tuple[str, Callable[[], object]]]:
    return sorted(_registry.pollers.items())


def polled_tasks() -> set[str]:
    """The periodic tasks a queue poller stands in for in the embedded scheduler."""
    return set(_registry.polled_tasks)


def register_event_recorder(recorder: Callable[..., None]) -> None:
    """Set the audit log's recorder (``apps.audit`` does, in its ``ready()``)."""
    _registry.event_recorder = recorder


def record_event(
    *,
    action: str,
    target_type: str,
    target_id: str | int = "",
    target_text: str = "",
    actor_username: str = "",
    actor_name: str = "",
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> None:
    """Append an event to the audit log in the caller's transaction. The actor is a user by ``actor_username`` or
    a process by ``actor_name`` (``scheduler``, ``cli:alice``). Refuses (``RuntimeError``) when no recorder is
    registered: a state change must not happen unrecorded."""
    recorder = _registry.event_recorder
    if recorder is None:
        raise RuntimeError("No audit recorder is registered: apps.audit must be in INSTALLED_APPS.")
    recorder(
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_text=target_text,
        actor_username=actor_username,
        actor_name=actor_name,
        before=before,
        after=after,
        reason=reason,
    )
