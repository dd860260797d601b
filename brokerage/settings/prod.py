"""Production: no insecure default. A missing secret or host list stops start-up with one line."""

from .base import *
from .base import env, required

DEBUG = False
SECRET_KEY = required("SECRET_KEY", "production needs a long random SECRET_KEY (50+ characters)")
ALLOWED_HOSTS = required("ALLOWED_HOSTS", "production needs ALLOWED_HOSTS, e.g. broker.example.com").split(",")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
FIX_VENUE_ALWAYS_OPEN = env.bool("FIX_VENUE_ALWAYS_OPEN", default=False)
