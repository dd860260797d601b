"""Settings shared by every environment, read from the process environment (django-environ).

`make run` / `make test` start embedded services and export their URLs when the
corresponding variable is unset (see brokerage/devstack.py); nothing here guesses an address.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def required(name: str, hint: str) -> str:
    """Read a variable that has no safe default; fail at start-up with one clear line."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} is not set: {hint}")
    return value


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served by us: the docs work without internet access
    "channels",
    "apps.accounts",
    "apps.instruments",
    "apps.ledger",
    "apps.orders",
    "apps.outbox",
    "apps.marketdata",
    "apps.realtime",
    "apps.fix",
    "apps.search",
    "apps.api",
    "apps.backoffice",
    "apps.ops",
    "apps.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.api.ratelimit.rate_limit_headers",
]

ROOT_URLCONF = "brokerage.urls"
ASGI_APPLICATION = "brokerage.asgi.application"
WSGI_APPLICATION = None
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/"
APPEND_SLASH = False  # the public API has no trailing slashes and must never redirect

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- PostgreSQL (psycopg 3 with Django's connection pool) ---------------------------------------
DATABASE_URL = required(
    "DATABASE_URL",
    "set it to postgres://user:pass@host:port/db, or start through `make run` / `make test`, "
    "which start an embedded PostgreSQL under var/",
)
_db = env.db_url_config(DATABASE_URL)
_db["ENGINE"] = "django.db.backends.postgresql"
_db.setdefault("OPTIONS", {})
_db["OPTIONS"]["pool"] = {
    "min_size": env.int("DB_POOL_MIN", default=1),
    "max_size": env.int("DB_POOL_MAX", default=20),
    "timeout": env.int("DB_POOL_TIMEOUT", default=30),
}
_db["OPTIONS"]["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=5)
_db["CONN_MAX_AGE"] = 0  # the pool owns connection lifetime
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker, quotes ------------------------------------------
REDIS_URL = required(
    "REDIS_URL",
    "set it to redis://host:port/0, or start through `make run` / `make test`, "
    "which start an embedded Redis under var/",
)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
# Quotes fan out to many sockets per group: RedisPubSubChannelLayer (one PUBLISH per group_send, one
# subscription per group per web node) measured well ahead of RedisChannelLayer (one list push per
# member channel); numbers in docs/realtime.md. CHANNEL_LAYER=core switches back for comparison.
CHANNEL_LAYER = env.str("CHANNEL_LAYER", default="pubsub")


def channel_layers(redis_url: str, prefix: str = "asgi") -> dict:
    # Redis pub/sub channels ignore the database number: the prefix keeps deployments apart.
    if CHANNEL_LAYER == "core":
        return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                            "CONFIG": {"hosts": [redis_url], "prefix": prefix, "capacity": 1000, "expiry": 30}}}
    return {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                        "CONFIG": {"hosts": [redis_url], "prefix": prefix}}}


CHANNEL_LAYERS = channel_layers(REDIS_URL)

# --- Kafka-protocol broker ------------------------------------------------------------------------
KAFKA_BOOTSTRAP_SERVERS = required(
    "KAFKA_BOOTSTRAP_SERVERS",
    "set it to host:port of a Kafka-protocol broker, or start through `make run` / `make test`, "
    "which start an embedded broker under var/",
)
# Tansu joins consumer groups slowly with Kafka's defaults; a short session timeout keeps
# rebalances quick in dev and tests. Production brokers may raise it.
KAFKA_SESSION_TIMEOUT_MS = env.int("KAFKA_SESSION_TIMEOUT_MS", default=6000)
# How long a consumer's fetch may wait at the broker for data. Quotes and order updates are
# latency-bound, and Tansu answers a fetch only when this wait runs out (a Kafka broker answers as
# soon as data arrives), so it is short; raise it to cut idle fetches on a quiet real cluster.
KAFKA_FETCH_WAIT_MS = env.int("KAFKA_FETCH_WAIT_MS", default=10)
# How long the market-data producer gathers quotes into one batch per partition. The broker's
# cost is per batch, not per record: at 3,000 quotes/s Tansu burns a core serving two consumers
# with 1 ms batches and a quarter of one with 20 ms batches (docs/realtime.md).
MARKET_DATA_LINGER_MS = env.int("MARKET_DATA_LINGER_MS", default=20)
KAFKA_TOPIC_PARTITIONS = env.int("KAFKA_TOPIC_PARTITIONS", default=4)
# A prefix lets several deployments (or concurrent test runs) share one cluster without crosstalk.
KAFKA_TOPIC_PREFIX = env.str("KAFKA_TOPIC_PREFIX", default="")
TOPIC_ORDERS_COMMANDS = f"{KAFKA_TOPIC_PREFIX}orders.commands"
TOPIC_ORDERS_UPDATES = f"{KAFKA_TOPIC_PREFIX}orders.updates"
TOPIC_LEDGER_EVENTS = f"{KAFKA_TOPIC_PREFIX}ledger.events"
TOPIC_MARKET_QUOTES = f"{KAFKA_TOPIC_PREFIX}market.quotes"
KAFKA_TOPICS = {
    TOPIC_ORDERS_COMMANDS: KAFKA_TOPIC_PARTITIONS,
    TOPIC_ORDERS_UPDATES: KAFKA_TOPIC_PARTITIONS,
    TOPIC_LEDGER_EVENTS: KAFKA_TOPIC_PARTITIONS,
    TOPIC_MARKET_QUOTES: KAFKA_TOPIC_PARTITIONS,
}

# --- Celery (Redis broker) ------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "orders-expire-day-orders": {"task": "orders.expire_day_orders", "schedule": 300.0},
}

# --- Elasticsearch (optional search backend) ------------------------------------------------------
ELASTICSEARCH_URL = env.str("ELASTICSEARCH_URL", default="")
if ELASTICSEARCH_URL:
    INSTALLED_APPS.append("django_elasticsearch_dsl")
    ELASTICSEARCH_DSL = {"default": {"hosts": ELASTICSEARCH_URL}}

# --- FIX sessions (QuickFIX) ----------------------------------------------------------------------
FIX_HOST = env.str("FIX_HOST", default="127.0.0.1")
FIX_ORDER_PORT = env.int("FIX_ORDER_PORT", default=9878)
FIX_MD_PORT = env.int("FIX_MD_PORT", default=9879)
FIX_SENDER_COMP_ID = env.str("FIX_SENDER_COMP_ID", default="BROKER")
FIX_TARGET_COMP_ID = env.str("FIX_TARGET_COMP_ID", default="EXCHANGE")
FIX_HEARTBEAT_SECONDS = env.int("FIX_HEARTBEAT_SECONDS", default=5)
# The gateway's consumer group on orders.commands (a second deployment on one cluster uses its own).
FIX_GATEWAY_GROUP_ID = env.str("FIX_GATEWAY_GROUP_ID", default="fix-gateway")
FIX_STORE_DIR = Path(env.str("FIX_STORE_DIR", default=str(VAR_DIR / "fix")))
# In dev the venue trades around the clock; production follows the XNYS calendar.
FIX_VENUE_ALWAYS_OPEN = env.bool("FIX_VENUE_ALWAYS_OPEN", default=True)
# The market-data session is a second session to the venue, told apart by the venue's CompID.
FIX_MD_TARGET_COMP_ID = env.str("FIX_MD_TARGET_COMP_ID", default=f"{FIX_TARGET_COMP_ID}MD")
FIX_RECONNECT_SECONDS = env.int("FIX_RECONNECT_SECONDS", default=2)
# The gateway never resends a NewOrderSingle the venue did not get once it is older than this;
# the order is rejected instead (a stale order must not reach the market late).
FIX_STALE_ORDER_SECONDS = env.int("FIX_STALE_ORDER_SECONDS", default=60)
# Simulator: random-walk seed, market-data publish interval and symbols refreshed per interval.
FIX_VENUE_SEED = env.int("FIX_VENUE_SEED", default=2026)
FIX_VENUE_MD_INTERVAL_SECONDS = env.float("FIX_VENUE_MD_INTERVAL_SECONDS", default=0.2)
FIX_VENUE_MD_SYMBOLS_PER_INTERVAL = env.int("FIX_VENUE_MD_SYMBOLS_PER_INTERVAL", default=100)
# Symbols whose updates share one 35=X message (each entry names its symbol).
FIX_VENUE_MD_SYMBOLS_PER_MESSAGE = env.int("FIX_VENUE_MD_SYMBOLS_PER_MESSAGE", default=10)

# --- Trading rules --------------------------------------------------------------------------------
MARKET_CALENDAR = "XNYS"
ORDER_PRICE_COLLAR = Decimal(env.str("ORDER_PRICE_COLLAR", default="0.05"))
ORDER_MAX_NOTIONAL = Decimal(env.str("ORDER_MAX_NOTIONAL", default="1000000"))
# Regulatory fees passed through on sales (apps/orders/fees.py): the SEC Section 31 fee per dollar
# of proceeds ($27.80 per million) and FINRA's Trading Activity Fee per share sold, capped per trade.
ORDER_FEE_SEC_RATE = Decimal(env.str("ORDER_FEE_SEC_RATE", default="0.0000278"))
ORDER_FEE_TAF_PER_SHARE = Decimal(env.str("ORDER_FEE_TAF_PER_SHARE", default="0.000166"))
ORDER_FEE_TAF_MAX = Decimal(env.str("ORDER_FEE_TAF_MAX", default="8.30"))

# --- Health ---------------------------------------------------------------------------------------
# Workers that must report a heartbeat for /healthz to answer 200 (set by the Procfile environment).
HEALTH_REQUIRED_WORKERS: list[str] = env.list("HEALTH_REQUIRED_WORKERS", default=[])
HEALTH_REQUIRE_CELERY = env.bool("HEALTH_REQUIRE_CELERY", default=False)
# Further checks, name -> dotted path of a callable returning {"ok": bool, ...} (FIX sessions, lag).
HEALTH_EXTRA_CHECKS: dict[str, str] = {
    "fix_order_session": "apps.fix.health.check_order_session",
    "fix_md_session": "apps.fix.health.check_md_session",
}

# --- DRF / OpenAPI --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "COERCE_DECIMAL_TO_STRING": True,
    # API key headers, login bearer token, then the web session (apps/api/authentication.py).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.api.authentication.ApiKeyAuthentication",
        "apps.api.authentication.BearerTokenAuthentication",
        "apps.api.authentication.WebSessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.ratelimit.RedisRateLimit"],
    "EXCEPTION_HANDLER": "apps.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Brokerage API",
    "DESCRIPTION": "Alpaca-compatible trading API with extensions.",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT: Path | None = VAR_DIR / "staticfiles"
# WhiteNoise serves the UI's static files from the web process itself (ASGI-safe, cached headers);
# with finders on, no collectstatic step is needed for `make run`.
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # The pool logs every failed reconnect attempt; the caller reports one clear error instead.
    "loggers": {"kafka": {"level": "WARNING"}, "psycopg.pool": {"level": "ERROR"}},
}
