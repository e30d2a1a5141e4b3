"""The audit log's pages (auditor role and up): the filtered event list and one event with its chain link; and the
project's login view, which records staff logins (and failed attempts on staff accounts) as events."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET

from apps.audit import links, selectors
from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record

VIEW = "audit.view_auditevent"
PAGE_SIZE = 50
FAILED_LOGIN_WINDOW_SECONDS = 60


def _day(value: str, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` from a filter as the start of that day (or of the next, for ``end``) in the site's zone."""
    try:
        day = parse_date(value) if value else None
    except ValueError:  # well-formed but no such day: 2026-02-30
        return None
    if day is None:
        return None
    moment = timezone.make_aware(datetime.combine(day, time.min))
    return moment + timedelta(days=1) if end else moment


@require_GET
@permission_required(VIEW, raise_exception=True)
def event_list(request: HttpRequest) -> HttpResponse:
    get = request.GET
    query = selectors.EventQuery(
        action=get.get("action", "")[:64],
        actor=get.get("actor", "").strip()[:150],
        target_type=get.get("target_type", "")[:64],
        target=get.get("target", "").strip()[:200],
        text=get.get("q", "").strip()[:200],
        since=_day(get.get("since", "")),
        until=_day(get.get("until", ""), end=True),
    )
    head = selectors.chain_head()
    paginator = Paginator(selectors.event_list(query), PAGE_SIZE)
    known = selectors.event_count(query, head)
    if known is not None:  # the whole log: its count is its head's sequence number, not a scan of every row
        paginator.count = known  # type: ignore[misc]
    page = paginator.get_page(get.get("page"))
    rows = [(event, links.target_url(event.target_type, event.target_id)) for event in page.object_list]
    actions = selectors.action_choices()
    prefixes = sorted({a.split(".")[0] + "." for a in actions if "." in a})
    return render(
        request,
        "audit/event_list.html",
        {
            "page": page,
            "rows": rows,
            "query": query,
            "since": get.get("since", ""),
            "until": get.get("until", ""),
            "actions": actions,
            "action_prefixes": prefixes,
            "target_types": selectors.target_type_choices(),
            "head": head,
            "triggers_missing": selectors.triggers_missing(),
        },
    )


def _pretty(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@require_GET
@permission_required(VIEW, raise_exception=True)
def event_detail(request: HttpRequest, seq: int) -> HttpResponse:
    try:
        event = selectors.event_get(seq)
    except AuditEvent.DoesNotExist:
        raise Http404("No such audit event.") from None
    return render(
        request,
        "audit/event_detail.html",
        {
            "event": event,
            "before": _pretty(event.before),
            "after": _pretty(event.after),
            "target_url": links.target_url(event.target_type, event.target_id),
            "related": selectors.events_for(event.target_type, event.target_id, limit=50) if event.target_id else [],
        },
    )


def _client_address(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


class LoginView(auth_views.LoginView):
    """Django's login, recording each staff member's login (and each failed attempt on a staff account) as an audit
    event in the same transaction as the login itself. The admin's login page is routed here too."""

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        with transaction.atomic():
            response = super().form_valid(form)
            if user.is_staff:
                audit_record(
                    action="auth.login",
                    target_type="user",
                    target_id=user.pk,
                    target_text=user.get_username(),
                    actor=Actor.of(user),
                    after={"address": _client_address(self.request), "superuser": user.is_superuser},
                )
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = str(form.data.get("username", ""))[:150]
        staff = get_user_model().objects.filter(username=username, is_staff=True).first() if username else None
        # The first failure on a staff account per minute is recorded: a script guessing passwords must not be able
        # to fill the (undeletable) log.
        if staff is not None and cache.add(f"audit:login-failed:{staff.pk}", 1, FAILED_LOGIN_WINDOW_SECONDS):
            audit_record(
                action="auth.login_failed",
                target_type="user",
                target_id=staff.pk,
                target_text=staff.get_username(),
                actor=Actor.system("anonymous"),
                after={
                    "address": _client_address(self.request),
                    "note": f"further failures on this account within {FAILED_LOGIN_WINDOW_SECONDS} s are not "
                    "recorded one by one",
                },
            )
        return super().form_invalid(form)
