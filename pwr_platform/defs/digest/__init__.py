"""The weekly digest posted to Discord: its asset and its schedule, self-contained.

``definitions.py`` loads the asset with the other layers and adds :data:`SCHEDULES` / :data:`JOBS`.
"""

from pwr_platform.defs.digest.weekly_digest import JOBS, SCHEDULES, weekly_digest

__all__ = ["JOBS", "SCHEDULES", "weekly_digest"]
