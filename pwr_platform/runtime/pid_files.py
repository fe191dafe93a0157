"""Pid files that name one process exactly, so the local stack never signals a stranger.

A bare pid is not an identity: after a reboot, or once the service has died, the kernel hands
the same number to any other process, and ``kill(pid)`` would then stop somebody else's work.
So a pid file records what makes a process unique on this machine: the boot it ran in
(``/proc/sys/kernel/random/boot_id``) and its start time in clock ticks since that boot (field 22
of ``/proc/PID/stat``), read from ``/proc`` right after the service was started, plus its
command line (``/proc/PID/cmdline``). A pid file is trusted only while ``/proc`` shows the same
boot and the same start time for its pid: a pid is reused only after the whole pid space has
wrapped, never within one clock tick, so the pair names one process for good. The command line
is recorded for people (it is shown when a pid turns out to belong to someone else) but not
compared: a service that ``exec``s (a wrapper script, ``setpriv``, a process retitling itself)
changes it while staying the same process. Anything else (another boot, a reused pid, a pid
file of the older bare-pid format, an exited or zombie process) makes the pid file *stale*: it
is removed and its pid is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class ProcessIdentity:
    """What /proc says about one process: equal identities mean the very same process."""

    pid: int
    boot_id: str
    start_ticks: int
    cmdline: tuple[str, ...]

    @property
    def command(self) -> str:
        return " ".join(self.cmdline)


def boot_id() -> str:
    return BOOT_ID_FILE.read_text().strip()


def process_identity(pid: int) -> ProcessIdentity | None:
    """The live process ``pid`` as /proc shows it; None when there is none (or only a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw_cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name (field 2) is in parentheses and may itself hold spaces or ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start_ticks = fields[0], int(fields[19])
    if state in {"Z", "X"}:  # exited; only waiting for its parent to reap it
        return None
    cmdline = tuple(part.decode(errors="replace") for part in raw_cmdline.split(b"\0") if part)
    return ProcessIdentity(pid=pid, boot_id=boot_id(), start_ticks=start_ticks, cmdline=cmdline)


@dataclass(frozen=True)
class PidFileCheck:
    """The verdict on one pid file: ``identity`` when its process is still the one it names."""

    path: Path
    identity: ProcessIdentity | None
    stale_reason: str | None = None


def write_pid_file(path: Path, pid: int) -> ProcessIdentity:
    """Record ``pid``'s identity (call it right after starting the process).

    ``Popen`` returns once the child has passed the point of no return of ``exec``, but the kernel
    fills in the new program's arguments a moment later: on a busy machine /proc can still show
    an empty command line then (seen in a parallel test run). The command line is what people
    read in the pid file, so it is read again until it shows (a second at most)."""
    identity = process_identity(pid)
    deadline = time.monotonic() + 1.0
    while identity is not None and not identity.cmdline and time.monotonic() < deadline:
        time.sleep(0.01)
        identity = process_identity(pid)
    if identity is None:
        raise RuntimeError(f"process {pid} exited right after it was started")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(identity)) + "\n")
    tmp.replace(path)  # a reader sees the old file or the whole new one, never half of it
    return identity


def _recorded(path: Path) -> ProcessIdentity | str:
    """The identity a pid file records, or why it cannot be trusted."""
    text = path.read_text()
    try:
        record = json.loads(text)
        return ProcessIdentity(
            pid=int(record["pid"]),
            boot_id=str(record["boot_id"]),
            start_ticks=int(record["start_ticks"]),
            cmdline=tuple(record["cmdline"]),
        )
    except (ValueError, KeyError, TypeError):
        shown = text.strip()[:40]
        return f"it holds no process identity ({shown!r}: a bare pid cannot be told from a reused one)"


def check_pid_file(path: Path) -> PidFileCheck | None:
    """Whether ``path`` still names a live process of ours; None when there is no pid file.

    A stale pid file is removed here (and the reason returned), so the next start goes ahead.
    """
    try:
        recorded = _recorded(path)
    except FileNotFoundError:
        return None
    if isinstance(recorded, str):
        reason = recorded
    else:
        live = process_identity(recorded.pid)
        if recorded.boot_id != boot_id():
            reason = f"pid {recorded.pid} was recorded before the last reboot"
        elif live is None:
            reason = f"process {recorded.pid} has exited"
        elif live.start_ticks != recorded.start_ticks:
            reason = f"pid {recorded.pid} now belongs to another process ({live.command[:80]})"
        else:
            return PidFileCheck(path, live)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return PidFileCheck(path, None, stale_reason=reason)


def is_same_process(identity: ProcessIdentity) -> bool:
    """True while ``identity``'s process is alive and has not been replaced by another."""
    live = process_identity(identity.pid)
    return live is not None and live.start_ticks == identity.start_ticks


def reap_if_child(pid: int) -> None:
    """Collect ``pid``'s exit status when this process started it (tests): no zombie left behind."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
