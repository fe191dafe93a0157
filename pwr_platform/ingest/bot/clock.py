"""The bot's clock: the system's wall clock, guarded against steps, so time only moves forward.

Every timestamp the collector writes is "now" on the host. A clock step would write it wrong for
good: a step into the future (a bad NTP answer, an RTC reset to a later date) pushes a guild's
data clock ahead and makes real events look late, and a step backwards (NTP correcting a fast
clock) makes a leave come before its join. The monotonic clock never steps, so it is the
reference: the wall clock is believed while it agrees with "last believed wall time + monotonic
time elapsed since" within ``[-max_behind, +max_ahead]`` (NTP's slewing stays far inside that).
A reading outside it is not believed: the reference is used, and the step is logged. Whatever
happens, a timestamp is never earlier than the one before it. A restart adopts the system clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class GuardedClock:
    def __init__(
        self,
        wall: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        max_ahead: timedelta = timedelta(minutes=5),
        max_behind: timedelta = timedelta(seconds=1),
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self.max_ahead = max_ahead
        self.max_behind = max_behind
        self._anchor_wall = wall()
        self._anchor_mono = monotonic()
        self._last = self._anchor_wall
        self.step: timedelta | None = None  # the wall clock's disagreement while not believed

    def __call__(self) -> datetime:
        wall, mono = self._wall(), self._monotonic()
        reference = self._anchor_wall + timedelta(seconds=mono - self._anchor_mono)
        if reference - self.max_behind <= wall <= reference + self.max_ahead:
            if self.step is not None:
                log.warning("clock: the system clock agrees with the collector's again")
                self.step = None
            self._anchor_wall, self._anchor_mono = wall, mono
            now = wall
        else:
            if self.step is None:
                log.error(
                    "clock: the system clock stepped %+.0fs against the monotonic clock; timestamps keep "
                    "counting from the last believable reading (restart the collector to adopt the new time)",
                    (wall - reference).total_seconds(),
                )
            self.step = wall - reference
            now = reference
        self._last = max(self._last, now)
        return self._last
