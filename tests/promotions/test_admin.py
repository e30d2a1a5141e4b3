"""The Django admin: the promotion action on model versions (an intermediate page with every target's gates, then
the same service as the model version page), and promotion policies whose changes are recorded."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from apps.audit.models import AuditEvent
from apps.promotions.models import Promotion, PromotionPolicy
from tests.conftest import _user
from tests.promotions.conftest import Registry, client_for

CHANGELIST = "/admin/mlflow_sync/modelversion/"


@pytest.fixture
def staff_approver(db: None) -> User:
    return _user("sam", "approver", is_staff=True)


def _action(client: Client, registry: Registry, **extra: str) -> object:
    data = {"action": "promote", "_selected_action": [registry.version(3).pk], **extra}
    return client.post(CHANGELIST, data)


@pytest.mark.django_db
def test_the_action_shows_every_target_then_requests_the_promotion(registry: Registry, staff_approver: User) -> None:
    client = client_for(staff_approver)
    page = _action(client, registry)
    text = page.content.decode()  # type: ignore[attr-defined]
    assert page.status_code == 200 and "Promote" in text and "Production" in text and "Staging" in text  # type: ignore[attr-defined]
    response = _action(
        client, registry, confirm="yes", target="production", reason="from the admin", idempotency_key="a1"
    )
    promotion = Promotion.objects.get()
    assert response["Location"] == f"/promotions/{promotion.pk}/"  # type: ignore[index]
    assert (promotion.status, promotion.requested_by, promotion.reason) == ("pending", staff_approver, "from the admin")


@pytest.mark.django_db
def test_the_action_needs_a_reason(registry: Registry, staff_approver: User) -> None:
    page = _action(client_for(staff_approver), registry, confirm="yes", target="production", reason="")
    assert page.status_code == 200 and not Promotion.objects.exists()  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_staff_without_the_approver_role_do_not_get_the_action(registry: Registry) -> None:
    staff = _user("stella", "viewer", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename="view_modelversion"))
    client = client_for(staff)
    assert "Promote the selected" not in client.get(CHANGELIST).content.decode()
    _action(client, registry, confirm="yes", target="production", reason="sneaky")
    assert not Promotion.objects.exists()


@pytest.mark.django_db
def test_a_policy_change_in_the_admin_is_recorded(registry: Registry) -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root")
    client = client_for(admin)
    response = client.post(
        "/admin/promotions/promotionpolicy/add/",
        {"model": registry.model.pk, "target": "production", "stage": "", "stage_mode": "auto",
         "archive_existing": "on", "metric_gates": '[{"metric": "auc", "op": ">=", "value": 0.75}]',
         "four_eyes": "on"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = PromotionPolicy.objects.get()
    event = AuditEvent.objects.get(action="policy.added")
    assert event.actor == admin and event.after["four_eyes"] is True and event.after["metric_gates"][0]["value"] == 0.75
    response = client.post(
        "/admin/promotions/promotionpolicy/add/",
        {"model": registry.model.pk, "target": "v3", "stage_mode": "auto", "metric_gates": '[{"metric": "auc"}]'},
    )
    text = response.content.decode()
    assert "MLflow reserves aliases" in text and "give exactly metric, op and value" in text
    assert PromotionPolicy.objects.count() == 1 and policy.four_eyes
