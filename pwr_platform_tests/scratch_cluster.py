"""A throw-away PostgreSQL cluster of its own (initdb, start, stop), for drills that need a server
whose transaction counter differs from the shared test server's: a restore onto a new server.

Uses Debian's PostgreSQL 15 binaries; as root every server command runs as the ``postgres``
system user (PostgreSQL refuses to run as root). ``next_xid`` advances the new cluster's
transaction counter with ``pg_resetwal -x`` before its first start, as a long-lived production
cluster's would be.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

BIN = Path("/usr/lib/postgresql/15/bin")
SYSTEM_USER = "postgres"
# pg_xact holds 4 transactions per byte in 256 KiB segments: 1,048,576 transactions per file.
XACTS_PER_SEGMENT = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScratchCluster:
    """``data_parent``: where the data directory goes (a small file system of the test's, say);
    ``wal_apart``: the write-ahead log in a directory of its own elsewhere (``initdb --waldir``),
    as on a server whose WAL has a disk of its own."""

    def __init__(self, next_xid: int | None = None, data_parent: Path | None = None, wal_apart: bool = False):
        self.root = Path(tempfile.mkdtemp(prefix="pwr-scratch-pg-", dir=data_parent))
        self.wal_root = Path(tempfile.mkdtemp(prefix="pwr-scratch-wal-")) if wal_apart else None
        self.pgdata = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            for own in filter(None, (self.root, self.wal_root)):
                shutil.chown(own, SYSTEM_USER)
                own.chmod(0o700)
        initdb = ["-D", str(self.pgdata), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]
        self._run("initdb", *initdb, *(["--waldir", str(self.wal_root / "pg_wal")] if self.wal_root else []))
        if next_xid is not None:
            assert next_xid % XACTS_PER_SEGMENT == 0, "start at a pg_xact segment boundary"
            self._run("pg_resetwal", "-x", str(next_xid), "-D", str(self.pgdata))
            segment = self.pgdata / "pg_xact" / f"{next_xid // XACTS_PER_SEGMENT:04X}"
            segment.write_bytes(b"\0" * (256 * 1024))
            if self.as_root:
                shutil.chown(segment, SYSTEM_USER, SYSTEM_USER)
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-w",
            "-l",
            str(self.root / "server.log"),
            "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off",
            "start",
        )

    def _run(self, tool: str, *args: str) -> None:
        command = [str(BIN / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, cwd="/")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self) -> None:
        """``pg_ctl restart`` (fast): every client's connection ends, as in an upgrade or a crash."""
        # with its log file, as at start: the new postmaster would otherwise hold the captured
        # output pipe open and the call would never return
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.root / "server.log"),
            "-m",
            "fast",
            "-w",
            "restart",
        )

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
        finally:
            for own in filter(None, (self.root, self.wal_root)):
                shutil.rmtree(own, ignore_errors=True)
