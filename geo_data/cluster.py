"""The private PostGIS cluster: GridWatch's embedded default database.

A cluster is a PostgreSQL data directory of our own, listening on 127.0.0.1 on its own
port, so the demo and the tests need no configuration and never touch a system
database. As root, the server runs as Debian's ``postgres`` user (``initdb`` refuses
root), so everything it writes lives where that user can write.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

PG_USER = "gridwatch"
INSTALL_HINT = "sudo apt-get install -y postgresql-15 postgresql-15-postgis-3"


class ClusterError(RuntimeError):
    """The private cluster cannot be provisioned or started; the message says why."""


def find_bindir() -> Path:
    """The newest PostgreSQL server bindir whose PostGIS extension is installed."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise ClusterError(f"PostgreSQL server binaries not found. Install them: {INSTALL_HINT}")
    for initdb in reversed(candidates):
        major = initdb.parent.parent.name
        if Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists():
            return initdb.parent
    major = candidates[-1].parent.parent.name
    raise ClusterError(
        f"PostGIS is not installed for PostgreSQL {major}. Install it: "
        f"sudo apt-get install -y postgresql-{major}-postgis-3"
    )


@dataclass(frozen=True)
class Cluster:
    """One private cluster under ``root`` listening on ``port``.

    ``for_tests`` trades durability for speed (``fsync=off``); never for real data.
    """

    root: Path
    port: int
    for_tests: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def password_file(self) -> Path:
        # Beside, not inside, the server's directory: only the invoking user reads it.
        return self.root.with_name(self.root.name + ".password")

    def url(self, database: str = "gridwatch") -> str:
        """SQLAlchemy URL of ``database`` on this cluster."""
        password = quote(self.password_file.read_text().strip(), safe="")
        return f"postgresql+psycopg://{PG_USER}:{password}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """libpq connection string (for psycopg and psql)."""
        password = self.password_file.read_text().strip()
        return (
            f"host=127.0.0.1 port={self.port} user={PG_USER} dbname={database} password={password}"
        )

    # -- lifecycle ---------------------------------------------------------------------

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self.password_file.exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        result = self._pg("pg_ctl", "status", "-D", str(self.data_dir), check=False)
        return result.returncode == 0

    def init(self) -> None:
        """Create the data directory (once)."""
        if self.is_initialised():
            return
        bindir = find_bindir()
        self.root.mkdir(parents=True, exist_ok=True)
        for path in (self.root.parent, self.root):
            path.chmod(0o755)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-made directory from an interrupted init
        password = secrets.token_urlsafe(24)
        self._own(self.root)
        with tempfile.NamedTemporaryFile("w", dir=self.root, delete=False) as pwfile:
            pwfile.write(password + "\n")
        self._own(Path(pwfile.name))
        try:
            self._pg(
                str(bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                PG_USER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile.name}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            )
        finally:
            Path(pwfile.name).unlink(missing_ok=True)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists 'gridwatch.conf'\n")
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)

    def start(self) -> None:
        """Start the server (idempotent) and wait until it accepts connections."""
        self.init()
        if self.is_running():
            return
        bindir = find_bindir()
        self.run_dir.mkdir(exist_ok=True)
        self._own(self.run_dir)
        self._write_conf()
        result = self._pg(
            str(bindir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            check=False,
        )
        if result.returncode != 0 and not self.is_running():  # not a concurrent start
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise ClusterError(f"PostgreSQL did not start on port {self.port}:\n{tail}")
        self._wait_ready()

    def stop(self) -> None:
        if self.is_running():
            bindir = find_bindir()
            self._pg(str(bindir / "pg_ctl"), "stop", "-m", "fast", "-w", "-D", str(self.data_dir))

    def ensure_database(self, name: str) -> None:
        """Create ``name`` with PostGIS if it does not exist yet."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            exists = found.fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(self.conninfo(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- internals ---------------------------------------------------------------------

    def _write_conf(self) -> None:
        lines = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.run_dir}'",
            "jit": "off",  # JIT added 200-400 ms to small analytic queries here
            "max_connections": "200",
            "shared_buffers": "'512MB'",
            "work_mem": "'32MB'",
            "maintenance_work_mem": "'512MB'",
            "max_wal_size": "'2GB'",
            "random_page_cost": "1.1",
            "log_min_messages": "warning",
        }
        if self.for_tests:
            lines |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        text = "".join(f"{k} = {v}\n" for k, v in lines.items())
        conf = self.data_dir / "gridwatch.conf"
        conf.write_text(text)
        self._own(conf)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.conninfo("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"PostgreSQL on port {self.port} is not answering: {exc}"
                    ) from exc
                time.sleep(0.2)

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def _pg(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server command, as ``postgres`` when we are root."""
        argv = list(cmd)
        if argv[0] == "pg_ctl":
            argv[0] = str(find_bindir() / "pg_ctl")
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise ClusterError("runuser is missing; cannot run PostgreSQL as root")
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(cmd[:2])} failed: {result.stderr or result.stdout}")
        return result
