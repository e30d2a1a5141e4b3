"""Read-only API tokens: how they are made, stored and revoked, from the admin, the command line and the service."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from apps.core import tokens
from apps.core.models import ApiToken

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/core/apitoken/add/"
LIST_URL = "/admin/core/apitoken/"


def _call(*args: str) -> str:
    out = StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _me(key: str) -> int:
    return Client().get("/api/me/", headers={"Authorization": f"Token {key}"}).status_code


def _grant(user: User, *codenames: str) -> Client:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="core", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_the_stored_row_holds_only_the_hash_and_prefix(viewer: User) -> None:
    token, key = tokens.api_token_create(user=viewer, name="ci-deploy-gate", created_by="stan")
    token.refresh_from_db()
    assert len(key) >= 40
    assert token.prefix == key[:8]
    assert token.key_hash == tokens.api_token_hash(key) != key
    stored = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values().get().values()]
    assert not any(key in value for value in stored)
    assert (token.user, token.name, token.created_by, token.revoked_at) == (viewer, "ci-deploy-gate", "stan", None)


def test_a_user_may_hold_several_tokens(viewer: User) -> None:
    _, first = tokens.api_token_create(user=viewer, name="ci", created_by="stan")
    _, second = tokens.api_token_create(user=viewer, name="ci", created_by="stan")
    assert first != second
    assert viewer.api_tokens.count() == 2


def test_it_refuses_an_inactive_user_and_an_empty_name(viewer: User) -> None:
    with pytest.raises(tokens.ApiTokenError, match="needs a name"):
        tokens.api_token_create(user=viewer, name="  ", created_by="stan")
    viewer.is_active = False
    viewer.save()
    with pytest.raises(tokens.ApiTokenError, match="inactive"):
        tokens.api_token_create(user=viewer, name="ci", created_by="stan")
    assert not ApiToken.objects.exists()


def test_revoking_keeps_the_row_and_the_first_revocation(viewer: User) -> None:
    token, key = tokens.api_token_create(user=viewer, name="ci", created_by="stan")
    tokens.api_token_revoke(token=token, by="stan")
    first = token.revoked_at
    tokens.api_token_revoke(token=token, by="other")
    token.refresh_from_db()
    assert (token.revoked_at, token.revoked_by) == (first, "stan")
    assert _me(key) == 401


def test_the_command_prints_a_key_that_works(viewer: User) -> None:
    out = _call("vera", "--name", "ci-deploy-gate")
    key = out.splitlines()[1]
    assert _me(key) == 200
    assert "Authorization: Token" in out.splitlines()[2]
    token = ApiToken.objects.get()
    assert (token.name, token.created_by, token.prefix) == ("ci-deploy-gate", "manage.py create_api_token", key[:8])


def test_the_command_refuses_unknown_and_inactive_users(nobody: User) -> None:
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        _call("ghost")
    nobody.is_active = False
    nobody.save()
    with pytest.raises(CommandError, match="inactive"):
        _call("nora")
    with pytest.raises(CommandError, match="Name the user"):
        _call()
    assert not ApiToken.objects.exists()


def test_the_command_lists_and_revokes_by_prefix(viewer: User) -> None:
    key = _call("vera", "--name", "ci").splitlines()[1]
    assert re.search(rf"^{re.escape(key[:8])}\s+vera\s+ci\s.*last used never\s+active$", _call("--list"), re.M)
    assert "Revoked API token 'ci'" in _call("--revoke", key[:8])
    assert _me(key) == 401
    assert "revoked" in _call("--list", "vera")
    with pytest.raises(CommandError, match="No API token with prefix"):
        _call("--revoke", "nothere0")


def test_admin_add_shows_the_key_once(staff: User, viewer: User) -> None:
    client = _grant(staff, "add_apitoken", "view_apitoken")
    response = client.post(ADD_URL, {"user": viewer.pk, "name": "ci-deploy-gate"}, follow=True)
    assert response.redirect_chain[-1][0] == LIST_URL
    shown = [str(m) for m in response.context["messages"]]
    key = re.search(r"<code>([^<]+)</code>", shown[0]).group(1)  # type: ignore[union-attr]
    assert _me(key) == 200
    token = ApiToken.objects.get()
    assert (token.user, token.created_by) == (viewer, "stan")
    assert key not in client.get(LIST_URL).content.decode()
    assert key not in client.get(f"{LIST_URL}{token.pk}/change/").content.decode()


def test_admin_add_needs_the_add_permission(staff: User, viewer: User) -> None:
    client = _grant(staff, "view_apitoken")
    assert client.post(ADD_URL, {"user": viewer.pk, "name": "ci"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_admin_offers_no_inactive_user(staff: User, nobody: User) -> None:
    nobody.is_active = False
    nobody.save()
    client = _grant(staff, "add_apitoken")
    response = client.post(ADD_URL, {"user": nobody.pk, "name": "ci"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_admin_revoke_action_revokes_the_selected(staff: User, viewer: User) -> None:
    chosen, chosen_key = tokens.api_token_create(user=viewer, name="old", created_by="stan")
    kept, kept_key = tokens.api_token_create(user=viewer, name="new", created_by="stan")
    client = _grant(staff, "change_apitoken")
    response = client.post(LIST_URL, {"action": "revoke_selected", "_selected_action": [chosen.pk]}, follow=True)
    assert "1 API token revoked." in [str(m) for m in response.context["messages"]]
    chosen.refresh_from_db()
    assert chosen.revoked_by == "stan" and chosen.revoked_at is not None
    assert (_me(chosen_key), _me(kept_key)) == (401, 200)


def test_admin_never_edits_a_token_and_only_a_superuser_deletes(staff: User, viewer: User) -> None:
    token, _ = tokens.api_token_create(user=viewer, name="ci", created_by="stan")
    client = _grant(staff, "change_apitoken", "delete_apitoken")
    client.post(f"{LIST_URL}{token.pk}/change/", {"user": staff.pk, "name": "renamed"})
    assert client.post(f"{LIST_URL}{token.pk}/delete/", {"post": "yes"}).status_code == 403
    token.refresh_from_db()
    assert (token.user, token.name) == (viewer, "ci")
    admin = User.objects.create_superuser("root", password="pw-root")
    client.force_login(admin)
    client.post(f"{LIST_URL}{token.pk}/delete/", {"post": "yes"})
    assert not ApiToken.objects.exists()
