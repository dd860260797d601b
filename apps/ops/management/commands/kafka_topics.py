from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workers.kafka import topics_ensure


class Command(BaseCommand):
    help = "Create the platform's Kafka topics when they are missing."

    def handle(self, *args, **options):
        try:
            created = topics_ensure()
        except Exception as exc:
            raise CommandError(f"kafka at {settings.KAFKA_BOOTSTRAP_SERVERS} is unreachable: {exc}") from exc
        self.stdout.write(f"kafka topics: {len(created)} created ({', '.join(created) or 'none missing'})")
