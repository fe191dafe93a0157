"""``pwr bot --list-commands`` and ``pwr bot --sync``: the command tree without running the bot.

Discord only shows a bot's application commands once they are registered ("synced") with it;
guild commands appear at once. Syncing is a separate operator step, not something every start
does, because Discord rate-limits it and a start after a crash should not depend on it. Both
build the very tree the running bot serves (:func:`~pwr_platform.ingest.bot.commands.register_commands`).
"""

from __future__ import annotations

import aiohttp
import discord
from discord import app_commands

from pwr_platform.ingest.bot.commands import CommandContext, command_tree_lines, register_commands
from pwr_platform.ingest.bot.config import CollectorConfig

# Shown by --list-commands when PWR_GUILD_ID is unset: the tree is the same for every guild.
PLACEHOLDER_GUILD = 1


class SyncFailed(RuntimeError):
    """Syncing failed; ``str(exc)`` says why and what to do, in one message."""


class _NoSink:
    def put(self, record) -> None:  # pragma: no cover - the tree is only listed or synced
        raise RuntimeError("commands are not run by --list-commands / --sync")


def build_tree(guild_id: int) -> app_commands.CommandTree:
    client = discord.Client(intents=discord.Intents.none())
    tree = app_commands.CommandTree(client)
    register_commands(tree, CommandContext(CollectorConfig(guild_id=guild_id), _NoSink(), None))
    return tree


def listed_commands(guild_id: int | None) -> list[str]:
    return command_tree_lines(build_tree(guild_id or PLACEHOLDER_GUILD), guild_id or PLACEHOLDER_GUILD)


async def sync_commands(token: str, guild_id: int) -> list[str]:
    """Register the tree with ``guild_id``; the names Discord now has."""
    tree = build_tree(guild_id)
    client = tree.client
    try:
        async with client:
            await client.login(token)
            synced = await tree.sync(guild=discord.Object(id=guild_id))
    except discord.LoginFailure as exc:
        raise SyncFailed(f"Discord refused the bot token (PWR_DISCORD_TOKEN): {exc}") from None
    except discord.Forbidden as exc:
        raise SyncFailed(
            f"Discord refused to register the commands with guild {guild_id} ({exc.status}: {exc.text}). "
            "The bot must be a member of that guild, invited with the scopes 'bot applications.commands' "
            "(README, Discord setup); check PWR_GUILD_ID."
        ) from None
    except discord.HTTPException as exc:
        raise SyncFailed(f"Discord refused the command sync ({exc.status}: {exc.text})") from None
    except aiohttp.ClientError as exc:
        raise SyncFailed(f"Discord could not be reached: {exc}") from None
    return [c.name for c in synced]
