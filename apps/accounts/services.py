"""Writes for users and accounts."""

from __future__ import annotations

import logging
import secrets

from django.db import IntegrityError, transaction

from .models import Account, AccountStatus, User

logger = logging.getLogger(__name__)


class CustomerExists(Exception):
    """The username is taken."""


def _new_account_number() -> str:
    # 10 digits with a fixed brokerage prefix; uniqueness is enforced by the database.
    return "BK" + "".join(secrets.choice("0123456789") for _ in range(10))


def account_open(*, owner: User) -> Account:
    """Open a brokerage account for `owner` with a fresh, unique account number."""
    for _ in range(10):
        try:
            with transaction.atomic():
                return Account.objects.create(owner=owner, account_number=_new_account_number())
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a unique account number after 10 attempts")


def customer_create(*, username: str, password: str, email: str = "") -> Account:
    """Create a login and its brokerage account in one transaction; refuse a taken username."""
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise CustomerExists(f"user {username!r} already exists")
        user = User.objects.create_user(username=username, password=password, email=email)
        return account_open(owner=user)


def account_set_status(*, account: Account, status: str, actor: User | None = None, reason: str = "") -> Account:
    """Freeze, unfreeze or close an account (back office), logged for the audit trail."""
    if status not in AccountStatus.values:
        raise ValueError(f"unknown account status {status!r}; expected one of {AccountStatus.values}")
    from apps.backoffice.services import audit_record

    with transaction.atomic():
        previous = account.status
        account.status = status
        account.save(update_fields=["status"])
        audit_record(actor=actor, action=f"account.{status}", obj=account,
                     before={"status": previous}, after={"status": status}, reason=reason)
        logger.info("account %s status %s -> %s by %s", account.account_number, previous, status,
                    getattr(actor, "username", "system"))
    return account
