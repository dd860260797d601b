"""Local development: `make run`. Debug on, a throwaway secret, loopback hosts."""

from .base import *
from .base import env

# Static files come straight from the finders (WhiteNoise); only production runs collectstatic.
STATIC_ROOT = None
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-used-in-production-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=["http://localhost:8000", "http://127.0.0.1:8000"]
)
