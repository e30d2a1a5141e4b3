"""Requesting, approving, rejecting and cancelling: a reason is required, the four-eyes rule refuses
self-approval, and every refused attempt is on record."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.promotions.errors import PromotionDenied, PromotionError
from apps.promotions.models import Promotion, PromotionPolicy
from apps.promotions.services import (
    promotion_approve,
    promotion_cancel,
    promotion_execute,
    promotion_reject,
    promotion_request,
)
from tests.promotions.conftest import Registry


def _request(registry: Registry, user: User | None, **extra: object) -> Promotion:
    values: dict[str, object] = {"version": registry.version(3), "target": "production", "reason": "why not",
                                 "actor": Actor.of(user) if user else Actor.cli()}  # fmt: skip
    values.update(extra)
    return promotion_request(**values)  # type: ignore[arg-type]


def _four_eyes(registry: Registry) -> None:
    PromotionPolicy.objects.create(model=registry.model, target="production", four_eyes=True)


@pytest.mark.django_db
def test_a_reason_is_required(registry: Registry, approver: User) -> None:
    with pytest.raises(PromotionError, match="A reason is required"):
        _request(registry, approver, reason="   ")
    assert not Promotion.objects.exists()


@pytest.mark.django_db
def test_an_unknown_target_is_refused_naming_the_targets(registry: Registry, approver: User) -> None:
    with pytest.raises(PromotionError, match="Its targets: production, staging"):
        _request(registry, approver, target="champion")


@pytest.mark.django_db
def test_a_configured_alias_is_a_target_without_a_stage(registry: Registry, approver: User) -> None:
    PromotionPolicy.objects.create(model=registry.model, target="champion")
    promotion = _request(registry, approver, target="champion")
    assert (promotion.target, promotion.stage) == ("champion", "")
    assert promotion_execute(promotion.pk).status == "confirmed"
    assert registry.alias("champion") == 3 and registry.stage(3) == "None"


@pytest.mark.django_db
def test_a_version_already_holding_the_target_is_refused(registry: Registry, approver: User) -> None:
    with pytest.raises(PromotionError, match="already holds Production"):
        _request(registry, approver, version=registry.version(1))


@pytest.mark.django_db
def test_a_viewer_is_refused_and_the_attempt_recorded(registry: Registry, viewer: User) -> None:
    with pytest.raises(PromotionDenied):
        _request(registry, viewer)
    event = AuditEvent.objects.get(action="promotion.denied")
    assert event.actor == viewer and event.after["attempted"] == "request"
    assert not Promotion.objects.exists()


@pytest.mark.django_db
def test_rollback_is_promoting_the_previous_holder_again(registry: Registry, approver: User) -> None:
    promotion_execute(_request(registry, approver).pk)
    back = _request(registry, approver, version=registry.version(1), reason="roll back: v3 misbehaves")
    assert back.expected_alias_version == 3
    assert promotion_execute(back.pk).status == "confirmed"
    assert registry.alias("production") == 1 and registry.stage(1) == "Production" and registry.stage(3) == "Archived"


@pytest.mark.django_db
def test_four_eyes_waits_for_a_second_approver(registry: Registry, approver: User, second_approver: User) -> None:
    _four_eyes(registry)
    promotion = _request(registry, approver)
    assert promotion.status == "awaiting_approval"
    assert promotion_execute(promotion.pk).status == "awaiting_approval"  # not written before approval
    approved = promotion_approve(promotion=promotion, actor=Actor.of(second_approver), note="looks right")
    assert approved.status == "pending" and approved.decided_by == second_approver
    assert promotion_execute(promotion.pk).status == "confirmed"


@pytest.mark.django_db
def test_self_approval_is_refused_and_recorded(registry: Registry, approver: User) -> None:
    _four_eyes(registry)
    promotion = _request(registry, approver)
    with pytest.raises(PromotionDenied, match="may not approve their own"):
        promotion_approve(promotion=promotion, actor=Actor.of(approver))
    promotion.refresh_from_db()
    assert promotion.status == "awaiting_approval"
    assert AuditEvent.objects.get(action="promotion.denied").after["attempted"] == "approve"


@pytest.mark.django_db
def test_the_command_line_cannot_approve_its_own_request_either(registry: Registry) -> None:
    _four_eyes(registry)
    promotion = _request(registry, None)
    with pytest.raises(PromotionDenied):
        promotion_approve(promotion=promotion, actor=Actor.cli())


@pytest.mark.django_db
def test_a_rejection_needs_a_reason_and_ends_the_request(
    registry: Registry, approver: User, second_approver: User
) -> None:
    _four_eyes(registry)
    promotion = _request(registry, approver)
    with pytest.raises(PromotionError, match="Say why"):
        promotion_reject(promotion=promotion, actor=Actor.of(second_approver), note="")
    rejected = promotion_reject(promotion=promotion, actor=Actor.of(second_approver), note="metrics too thin")
    assert rejected.status == "rejected"
    with pytest.raises(PromotionError):
        promotion_approve(promotion=rejected, actor=Actor.of(second_approver))


@pytest.mark.django_db
def test_the_requester_can_cancel_before_it_is_written(registry: Registry, approver: User) -> None:
    promotion = _request(registry, approver)
    assert promotion_cancel(promotion=promotion, actor=Actor.of(approver)).status == "cancelled"
    assert promotion_execute(promotion.pk).status == "cancelled"
    assert registry.alias("production") == 1
