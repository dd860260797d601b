"""`python manage.py create_api_key <username>`: print a new key id and secret (shown once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.accounts.models import User
from apps.api.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user and print its key id and secret (the secret is not stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--label", default="created by manage.py create_api_key")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"no user named {options['username']!r}") from exc
        api_key, secret = api_key_create(user=user, label=options["label"])
        self.stdout.write(f"APCA-API-KEY-ID={api_key.key_id}\nAPCA-API-SECRET-KEY={secret}\n")
