"""Generated secrets kept in ``PWR_HOME/secrets`` (mode 0600), one file per secret.

A secret given in the environment always wins; otherwise the file is used, and when there is no
file a random value is generated into it once. Nothing has a default value: a fresh checkout
never shares a password or a signing key with any other.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Secret:
    value: str
    generated: bool  # True only on the run that created it (so it can be printed once)
    source: str  # "environment" or the file path


def secret_file(secrets_dir: Path, name: str) -> Path:
    return secrets_dir / name


def get_or_create(secrets_dir: Path, name: str, env_value: str | None = None, nbytes: int = 24) -> Secret:
    if env_value:
        return Secret(env_value, False, "environment")
    path = secret_file(secrets_dir, name)
    if path.exists():
        return Secret(path.read_text().strip(), False, str(path))
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    value = secrets.token_urlsafe(nbytes)
    # create with 0600 from the start: the value never sits in a world-readable file
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return Secret(value, True, str(path))
