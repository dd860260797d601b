from django.core.management.base import BaseCommand

from workers.kafka import topics_ensure
from workers.outbox_relay import run_outbox_relay


class Command(BaseCommand):
    help = "Publish committed outbox rows to Kafka (at-least-once) until SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size, **options):
        topics_ensure()
        run_outbox_relay(batch_size=batch_size)
