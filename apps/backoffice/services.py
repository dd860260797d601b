"""Writes of the back office."""

from __future__ import annotations

from typing import Any

from django.db import models

from .models import AuditEntry


def audit_record(*, actor: Any, action: str, obj: models.Model, before: dict | None = None,
                 after: dict | None = None, reason: str = "") -> AuditEntry:
    """Append an audit entry; call inside the transaction that makes the change it describes."""
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label,
        object_id=str(obj.pk),
        before=before or {},
        after=after or {},
        reason=reason,
    )
