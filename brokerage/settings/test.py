"""pytest settings: the same real services as dev, a fast password hasher.

TEST_ISOLATION=<name> lets several suites run at once against one embedded stack: it picks a
separate test database, Kafka topic prefix and Redis database number.
"""

import zlib

from .base import *
from .base import DATABASES, KAFKA_TOPIC_PARTITIONS, REDIS_URL, channel_layers, env

# Static files come straight from the finders (WhiteNoise); only production runs collectstatic.
STATIC_ROOT = None
DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="test-only-insecure-key-never-used-in-production-0123456789")
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver", "[::1]"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No connection pool under pytest: Django's pool keeps the connection parameters it was opened
# with, so a pool opened before pytest-django switches to the test database would keep serving the
# development database (migrations and committed tests would land there). Each thread opens its
# own connection instead; PostgreSQL allows 400.
DATABASES["default"]["OPTIONS"].pop("pool", None)

TEST_ISOLATION = env.str("TEST_ISOLATION", default="")
# Named explicitly so that fixtures asking Django for "the test database name" once the switch has
# happened get this name back, not "test_" + "test_brokerage".
_test_name = f"test_{DATABASES['default']['NAME']}"
DATABASES["default"]["TEST"] = {"NAME": f"{_test_name}_{TEST_ISOLATION}" if TEST_ISOLATION else _test_name}
if TEST_ISOLATION:
    KAFKA_TOPIC_PREFIX = f"{TEST_ISOLATION}."
    _redis_db = 1 + zlib.crc32(TEST_ISOLATION.encode()) % 15
    REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + f"/{_redis_db}"
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = channel_layers(REDIS_URL, prefix=f"asgi.{TEST_ISOLATION}")
    CELERY_BROKER_URL = REDIS_URL
    TOPIC_ORDERS_COMMANDS = f"{KAFKA_TOPIC_PREFIX}orders.commands"
    TOPIC_ORDERS_UPDATES = f"{KAFKA_TOPIC_PREFIX}orders.updates"
    TOPIC_LEDGER_EVENTS = f"{KAFKA_TOPIC_PREFIX}ledger.events"
    TOPIC_MARKET_QUOTES = f"{KAFKA_TOPIC_PREFIX}market.quotes"
    KAFKA_TOPICS = dict.fromkeys(
        (TOPIC_ORDERS_COMMANDS, TOPIC_ORDERS_UPDATES, TOPIC_LEDGER_EVENTS, TOPIC_MARKET_QUOTES),
        KAFKA_TOPIC_PARTITIONS,
    )
