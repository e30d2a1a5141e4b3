"""Who acts and in which request: the ``Actor`` every audit event names, and the request id of the current web
request (set by ``apps.audit.middleware.RequestIdMiddleware``) that events written during it carry."""

from __future__ import annotations

import getpass
import os
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AbstractUser, AnonymousUser

_request_id: ContextVar[str] = ContextVar("audit_request_id", default="")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id() -> str:
    """The id of the web request being served, or "" outside one."""
    return _request_id.get()


def request_id_set(value: str | None) -> object:
    """Start a request: take ``value`` (a client's ``X-Request-ID``) when it is a plain id of up to 64 characters,
    else a new one. Returns the token to reset with."""
    chosen = value if value and _REQUEST_ID.fullmatch(value) else uuid.uuid4().hex
    return _request_id.set(chosen)


def request_id_reset(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]


def os_user() -> str:
    """The operating-system user running this process (``cli:<os user>`` actors)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user of the dashboard, or a process without one (``name`` only: ``scheduler``,
    ``worker``, ``cli:alice``). Shell access to the server is admin access, so a command-line actor is trusted."""

    name: str
    user: AbstractUser | None = None

    @classmethod
    def of(cls, user: AbstractBaseUser | AnonymousUser) -> Actor:
        if not user.is_authenticated:
            return cls(name="anonymous")
        return cls(name=user.get_username(), user=user)  # type: ignore[arg-type]

    @classmethod
    def cli(cls) -> Actor:
        return cls(name=f"cli:{os_user()}")

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(name=name)

    @property
    def is_cli(self) -> bool:
        return self.user is None and self.name.startswith("cli:")

    def __str__(self) -> str:
        return self.name
