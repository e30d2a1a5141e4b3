"""What the lineage benchmark's measurements share: spreading a sample, percentiles, timing a call per item,
counting its SQL queries, and the bench user with a test client logged in as it."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.roles import VIEWER
from apps.mlflow_sync.models import ModelVersion

USERNAME = "bench-lineage"
Write = Callable[[str], Any]
T = TypeVar("T")


def spread(items: list[T], k: int) -> list[T]:
    """``k`` items spread evenly over ``items``, first and last included (all of them when there are fewer)."""
    if k >= len(items):
        return list(items)
    if k <= 1:
        return [items[len(items) // 2]] if k == 1 else []
    return [items[round(i * (len(items) - 1) / (k - 1))] for i in range(k)]


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (p50 of 1..4 is 2, p95 of 20 values the 19th)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(values: list[float]) -> tuple[float, float]:
    """(p50, p95) of ``values`` (seconds), in milliseconds."""
    return percentile(values, 50) * 1000, percentile(values, 95) * 1000


def time_each(items: list[Any], fn: Callable[[Any], object]) -> list[float]:
    """Call ``fn`` once on the first item (the warm-up), then time it on every item."""
    if items:
        fn(items[0])
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - started)
    return times


def bench_user() -> User:
    User.objects.filter(username=USERNAME).delete()
    user = User.objects.create_user(USERNAME, password=secrets.token_urlsafe(24))
    group = Group.objects.filter(name=VIEWER).first()
    if group is not None:
        user.groups.add(group)
    return user


def bench_client(user: User) -> Client:
    """Django's test client logged in as ``user``, answering 500 rather than raising, with a host the settings allow
    (the bench runs outside the test runner, which would add ``testserver``)."""
    client = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def page_url(version: ModelVersion) -> str:
    return reverse("lineage:model_version", args=[version.model.name, version.version])


def count_queries(fn: Callable[[T], object], items: list[T]) -> list[int]:
    """How many SQL queries ``fn`` runs for each item (counted on a pass of its own: counting slows queries)."""
    counts = []
    for item in items:
        with CaptureQueriesContext(connection) as captured:
            fn(item)
        counts.append(len(captured))
    return counts
