from django.core.management.base import BaseCommand

from apps.instruments.services import instruments_load


class Command(BaseCommand):
    help = "Load the real US listings (S&P 500, NASDAQ 100, Dow, S&P 100/600) shipped in pytickersymbols."

    def handle(self, *args, **options):
        result = instruments_load()
        self.stdout.write(
            f"instruments: {result.created} created, {result.updated} updated, {result.unchanged} unchanged"
        )
