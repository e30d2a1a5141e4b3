"""``manage.py create_api_token USER [--name NAME]``: make a read-only REST API token and print its key once.
Also ``--list [USER]`` and ``--revoke PREFIX``."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.core import tokens
from apps.core.models import ApiToken

CREATED_BY = "manage.py create_api_token"


class Command(BaseCommand):
    help = (
        "Create a read-only REST API token for USER and print its key (shown once; only its hash is stored). "
        "--list shows tokens (of USER, or everyone's); --revoke PREFIX revokes the token whose key starts so."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("user", nargs="?", help="username the token acts as (its permissions apply)")
        parser.add_argument("--name", default="default", help="what the token is for, e.g. ci-deploy-gate")
        parser.add_argument("--list", action="store_true", help="list tokens instead of creating one")
        parser.add_argument("--revoke", metavar="PREFIX", help="revoke the token with this key prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"]:
            self._list(options["user"])
        elif options["revoke"]:
            self._revoke(options["revoke"], options["user"])
        elif not options["user"]:
            raise CommandError("Name the user the token is for: create_api_token USER [--name NAME].")
        else:
            self._create(options["user"], options["name"])

    def _create(self, username: str, name: str) -> None:
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user named '{username}'.")
        try:
            token, key = tokens.api_token_create(user=user, name=name, created_by=CREATED_BY)
        except tokens.ApiTokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created API token '{token.name}' for {username}. Its key, shown only this once:")
        )
        self.stdout.write(key)
        self.stdout.write(f'Use it as: curl -H "Authorization: Token {key}" <dashboard URL>/api/me/')

    def _list(self, username: str | None) -> None:
        qs = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
        if username:
            qs = qs.filter(user__username=username)
        found = list(qs)
        for token in found:
            revoked = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.prefix}  {token.user.get_username():<20} {token.name:<30} "
                f"created {token.created_at:%Y-%m-%d %H:%M}  last used {used}  {revoked}"
            )
        if not found:
            self.stdout.write("No API tokens.")

    def _revoke(self, prefix: str, username: str | None) -> None:
        qs = ApiToken.objects.filter(prefix=prefix)
        if username:
            qs = qs.filter(user__username=username)
        matches = list(qs[:2])
        if not matches:
            raise CommandError(f"No API token with prefix '{prefix}'.")
        if len(matches) > 1:
            raise CommandError(f"Several API tokens have prefix '{prefix}'; add the USER to choose.")
        token = tokens.api_token_revoke(token=matches[0], by=CREATED_BY)
        self.stdout.write(self.style.SUCCESS(f"Revoked API token '{token.name}' ({token.prefix}…)."))
