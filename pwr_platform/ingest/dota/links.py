"""The player-links file of ``pwr dota links import``: CSV ``account_id,discord_user_id``.

Every row is checked before anything is written, and every problem is reported with its row
and field, so a bad file is fixed in one pass and never half-imported.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pwr_platform.ingest.records import MAX_BIGINT

COLUMNS = ("account_id", "discord_user_id")
MAX_ACCOUNT_ID = 4294967294  # Steam 32-bit account ids; 4294967295 is OpenDota's "anonymous"


class LinksFileError(ValueError):
    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        shown = problems[:20] + ([f"… and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__(f"{path}: not imported, " + "; ".join(shown))


def parse_id(text: str | None, field: str, maximum: int) -> int:
    """``text`` as a positive id no larger than ``maximum``; ValueError names the field."""
    value = (text or "").strip()
    if not value:
        raise ValueError(f"{field}: missing")
    if not (value.isascii() and value.isdecimal()) or not 0 < int(value) <= maximum:
        raise ValueError(f"{field}: {value!r} is not an id (a positive whole number up to {maximum})")
    return int(value)


def parse_account_id(text: str | None) -> int:
    return parse_id(text, "account_id", MAX_ACCOUNT_ID)


def parse_discord_user_id(text: str | None) -> int:
    return parse_id(text, "discord_user_id", MAX_BIGINT)


def read_links_file(path: Path) -> list[tuple[int, int]]:
    """(account_id, discord_user_id) per data row; LinksFileError lists every problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise LinksFileError(path, ["not UTF-8 text"]) from None
    except OSError as exc:
        raise LinksFileError(path, [exc.strerror or str(exc)]) from None
    reader = csv.DictReader(text.splitlines())
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise LinksFileError(
            path, [f"header: column {', '.join(missing)} missing (expected {','.join(COLUMNS)})"]
        )
    links: list[tuple[int, int]] = []
    problems: list[str] = []
    seen: dict[int, int] = {}
    for row_number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): v for k, v in row.items()}
        values = []
        for column, parse in (("account_id", parse_account_id), ("discord_user_id", parse_discord_user_id)):
            try:
                values.append(parse(row.get(column)))
            except ValueError as exc:
                problems.append(f"row {row_number}, {exc}")
        if len(values) == 2:
            account_id, discord_user_id = values
            if account_id in seen and seen[account_id] != row_number:
                problems.append(
                    f"row {row_number}, account_id: {account_id} already linked on row {seen[account_id]}"
                )
            seen[account_id] = row_number
            links.append((account_id, discord_user_id))
    if problems:
        raise LinksFileError(path, problems)
    if not links:
        raise LinksFileError(path, ["no rows"])
    return links
