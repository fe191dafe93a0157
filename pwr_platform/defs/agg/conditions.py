"""When the dashboard tables refresh: after their inputs (declarative automation).

The partitioned aggregates run on schedules (the clock decides which days, weeks and months are
due); the dashboard tables have no time partition, and their inputs change at different moments
(daily aggregates every hour, weekly and monthly ones nightly, attendance when an event ends). So
each dashboard table carries an automation condition: refresh once any of its pwr_agg inputs or
the event attendance has a new materialization, when none of those inputs is still running, plus
once a night so the table stays fresh on quiet days. The members / sessions / events core tables
update every minute and are not triggers (the tables pick those up on their next refresh).
A table never materialized is requested from the sensor's second tick on (the first tick after
a condition is deployed only records the starting point).
"""

from __future__ import annotations

from dagster import AssetSelection, AutomationCondition

from pwr_platform.defs.keys import EVENT_ATTENDANCE
from pwr_platform.settings import get_settings

NIGHTLY_REFRESH_CRON = "30 1 * * *"

TRIGGERING_INPUTS = AssetSelection.groups("pwr_agg") | AssetSelection.assets(EVENT_ATTENDANCE)

AFTER_INPUTS = (
    (
        AutomationCondition.missing()
        | AutomationCondition.any_deps_updated().allow(TRIGGERING_INPUTS)
        | AutomationCondition.cron_tick_passed(NIGHTLY_REFRESH_CRON, get_settings().timezone)
    ).since_last_handled()
    # only the triggering inputs hold it back: the core refresh runs every minute while members
    # are active (issue 16), and waiting for a moment without one would put the refresh off for
    # many minutes; the core tables change in single transactions, so any moment reads them whole
    & ~AutomationCondition.any_deps_match(AutomationCondition.in_progress()).allow(TRIGGERING_INPUTS)
    & ~AutomationCondition.in_progress()
).with_label("after its inputs, and nightly")
