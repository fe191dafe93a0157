"""Dates given on the command line, kept to the span the warehouse can hold.

Voice records and events exist from Discord's launch (2015-05-13) to 2099 (``EARLIEST_TS`` /
``LATEST_TS``); a date outside it is a typo. Refusing it here names the option, where date
arithmetic further on (the Monday of year 1's first week, the day after 9999-12-31) would end in
an ``OverflowError`` traceback.
"""

from __future__ import annotations

from datetime import date

import click

from pwr_platform.ingest.records import EARLIEST_TS, LATEST_TS

FIRST_DAY = EARLIEST_TS.date()
LAST_DAY = LATEST_TS.date().replace(year=LATEST_TS.year - 1, month=12, day=31)


def in_span(day: date, option: str) -> date:
    """``day`` when the warehouse can hold it, else a usage error naming ``option``."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise click.BadParameter(
            f"{day.isoformat()} is outside {FIRST_DAY.isoformat()} … {LAST_DAY.isoformat()} "
            "(Discord's launch to 2099)",
            param_hint=option,
        )
    return day
