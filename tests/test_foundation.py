"""Foundation behaviour: settings safety, health endpoint, command-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _prod_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    env["DJANGO_SETTINGS_MODULE"] = "brokerage.settings.prod"
    env.update(overrides)
    return env


def test_prod_refuses_to_start_without_secret():
    result = _manage("check", env=_prod_env(ALLOWED_HOSTS="broker.example.com"))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_prod_check_deploy_is_clean():
    result = _manage("check", "--deploy", "--fail-level", "WARNING",
                     env=_prod_env(SECRET_KEY="k" * 20 + "-Zq8#pW3!vR7$mT1^xY5&nB9*cD2(fG6)hJ4",
                                   ALLOWED_HOSTS="broker.example.com"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_wrong_database_url_gives_one_clear_line():
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "DB_POOL_TIMEOUT": "3"}
    result = _manage("migrate", "--check", env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, result.stderr
    assert "database" in lines[0] and "127.0.0.1:1" in lines[0]


def test_unreachable_broker_gives_one_clear_line():
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = _manage("kafka_topics", env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, result.stderr
    assert "kafka" in lines[0] and "127.0.0.1:1" in lines[0]


def test_bench_unknown_scenario_lists_known_ones():
    result = subprocess.run([sys.executable, "-m", "tests.benchmarks", "no-such-scenario"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown scenario 'no-such-scenario'" in result.stderr
    assert "known scenarios:" in result.stderr


@pytest.mark.django_db
def test_healthz_reports_each_component(client, settings):
    from workers.kafka import topics_ensure

    topics_ensure()
    settings.HEALTH_REQUIRED_WORKERS = []
    settings.HEALTH_EXTRA_CHECKS = {}  # FIX sessions have their own tests with live sessions
    response = client.get("/healthz")
    body = json.loads(response.content)
    assert response.status_code == 200, body
    assert {"database", "redis", "kafka", "workers"} <= set(body["components"])
    assert all(component["ok"] for component in body["components"].values())


@pytest.mark.django_db
def test_healthz_is_503_when_a_worker_is_missing(client, settings):
    settings.HEALTH_REQUIRED_WORKERS = ["no-such-worker"]
    response = client.get("/healthz")
    body = json.loads(response.content)
    assert response.status_code == 503
    assert body["components"]["workers"]["workers"]["no-such-worker"]["ok"] is False
