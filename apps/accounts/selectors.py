"""Reads for users and accounts."""

from __future__ import annotations

from .models import Account, User


def account_for_user(*, user: User) -> Account:
    """The customer's primary brokerage account (the oldest one)."""
    return Account.objects.filter(owner=user).order_by("created_at").first() or _missing(user)


def _missing(user: User) -> Account:
    raise Account.DoesNotExist(f"user {user.username!r} has no brokerage account")
