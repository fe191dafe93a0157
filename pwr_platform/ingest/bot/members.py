"""Guild member joins, leaves and name changes (needs the privileged members intent).

These records give ``pwr_core.members`` its ``join_date`` (Discord's ``joined_at``),
``leave_date`` and newest names. Without the members intent Discord sends none of these events;
the voice payloads still carry names.
"""

from __future__ import annotations

import json
from datetime import datetime

import discord
from discord.ext import commands

from pwr_platform.ingest.bot.config import CollectorConfig, RecordSink
from pwr_platform.ingest.records import MemberRecord


def member_record(
    member: discord.Member | discord.User, guild_id: int, event_type: str, *, now: datetime
) -> MemberRecord:
    joined_at = getattr(member, "joined_at", None)
    payload = {
        "id": str(member.id),
        "username": member.name,
        "global_name": member.global_name,
        "nick": getattr(member, "nick", None),
        "joined_at": joined_at.isoformat() if joined_at else None,
        "bot": member.bot,
        "source": "bot",
    }
    return MemberRecord(
        guild_id=guild_id,
        user_id=member.id,
        event_type=event_type,
        event_ts=now,
        username=member.name,
        display_name=member.display_name,
        joined_at=joined_at,
        is_bot=member.bot,
        payload=json.dumps(payload),
    )


def names_changed(before: discord.Member | discord.User, after: discord.Member | discord.User) -> bool:
    return (before.name, before.display_name) != (after.name, after.display_name)


class MemberListener(commands.Cog):
    def __init__(self, config: CollectorConfig, sink: RecordSink) -> None:
        self.config = config
        self.sink = sink

    def _record(self, member, guild_id: int, event_type: str) -> None:
        if self.config.watches(guild_id) and self.config.counts(member.bot):
            self.sink.put(member_record(member, guild_id, event_type, now=self.config.clock()))

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        self._record(member, member.guild.id, "join")

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        # The raw event fires even when the member was not cached.
        self._record(payload.user, payload.guild_id, "leave")

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if names_changed(before, after):
            self._record(after, after.guild.id, "update")

    @commands.Cog.listener()
    async def on_user_update(self, before: discord.User, after: discord.User) -> None:
        if not names_changed(before, after):
            return
        for guild in after.mutual_guilds:
            member = guild.get_member(after.id)
            if member is not None:
                self._record(member, guild.id, "update")
