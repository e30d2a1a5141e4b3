"""E-mail about promotions, through Django's e-mail backend (the console by default): a request waiting for
approval, approved, rejected, confirmed, conflict, failed. Sent after the change committed; a mail that cannot be
sent is logged and changes nothing."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from apps.promotions import selectors
from apps.promotions.models import Promotion

logger = logging.getLogger(__name__)

SUBJECTS = {
    "waiting": "Waiting for your approval: {what}",
    "approved": "Approved: {what}",
    "rejected": "Rejected: {what}",
    "confirmed": "Confirmed by MLflow: {what}",
    "conflict": "Conflict, not promoted: {what}",
    "failed": "Failed, not promoted: {what}",
}


def _recipients(promotion: Promotion, kind: str, actor_name: str) -> list[str]:
    """The approvers and the requester, without whoever caused the message; for a request waiting for approval,
    only the approvers other than the requester."""
    people = list(selectors.approvers())
    if kind != "waiting" and promotion.requested_by is not None:
        people.append(promotion.requested_by)
    emails = {
        p.email
        for p in people
        if getattr(p, "email", "") and p.get_username() != actor_name
        and not (kind == "waiting" and p.pk == promotion.requested_by_id)
    }  # fmt: skip
    return sorted(emails)


def promotion_notify(promotion_id: int, kind: str, actor_name: str) -> int:
    """Send the ``kind`` message about a promotion; returns how many were sent (0 when nobody has an e-mail)."""
    promotion = Promotion.objects.select_related("model", "requested_by").filter(pk=promotion_id).first()
    if promotion is None:
        return 0
    recipients = _recipients(promotion, kind, actor_name)
    if not recipients:
        return 0
    what = f"{promotion.model.name} v{promotion.version} → {promotion.target_label}"
    url = settings.SITE_URL.rstrip("/") + reverse("promotions:detail", args=[promotion.pk])
    lines = [
        f"{what} ({promotion.get_status_display()})",
        "",
        f"Requested by {promotion.requested_by_name} at {promotion.requested_at:%Y-%m-%d %H:%M %Z}.",
        f"Reason: {promotion.reason}",
    ]
    if promotion.decided_by_name:
        lines.append(f"Decided by {promotion.decided_by_name}: {promotion.decision_note or '(no note)'}")
    if promotion.outcome:
        lines.append(f"Outcome: {promotion.outcome}")
    failed = promotion.failed_gates
    if failed:
        lines += ["", "Gates not passed:", *(f"- {g['label']}: {g['status']} ({g['detail']})" for g in failed)]
    lines += ["", f"Promotion #{promotion.pk}: {url}"]
    subject = SUBJECTS.get(kind, "{what}").format(what=what)
    try:
        return send_mass_mail(
            [(subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [to]) for to in recipients], fail_silently=False
        )
    except Exception:  # a mail server that is down must not undo or block a promotion
        logger.exception("could not send the %s e-mail about promotion %s", kind, promotion_id)
        return 0
