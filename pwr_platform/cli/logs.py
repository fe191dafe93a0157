"""``pwr logs [SERVICE] [-f]``: the logs of the local stack's services, without hunting for files.

The services (``pwr status`` lists them) write their logs under ``PWR_HOME``; this command prints
the end of one of them, or of all, and with ``-f`` keeps printing what is appended, like
``tail -f`` (a log that is truncated or replaced is followed from its start).
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from pathlib import Path

import click

from pwr_platform.settings import get_settings

POLL_SECONDS = 0.5


def _last_lines(path: Path, count: int) -> tuple[list[str], int, int]:
    """The last ``count`` lines (all when 0), read in one pass with bounded memory, and where the
    reading stopped (offset, inode): ``-f`` goes on from exactly there, so no line written in
    between is lost."""
    with path.open("rb") as fh:
        lines = list(fh) if count == 0 else list(deque(fh, maxlen=count))
        offset, inode = fh.tell(), os.fstat(fh.fileno()).st_ino
    return [line.decode("utf-8", errors="replace") for line in lines], offset, inode


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _follow(logs: dict[str, Path], prefix: bool, read_to: dict[str, tuple[int, int]]) -> None:
    """Print what is appended to each log (after ``read_to``: offset, inode) until Ctrl-C."""
    # Stop on Ctrl-C and on SIGTERM alike, whatever the parent left set: a process started with
    # SIGTERM or SIGINT ignored (as some supervisors and test runners do) would otherwise follow
    # forever. Seen in a test run under pytest-xdist, where SIGTERM did not end the command.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    offsets = {name: read_to.get(name, (0, None))[0] for name in logs}
    inodes = {name: read_to.get(name, (0, None))[1] for name in logs}
    try:
        while True:
            for name, path in logs.items():
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                if stat.st_ino != inodes[name] or stat.st_size < offsets[name]:
                    inodes[name], offsets[name] = stat.st_ino, 0  # replaced or truncated
                if stat.st_size == offsets[name]:
                    continue
                with path.open("rb") as fh:
                    fh.seek(offsets[name])
                    data = fh.read()
                # only whole lines: a line being written is printed once it ends
                end = data.rfind(b"\n") + 1
                if end == 0:
                    continue
                offsets[name] += end
                for line in data[:end].decode("utf-8", errors="replace").splitlines():
                    click.echo(f"{name} | {line}" if prefix else line)
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        pass


@click.command("logs")
@click.argument("service", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing what is appended (Ctrl-C to stop).")
@click.option(
    "-n",
    "--lines",
    default=100,
    show_default=True,
    type=click.IntRange(min=0),
    help="Lines from the end of each log to print first (0: the whole log).",
)
def logs(service: str | None, follow: bool, lines: int) -> None:
    """Print the log of a SERVICE of the local stack (all of them when none is named)."""
    from pwr_platform.runtime.stack_status import service_logs

    known = service_logs(get_settings())
    if service is not None and service not in known:
        raise click.UsageError(f"unknown service {service!r}: choose one of {', '.join(known)}")
    chosen = {service: known[service]} if service else known
    present = {name: path for name, path in chosen.items() if path.exists()}
    if service and not present and not follow:
        raise click.ClickException(
            f"no log of {service} yet ({known[service]}): it has not run under this PWR_HOME; `pwr up` starts it"
        )
    read_to = {}
    for name, path in chosen.items():
        if service is None:
            click.echo(
                f"==> {name}: {path} <==" if name in present else f"==> {name}: no log yet ({path}) <=="
            )
        if name in present:
            last, offset, inode = _last_lines(path, lines)
            read_to[name] = (offset, inode)
            for line in last:
                click.echo(line.rstrip("\n"))
    if follow:
        _follow(chosen, prefix=service is None, read_to=read_to)
    elif service is None and not present:
        raise click.ClickException(f"no service has written a log yet (PWR_HOME {get_settings().home})")
