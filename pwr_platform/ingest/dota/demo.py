"""Deterministic demo Dota 2 leagues in OpenDota's JSON shapes, played by the simulated members.

``pwr simulate`` writes it beside the simulated community (``PWR_HOME/demo/dota``) and loads it
through the same import as saved API responses, so ``make up`` shows the Dota dashboard with no
network. Everything is labelled demo data ("PwR Demo League (demo data)" and "PwR Demo Cup (demo
data)", the
documents carry ``"pwr_demo": true``) and follows from the simulation's seed and period alone.

The players are the simulation's most active members (the ones who also come to inhouse
nights), each with a made-up Steam account id linked to their Discord id: league results and
event attendance meet as they would for a real community.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from random import Random

from pwr_platform.ingest.simulator import Simulation

DEMO_LEAGUE_ID = 900_001
DEMO_LEAGUE_NAME = "PwR Demo League (demo data)"
DEMO_CUP_ID = 900_002
DEMO_CUP_NAME = "PwR Demo Cup (demo data)"
DEMO_LEAGUES = {DEMO_LEAGUE_ID: DEMO_LEAGUE_NAME, DEMO_CUP_ID: DEMO_CUP_NAME}
FIRST_MATCH_ID = 7_900_000_000
FIRST_ACCOUNT_ID = 310_000_000
PLAYER_POOL = 30
# weekday → (local hour, league): the league plays Wednesdays at 20:00, the cup Sundays at 18:00
MATCH_DAYS = {2: (20, DEMO_LEAGUE_ID), 6: (18, DEMO_CUP_ID)}
MATCHES_PER_NIGHT = 2

# (id, internal name, localized name, popularity): real OpenDota hero ids and names.
HEROES = [
    (1, "antimage", "Anti-Mage", 3.0), (2, "axe", "Axe", 4.0), (5, "crystal_maiden", "Crystal Maiden", 5.0),
    (8, "juggernaut", "Juggernaut", 6.0), (11, "nevermore", "Shadow Fiend", 3.5), (14, "pudge", "Pudge", 9.0),
    (17, "storm_spirit", "Storm Spirit", 2.5), (18, "sven", "Sven", 2.0), (22, "zuus", "Zeus", 3.0),
    (26, "lion", "Lion", 5.5), (27, "shadow_shaman", "Shadow Shaman", 3.0), (31, "lich", "Lich", 2.5),
    (35, "sniper", "Sniper", 4.5), (41, "faceless_void", "Faceless Void", 3.5),
    (44, "phantom_assassin", "Phantom Assassin", 5.0), (49, "dragon_knight", "Dragon Knight", 2.0),
    (53, "furion", "Nature's Prophet", 2.5), (74, "invoker", "Invoker", 4.0), (86, "rubick", "Rubick", 3.0),
    (93, "slark", "Slark", 2.5), (96, "centaur", "Centaur Warrunner", 1.5),
    (104, "legion_commander", "Legion Commander", 3.0), (106, "ember_spirit", "Ember Spirit", 1.5),
    (129, "mars", "Mars", 1.0),
]  # fmt: skip


@dataclass(frozen=True)
class DemoPlayer:
    discord_user_id: int
    account_id: int
    name: str
    skill: float


@dataclass(frozen=True)
class DemoLeague:
    heroes: list[dict]
    leagues: list[dict]
    matches: list[dict]
    links: list[tuple[int, int]]

    def league_matches(self, league_id: int) -> list[dict]:
        return [m for m in self.matches if m["leagueid"] == league_id]

    def write(self, folder: Path) -> list[Path]:
        """The leagues as saved API responses plus the links CSV; returns the JSON files written."""
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[Path, object] = {folder / "heroes.json": self.heroes}
        for league in self.leagues:
            league_id = league["leagueid"]
            files[folder / f"league_{league_id}.json"] = league
            files[folder / f"league_{league_id}_matches.json"] = self.league_matches(league_id)
        for path, document in files.items():
            path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        with (folder / "player_links.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["account_id", "discord_user_id"])
            writer.writerows(self.links)
        return list(files)


def _players(sim: Simulation) -> list[DemoPlayer]:
    members = []
    for index in range(sim.config.members):
        member = sim._member(index, Random(f"pwr-sim:{sim.config.seed}:member:{index}"))
        members.append(member)
    pool = sorted(members, key=lambda m: (-m.weight, m.index))[:PLAYER_POOL]
    rng = Random(f"pwr-sim:{sim.config.seed}:dota:players")
    return [
        DemoPlayer(
            discord_user_id=m.user_id,
            account_id=FIRST_ACCOUNT_ID + m.index * 7 + 3,
            name=m.display_name,
            skill=math.log(m.weight) + rng.gauss(0, 0.6),
        )
        for m in sorted(pool, key=lambda m: m.index)
    ]


def _player_doc(rng: Random, player: DemoPlayer, slot: int, hero_id: int, won: bool, minutes: float) -> dict:
    radiant = slot < 128
    edge = player.skill + (0.6 if won else -0.6)
    kills = max(0, round(rng.gauss(6 + 2 * edge, 3)))
    deaths = max(0, round(rng.gauss(6 - 1.5 * edge, 2.5)))
    assists = max(0, round(rng.gauss(10 + edge, 4)))
    gpm = max(150, round(rng.gauss(430 + 60 * edge, 90)))
    xpm = max(150, round(rng.gauss(480 + 50 * edge, 80)))
    return {
        "match_id": None,  # filled by the caller
        "account_id": player.account_id,
        "player_slot": slot,
        "hero_id": hero_id,
        "isRadiant": radiant,
        "win": int(won),
        "lose": int(not won),
        "kills": kills,
        "deaths": deaths,
        "assists": assists,
        "gold_per_min": gpm,
        "xp_per_min": xpm,
        "last_hits": max(0, round(gpm * minutes / 9 + rng.gauss(0, 25))),
        "net_worth": round(gpm * minutes * rng.uniform(0.85, 1.05)),
        "personaname": player.name,
    }


def demo_league(sim: Simulation) -> DemoLeague:
    """The demo leagues of ``sim``'s period: two matches every Wednesday (the league) and Sunday
    (the cup) evening."""
    players = _players(sim)
    heroes = [
        {"id": hero_id, "name": f"npc_dota_hero_{name}", "localized_name": shown}
        for hero_id, name, shown, _ in HEROES
    ]
    leagues = [
        {"leagueid": league_id, "name": name, "tier": "amateur", "pwr_demo": True}
        for league_id, name in DEMO_LEAGUES.items()
    ]
    matches: list[dict] = []
    if len(players) >= 10:
        rng = Random(f"pwr-sim:{sim.config.seed}:dota:matches")
        hero_ids = [h[0] for h in HEROES]
        popularity = [h[3] for h in HEROES]
        day = sim.start.astimezone(sim.tz).date()
        while True:
            if day.weekday() in MATCH_DAYS:
                for game in range(MATCHES_PER_NIGHT):
                    hour, league_id = MATCH_DAYS[day.weekday()]
                    start = sim._local(day, hour) + timedelta(minutes=70 * game)
                    if start >= sim.end:
                        break
                    matches.append(_match(rng, players, hero_ids, popularity, start, len(matches), league_id))
            day += timedelta(days=1)
            if sim._local(day, 0) >= sim.end:
                break
    links = [(p.account_id, p.discord_user_id) for p in players]
    return DemoLeague(heroes=heroes, leagues=leagues, matches=matches, links=links)


def _match(
    rng: Random,
    players: list[DemoPlayer],
    hero_ids: list[int],
    popularity: list[float],
    start: datetime,
    n: int,
    league_id: int,
) -> dict:
    ten = rng.sample(players, 10)
    radiant, dire = ten[:5], ten[5:]
    picks: list[int] = []
    while len(picks) < 10:
        hero = rng.choices(hero_ids, weights=popularity)[0]
        if hero not in picks:
            picks.append(hero)
    edge = sum(p.skill for p in radiant) - sum(p.skill for p in dire)
    radiant_win = rng.random() < 1 / (1 + math.exp(-(edge * 0.6 + 0.15)))
    duration = round(max(15 * 60, min(80 * 60, rng.lognormvariate(math.log(38 * 60), 0.22))))
    minutes = duration / 60
    match_id = FIRST_MATCH_ID + n * 37
    docs = []
    for i, player in enumerate(ten):
        slot = i if i < 5 else 128 + i - 5
        won = radiant_win if i < 5 else not radiant_win
        doc = _player_doc(rng, player, slot, picks[i], won, minutes)
        doc["match_id"] = match_id
        docs.append(doc)
    return {
        "match_id": match_id,
        "leagueid": league_id,
        "start_time": int(start.timestamp()),
        "duration": duration,
        "radiant_win": radiant_win,
        "radiant_score": sum(d["kills"] for d in docs[:5]),
        "dire_score": sum(d["kills"] for d in docs[5:]),
        "game_mode": 2,
        "lobby_type": 1,
        "radiant_team": {"team_id": None, "name": f"Team {radiant[0].name}"},
        "dire_team": {"team_id": None, "name": f"Team {dire[0].name}"},
        "league": {"leagueid": league_id, "name": DEMO_LEAGUES[league_id]},
        "players": docs,
        "pwr_demo": True,
    }


def load_demo_league(conn, sim: Simulation, folder: Path):
    """Write ``sim``'s demo league under ``folder`` and land it as ``pwr dota import`` and
    ``pwr dota links import`` would; returns the landing figures and the number of links."""
    from pwr_platform.ingest.dota.files import import_file
    from pwr_platform.ingest.dota.links import read_links_file
    from pwr_platform.ingest.dota.store import LandingResult, link_player

    league = demo_league(sim)
    result = LandingResult()
    with conn.transaction():
        for path in league.write(folder):
            import_file(conn, path, result)
        links = read_links_file(folder / "player_links.csv") if league.links else []
        for account_id, discord_user_id in links:
            link_player(conn, account_id, discord_user_id, "demo data (pwr simulate)")
    return result, len(links)
