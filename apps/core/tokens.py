"""The REST API's read-only tokens: make one (the key is returned once, only its SHA-256 is stored), revoke one, find
the live token for a presented key, and note its use at most once a minute.

Kept apart from ``services.py`` (the sync's life) because the authentication class, the admin and the
``create_api_token`` command are its only callers.
"""

from __future__ import annotations

import getpass
import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core import registry
from apps.core.errors import AppError
from apps.core.models import ApiToken

# A token used again within this window is not written to again: authentication stays a read on the hot path.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenError(AppError):
    """A token that cannot be made or used as asked."""


def api_token_hash(key: str) -> str:
    """The hex SHA-256 under which a key is stored and looked up. Keys are 256 random bits, so no salt or slow hash
    is needed: nothing about a key can be guessed from its hash."""
    return hashlib.sha256(key.encode()).hexdigest()


def _actor(by: str) -> dict[str, str]:
    """The audit actor of a token change made by ``by``: a user of the admin, or the command line."""
    if User.objects.filter(username=by).exists():
        return {"actor_username": by}
    if by.startswith("manage.py"):
        try:
            return {"actor_name": f"cli:{getpass.getuser()}"}
        except (KeyError, OSError):
            return {"actor_name": "cli:unknown"}
    return {"actor_name": by or "system"}


def _record(action: str, token: ApiToken, by: str, **after: Any) -> None:
    registry.record_event(
        action=action,
        target_type="api_token",
        target_id=token.pk,
        target_text=f"{token.name} ({token.prefix}…) of {token.user.get_username()}",
        after={"user": token.user.get_username(), "name": token.name, "prefix": token.prefix, **after},
        **_actor(by),
    )


def api_token_create(*, user: User, name: str, created_by: str) -> tuple[ApiToken, str]:
    """Make a token for ``user`` and return it with its key, which exists nowhere else afterwards: show it once.
    Refuses (``ApiTokenError``) an inactive user or an empty or over-long name."""
    name = name.strip()
    if not name:
        raise ApiTokenError("A token needs a name saying what it is for.", hint="For example: ci-deploy-gate.")
    max_length = ApiToken._meta.get_field("name").max_length or 100
    if len(name) > max_length:
        raise ApiTokenError(f"A token name has at most {max_length} characters.")
    if not user.is_active:
        raise ApiTokenError(f"User '{user.get_username()}' is inactive.", hint="Activate the user first.")
    key = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=key[: ApiToken.PREFIX_LENGTH],
            key_hash=api_token_hash(key),
            created_by=created_by[:150],
        )
        _record("token.created", token, created_by)
    return token, key


def api_token_revoke(*, token: ApiToken, by: str) -> ApiToken:
    """Revoke ``token`` (it stops working at once; the row stays). Revoking a revoked token changes nothing: the
    first revocation's time and author are kept. Returns the token as stored."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=by[:150]
        )
        token.refresh_from_db()
        if revoked:
            _record("token.revoked", token, by)
    return token


def api_token_for_key(key: str) -> ApiToken:
    """The token whose key is ``key``, with its user. Refuses (``ApiTokenError``) an unknown or revoked key and a
    key of an inactive user, all with the same message, so a caller learns nothing about which it was."""
    token = ApiToken.objects.select_related("user").filter(key_hash=api_token_hash(key)).first()
    if token is None or token.is_revoked or not token.user.is_active:
        raise ApiTokenError("Invalid, revoked or inactive API token.")
    return token


def api_token_mark_used(token: ApiToken) -> None:
    """Record that ``token`` was just used, unless that was already recorded less than a minute ago (at most one
    write per token per minute, whatever the request rate; concurrent requests race to one conditional update)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    token.last_used_at = now
