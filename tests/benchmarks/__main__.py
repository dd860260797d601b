"""Dispatch `python -m tests.benchmarks <scenario>` to tests/benchmarks/<scenario>.py.

Each scenario module defines `run() -> dict` returning its figures; this prints them as one
JSON line. The machine is shared and noisy, so scenarios report medians and same-run ratios.
"""

from __future__ import annotations

import json
import os
import pkgutil
import sys
from importlib import import_module
from pathlib import Path


def known_scenarios() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    known = known_scenarios()
    if not argv or argv[0] in {"--list", "-h", "--help"}:
        print(f"usage: make bench SCENARIO=<name>; known scenarios: {', '.join(known) or 'none'}")
        return 0 if argv else 2
    scenario = argv[0]
    if scenario not in known:
        print(f"unknown scenario {scenario!r}; known scenarios: {', '.join(known) or 'none'}", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokerage.settings.dev")
    import django

    django.setup()
    figures = import_module(f"tests.benchmarks.{scenario}").run(*argv[1:])
    print(json.dumps({"scenario": scenario, **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
