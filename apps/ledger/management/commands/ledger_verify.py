from django.core.management.base import BaseCommand, CommandError

from apps.ledger.verify import ledger_verify


class Command(BaseCommand):
    help = "Recompute balances and positions from the journal, check zero-sum and the hash chain."

    def handle(self, *args, **options):
        report = ledger_verify()
        self.stdout.write(f"transactions {report.transactions}, postings {report.postings}, "
                          f"balances {report.balances}, positions {report.positions}")
        for line in report.problems:
            self.stdout.write(f"PROBLEM {line}")
        if not report.ok:
            raise CommandError(f"ledger verification failed: {len(report.problems)} problem(s)")
        self.stdout.write("ledger OK")
