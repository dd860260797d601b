#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
    from django.core.exceptions import ImproperlyConfigured

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # One clear line instead of a traceback wall for configuration mistakes.
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)
    except Exception as exc:
        from django.db import OperationalError

        if not isinstance(exc, OperationalError):
            raise
        from django.conf import settings

        database = settings.DATABASES["default"]
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(
            f"database at {database.get('HOST')}:{database.get('PORT')} is unreachable: {reason}\n"
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
