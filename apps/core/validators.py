"""Validators shared by the source models of every sync app."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

SOURCE_NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9._-]{1,200}$", "Use up to 200 characters of letters, digits, '.', '_' and '-'."
)
ENV_NAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]*$", "An environment variable name, such as MLFLOW_PROD_PASSWORD."
)
# What RFC 3986 allows in a URL: anything else (spaces, quotes, backslashes, control or non-ASCII characters) is
# refused rather than guessed at, as browsers and servers read it differently.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
# A host name: dot-separated labels, single-label intranet names (http://mlflow:5000) included.
_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?")


def http_url_validator(value: str) -> None:
    """Accept only an absolute ``http(s)://host[:port][/path]`` URL without credentials, query or fragment: the base
    of links an admin configures (an MLflow UI, a git web UI). Anything else (``javascript:``, ``data:``, ``ftp:``,
    relative URLs, ``user:pass@``) could turn a link on a page into script or show a password to every viewer."""
    invalid = ValidationError("Enter a valid http:// or https:// URL.", code="invalid")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        raise invalid from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Use an http:// or https:// URL.", code="scheme")
    if "@" in parts.netloc:
        raise ValidationError(
            "Put no user name or password in the URL: it would be shown to everyone who sees the link.",
            code="credentials",
        )
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValidationError("Give the base URL only, without a ?query or #fragment.", code="query")
    if len(value) > 2000 or not _URL_CHARS.fullmatch(value) or not _is_host(parts.hostname or ""):
        raise invalid


def _is_host(host: str) -> bool:
    if _HOST_NAME.fullmatch(host) and len(host) <= 253:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_http_url(value: str) -> bool:
    """Whether ``value`` passes ``http_url_validator``: checked again where a link is built from a stored URL."""
    try:
        http_url_validator(value)
    except ValidationError:
        return False
    return True
