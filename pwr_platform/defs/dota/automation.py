"""The Dota tables are parsed as soon as new documents land, with the daemon up and no click.

``pwr dota import`` / ``refresh`` / ``link`` record their writes in Dagster (a runless
materialization of the raw table), which is what the tables' eager condition (``policy.py``)
reacts to; this sensor evaluates it for the group alone, every 5 minutes (documents land every six
hours or by hand; each evaluation is an automation tick in the daemon, the largest share of its idle
CPU at the one-minute interval it had — issue 16).
"""

from dagster import AssetSelection, AutomationConditionSensorDefinition, DefaultSensorStatus

from pwr_platform.defs.keys import DOTA_HEROES, DOTA_LEAGUES, DOTA_MATCH_PLAYERS, DOTA_MATCHES

dota_automation = AutomationConditionSensorDefinition(
    "dota_automation",
    target=AssetSelection.assets(DOTA_HEROES, DOTA_LEAGUES, DOTA_MATCHES, DOTA_MATCH_PLAYERS),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=300,
    description="Parses new OpenDota documents into heroes, leagues, matches and match_players.",
)
