"""``manage.py add_source KIND NAME LOCATION [options]``: add a source of a registered kind."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core import registry
from apps.core.errors import AppError


class Command(BaseCommand):
    help = "Add a source (mlflow: a tracking URI; dvc: a repository path or URL). Same name and location: no change."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("kind", choices=sorted(registry.source_kinds()), help="kind of source")
        parser.add_argument("name", help="source name: up to 200 characters of A-Za-z0-9._-")
        parser.add_argument("location", help="tracking URI (mlflow) or repository path/URL (dvc)")
        for kind in registry.source_kinds().values():
            if kind.add_arguments is not None:
                group = parser.add_argument_group(f"{kind.name} options")
                kind.add_arguments(group)  # type: ignore[arg-type]

    def handle(self, *args: Any, **options: Any) -> None:
        kind = registry.source_kind(options["kind"])
        try:
            extra = {k: v for k, v in options.items() if k not in ("kind", "name", "location")}
            source, created = kind.add_source(options["name"], options["location"], **extra)
        except AppError as exc:
            raise CommandError(str(exc)) from exc
        if created:
            self.stdout.write(self.style.SUCCESS(f"Added {kind.name} source '{source.name}' ({source.location})."))
        else:
            self.stdout.write(f"{kind.name} source '{source.name}' already exists with this location; nothing changed.")
