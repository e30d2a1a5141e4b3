"""Checks on MLflow tracking/registry URIs, shared by the admin form, ``add_source`` and the sync."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from django.core.exceptions import ValidationError

from apps.mlflow_sync.models import HTTP_SCHEMES, SQL_SCHEMES, uri_scheme

# Schemes MLflow's client understands that the product syncs through the client (no direct read).
CLIENT_SCHEMES = ("mysql", "mysql+pymysql", "mssql", "databricks", "file")


def sqlite_path(uri: str) -> Path:
    """The file a ``sqlite:///…`` URI names (``sqlite:////abs`` is absolute, ``sqlite:///rel`` relative to the cwd)."""
    rest = uri.split(":", 1)[1]
    if not rest.startswith("///"):
        raise ValidationError(f"A SQLite URI looks like sqlite:////absolute/path/mlflow.db, not {uri!r}.")
    path = unquote(rest[3:].split("?", 1)[0])
    return Path(path)


def validate_tracking_uri(uri: str) -> None:
    """Refuse URIs the product cannot sync, with the reason. A ``sqlite:`` URI whose file does not exist is refused:
    MLflow's client would silently create an empty store there."""
    scheme = uri_scheme(uri)
    try:
        has_password = bool(urlparse(uri).password)
    except ValueError:
        raise ValidationError(f"{uri!r} is not a valid URI.") from None
    if has_password:
        raise ValidationError(
            "Put no password in the URI: it would be stored and shown. Name the environment variable that holds it "
            "in the source's password variable instead."
        )
    if not scheme:
        raise ValidationError(f"{uri!r} has no scheme: use sqlite:////path/mlflow.db, postgresql://… or http(s)://….")
    if scheme == "sqlite":
        path = sqlite_path(uri)
        if str(path) in ("", ":memory:"):
            raise ValidationError("An in-memory SQLite store cannot be synced.")
        if not path.is_file():
            raise ValidationError(
                f"The MLflow SQLite file {path} does not exist. Check the path (sqlite:////abs/path has four slashes); "
                "MLflow would silently create an empty store there."
            )
        return
    if scheme in HTTP_SCHEMES:
        if not urlparse(uri).netloc:
            raise ValidationError(f"{uri!r} names no host.")
        return
    if scheme in SQL_SCHEMES or scheme in CLIENT_SCHEMES:
        return
    raise ValidationError(f"Unsupported tracking URI scheme {scheme!r}: use sqlite:, postgresql: or http(s):.")


def redact(text: str) -> str:
    """Hide any password in a URI or libpq message before it reaches a page or a log."""
    return re.sub(r"(//[^/:@\s]+):[^@/\s]+@", r"\1:***@", re.sub(r"(password=)\S+", r"\1***", text))
