"""``manage.py ensure_login``: make sure a staff login exists, for ``make run`` on a fresh machine."""

from __future__ import annotations

import os
import secrets
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the admin login if no superuser exists. Takes LINEAGE_ADMIN_USER / LINEAGE_ADMIN_PASSWORD from the "
        "environment, else generates a password and prints it once."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--quiet-if-exists", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username = os.environ.get("LINEAGE_ADMIN_USER", "admin")
        password = os.environ.get("LINEAGE_ADMIN_PASSWORD", "")
        if user_model.objects.filter(is_superuser=True).exists():
            if not options["quiet_if_exists"]:
                self.stdout.write("A superuser already exists; log in with it (or `manage.py changepassword`).")
            return
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        if generated:
            # Printed once and kept only where the operator can read it again on this machine.
            note = settings.VAR_DIR / "admin-login.txt"
            note.unlink(missing_ok=True)
            fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
            with os.fdopen(fd, "w") as f:
                f.write(f"user: {username}\npassword: {password}\n")
            self.stdout.write(self.style.SUCCESS(f"Created login  user: {username}  password: {password}"))
            self.stdout.write(f"(also written to {note}; change it with `manage.py changepassword {username}`)")
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Created login '{username}' with the password from LINEAGE_ADMIN_PASSWORD.")
            )
