"""factory_boy factories shared by the suite."""

from __future__ import annotations

from decimal import Decimal

import factory

from apps.accounts.models import Account, User
from apps.instruments.models import Exchange, Instrument


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"customer{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    owner = factory.SubFactory(UserFactory)
    account_number = factory.Sequence(lambda n: f"BK{n:010d}")


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"T{n:04d}")
    name = factory.LazyAttribute(lambda o: f"{o.symbol} Test Corp")
    exchange = Exchange.NYSE
    tick_size = Decimal("0.01")
    lot_size = Decimal("1")
