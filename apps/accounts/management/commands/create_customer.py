from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.accounts.selectors import account_for_user
from apps.accounts.services import CustomerExists, customer_create


class Command(BaseCommand):
    help = "Create a customer with a brokerage account, optionally funded through the ledger."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--cash", default="0", help="initial deposit in USD, e.g. 100000")
        parser.add_argument("--if-missing", action="store_true",
                            help="succeed without change when the user already exists")

    def handle(self, *args, username, password, email, cash, if_missing, **options):
        try:
            amount = Decimal(cash)
        except InvalidOperation as exc:
            raise CommandError(f"--cash must be a decimal amount, got {cash!r}") from exc
        if amount < 0:
            raise CommandError("--cash must not be negative")
        if if_missing and User.objects.filter(username=username).exists():
            account = account_for_user(user=User.objects.get(username=username))
            self.stdout.write(f"customer {username} exists: account {account.account_number}")
            return
        try:
            account = customer_create(username=username, password=password, email=email)
        except CustomerExists as exc:
            raise CommandError(str(exc)) from exc
        if amount > 0:
            from apps.ledger.services import deposit

            deposit(account=account, amount=amount, reference=f"initial funding of {username}")
        self.stdout.write(f"customer {username} created: account {account.account_number}, cash {amount}")
