from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import Account
from apps.ledger.selectors import balances_as_of


class Command(BaseCommand):
    help = "Print an account's ledger balances at a moment, summed from the journal."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="account number")
        parser.add_argument("--as-of", default="", help="ISO time (default: now); naive times are UTC")

    def handle(self, *args, account, as_of, **options):
        found = Account.objects.filter(account_number=account).first()
        if found is None:
            raise CommandError(f"no account {account}")
        try:
            moment = datetime.fromisoformat(as_of) if as_of else datetime.now(UTC)
        except ValueError as exc:
            raise CommandError(f"--as-of must be an ISO time, got {as_of!r}") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        balances = balances_as_of(account=found, as_of=moment)
        self.stdout.write(f"account {found.account_number} as of {moment.isoformat()}")
        for code, amount in sorted(balances.items()):
            self.stdout.write(f"{code:40s} {amount:>24f}")
