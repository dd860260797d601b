from django.core.management.base import BaseCommand

from workers.kafka import topics_ensure
from workers.ledger_projector import run_ledger_projector


class Command(BaseCommand):
    help = "Build account activities and daily balances from ledger.events until SIGTERM/SIGINT."

    def handle(self, *args, **options):
        topics_ensure()
        run_ledger_projector()
