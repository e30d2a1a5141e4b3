"""The promotions' exception family; views, the admin and the ``promote`` command turn them into messages."""

from __future__ import annotations

from apps.core.errors import AppError


class PromotionError(AppError):
    """A promotion that cannot be requested, approved or cancelled as asked (nothing was changed)."""


class PromotionDenied(PromotionError):
    """The actor may not do this (no ``promotions.promote_modelversion``, or approving their own request). The
    attempt is recorded in the audit log."""
