import pytest
from django.db import DatabaseError, transaction

from apps.accounts.models import AccountStatus
from apps.accounts.services import account_set_status
from apps.backoffice.models import AuditEntry
from tests.factories import AccountFactory, UserFactory


@pytest.mark.django_db
def test_freeze_is_audited_and_the_trail_refuses_changes():
    account = AccountFactory()
    officer = UserFactory(username="officer", is_staff=True)
    account_set_status(account=account, status=AccountStatus.FROZEN, actor=officer, reason="KYC review")
    account.refresh_from_db()
    assert account.status == AccountStatus.FROZEN

    entry = AuditEntry.objects.get(object_id=str(account.pk))
    assert (entry.action, entry.actor, entry.before, entry.after, entry.reason) == (
        "account.frozen", officer, {"status": "active"}, {"status": "frozen"}, "KYC review")

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(reason="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.reason == "KYC review"


@pytest.mark.django_db
def test_unknown_status_is_refused_and_changes_nothing():
    account = AccountFactory()
    with pytest.raises(ValueError, match="unknown account status"):
        account_set_status(account=account, status="suspended")
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert not AuditEntry.objects.exists()
