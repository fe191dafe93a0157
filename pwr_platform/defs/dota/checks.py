"""Asset checks of the Dota match tables (sql/dota_checks.sql): each counts violations of one rule.

Not blocking: the dashboards read nothing downstream of these assets in Dagster, and a league
match OpenDota served with nine players is still worth showing; the failed check says which rule
broke and how often, so the bad documents can be found (and quarantined by hand if need be).
"""

from functools import partial

from pwr_platform.defs.keys import DOTA_MATCH_PLAYERS
from pwr_platform.defs.violation_checks import zero_violations

dota_rule = partial(zero_violations, sql_file="dota_checks", blocking=False)


ten_players_per_match = dota_rule(
    "ten_players_per_match",
    DOTA_MATCH_PLAYERS,
    "matches_without_ten_players",
    "matches without ten players",
    "Every parsed match has exactly ten players.",
)
exactly_one_winning_side = dota_rule(
    "exactly_one_winning_side",
    DOTA_MATCH_PLAYERS,
    "matches_without_one_winning_side",
    "matches without exactly one winning side",
    "Every match has one winning and one losing side, and its players agree with the match's winner.",
)
no_orphan_players = dota_rule(
    "no_orphan_players",
    DOTA_MATCH_PLAYERS,
    "orphan_players",
    "player rows without a parsed match",
    "Every player row belongs to a parsed match.",
)
