"""A local Discord for tests: enough of gateway v10 and the REST API for the real ``pwr bot``.

The collector's fault drills need the real process (signals, exit codes, the spool on disk), and
that process needs a Discord to talk to. This is one, on 127.0.0.1, built on aiohttp (already a
discord.py dependency). The bot is pointed at it by configuration only: ``PWR_DISCORD_API_URL``
(→ discord.py's ``Route.BASE``) and ``PWR_DISCORD_GATEWAY_URL`` (→ ``DEFAULT_GATEWAY``).

What it speaks:

- REST: ``GET /api/v10/users/@me`` (login), ``/oauth2/applications/@me`` (application info),
  ``/gateway/bot``; a wrong token gets 401 as from Discord. Application commands: the guild
  command sync (``PUT /applications/{app}/guilds/{guild}/commands``, 403 Missing Access for
  another guild), interaction callbacks (``POST /interactions/{id}/{token}/callback``: the reply,
  kept per interaction; one over 2000 characters refused with 400, as Discord does) and followups; scheduled events with their interested counts
  (``GET /guilds/{guild}/scheduled-events[/{id}]?with_user_count=1``, counts set by the test in
  :attr:`LocalDiscord.interested`, as Discord gives them only there); webhooks (``POST /webhooks/{id}/{token}`` creates a
  message, ``PATCH …/messages/{message_id}`` edits it; both kept, so a test counts posts).
- Gateway (JSON text frames, which discord.py reads as well as compressed ones): HELLO with a short
  heartbeat interval, HEARTBEAT → HEARTBEAT_ACK, IDENTIFY → READY + GUILD_CREATE (channels,
  members, voice states, scheduled events), RESUME → the missed dispatches + RESUMED,
  dispatches pushed by the test (:meth:`LocalDiscord.dispatch`), INTERACTION_CREATE for slash
  commands (:meth:`LocalDiscord.run_command`), a dropped connection, RECONNECT (op 7) and
  INVALID_SESSION (op 9, resumable or not).

discord.py sends the sequence number of the last dispatch it has *parsed* in every heartbeat, so
:meth:`LocalDiscord.wait_processed` knows when the bot has read everything sent — the point from
which a drill may stop the process and require every dispatched event to be kept.

The server runs in its own thread and event loop, so a synchronous test drives it directly.
The payload builders below are the gateway's JSON shapes, also used by the handler tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

TOKEN = "local-test-token"
BOT_USER_ID = 900
APPLICATION_ID = 950
MANAGE_EVENTS = 1 << 33  # Discord's permission bit
MEMBER_PERMISSIONS = (
    (1 << 10) | (1 << 11) | (1 << 31)
)  # view channel, send messages, use application commands
EPHEMERAL = 1 << 6  # message flag

# -- gateway payload shapes ---------------------------------------------------------------------------


def user(uid: int, name: str, bot: bool = False) -> dict:
    return {
        "id": str(uid),
        "username": name,
        "discriminator": "0",
        "avatar": None,
        "global_name": name.title(),
        "bot": bot,
    }


def member(
    uid: int,
    name: str,
    bot: bool = False,
    nick: str | None = None,
    roles: list[int] = (),
    joined_at: str = "2025-03-04T05:06:07.000000+00:00",
) -> dict:
    return {
        "user": user(uid, name, bot),
        "roles": [str(r) for r in roles],
        "joined_at": joined_at,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": nick,
    }


def voice_state(guild_id: int, uid: int, channel: int | None, **flags) -> dict:
    state = {
        "guild_id": str(guild_id),
        "user_id": str(uid),
        "channel_id": str(channel) if channel else None,
        "session_id": f"session-{uid}",
        "deaf": False,
        "mute": False,
        "self_deaf": False,
        "self_mute": False,
        "self_video": False,
        "suppress": False,
    }
    state.update(flags)
    return state


def scheduled_event(guild_id: int, eid: int, status: int, name: str, channel: int) -> dict:
    return {
        "id": str(eid),
        "guild_id": str(guild_id),
        "channel_id": str(channel),
        "creator_id": "1",
        "name": name,
        "description": "weekly practice",
        "scheduled_start_time": "2026-11-01T19:00:00+00:00",
        "scheduled_end_time": "2026-11-01T21:00:00+00:00",
        "privacy_level": 2,
        "status": status,
        "entity_type": 2,
        "entity_id": None,
        "entity_metadata": None,
        "user_count": 4,
    }


def guild(
    guild_id: int,
    *,
    voice_channels: list[tuple[int, int, str]],
    members: list[dict],
    voice_states: list[dict] = (),
    scheduled_events: list[dict] = (),
    afk_channel: int | None = None,
    roles: list[tuple[int, str]] = (),
) -> dict:
    """A GUILD_CREATE payload; ``voice_channels`` as (id, type 2 voice / 13 stage, name), ``roles``
    as (id, name) besides @everyone (whose id is the guild's)."""
    channels = [channel(guild_id, cid, ctype, name, i) for i, (cid, ctype, name) in enumerate(voice_channels)]
    return {
        "id": str(guild_id),
        "name": "PwR",
        "afk_channel_id": str(afk_channel) if afk_channel else None,
        "afk_timeout": 300,
        "channels": channels,
        "members": members,
        "voice_states": list(voice_states),
        "roles": [
            {"id": str(rid), "name": rname, "permissions": "0", "position": i, "color": 0}
            | {"hoist": False, "managed": False, "mentionable": False, "flags": 0}
            for i, (rid, rname) in enumerate([(guild_id, "@everyone"), *roles])
        ],
        "emojis": [],
        "features": [],
        "member_count": len(members),
        "large": False,
        "guild_scheduled_events": list(scheduled_events),
        "unavailable": False,
    }


def channel(guild_id: int, channel_id: int, kind: int, name: str, position: int = 0) -> dict:
    """A guild channel as GUILD_CREATE, CHANNEL_CREATE and CHANNEL_UPDATE carry it (type 0 text,
    2 voice, 13 stage)."""
    return {
        "id": str(channel_id),
        "type": kind,
        "name": name,
        "position": position,
        "guild_id": str(guild_id),
    } | {
        "permission_overwrites": [],
        "bitrate": 64000,
        "user_limit": 0,
    }


def option(name: str, value, kind: int = 3) -> dict:
    """A command option as Discord sends it (3 string, 6 user, 7 channel)."""
    return {"name": name, "type": kind, "value": value}


def command_interaction(
    guild_id: int,
    interaction_id: int,
    invoker: dict,
    name: str,
    options: list[dict] = (),
    *,
    subcommand: str | None = None,
    permissions: int = MEMBER_PERMISSIONS,
    channel_id: int = 1,
    resolved: dict | None = None,
    kind: int = 2,
) -> dict:
    """An INTERACTION_CREATE for ``/name [subcommand] options`` run by ``invoker`` (a member
    payload) whose permissions in the channel are ``permissions``; ``kind`` 2 runs the command,
    4 asks for autocomplete."""
    opts = list(options)
    if subcommand is not None:
        opts = [{"name": subcommand, "type": 1, "options": opts}]
    data = {"id": "7000", "name": name, "type": 1, "guild_id": str(guild_id), "options": opts}
    if resolved:
        data["resolved"] = resolved
    return {
        "id": str(interaction_id),
        "application_id": str(APPLICATION_ID),
        "type": kind,
        "data": data,
        "guild_id": str(guild_id),
        "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
        "channel_id": str(channel_id),
        "channel": {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": "general"}
        | {"position": 0, "permission_overwrites": [], "nsfw": False, "topic": None, "parent_id": None}
        | {"last_message_id": None, "rate_limit_per_user": 0},
        "member": invoker | {"permissions": str(permissions)},
        "token": f"interaction-token-{interaction_id}",
        "version": 1,
        "app_permissions": str(MEMBER_PERMISSIONS),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild_id)},
        "context": 0,
        "attachment_size_limit": 8 * 1024 * 1024,
    }


def _json(body: dict, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json.
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


# -- the server ---------------------------------------------------------------------------------------


@dataclass
class _Session:
    session_id: str
    sent: list[dict] = field(default_factory=list)  # every dispatch, for RESUME


class LocalDiscord:
    """A one-guild Discord on 127.0.0.1 (see the module docstring). Use :func:`local_discord`."""

    def __init__(self, guild_payload: dict, *, heartbeat_interval_ms: int = 250) -> None:
        self.guild_payload = guild_payload
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.port = 0
        self.identifies = 0
        self.resumes = 0
        self.processed_seq = 0  # highest sequence the bot reported in a heartbeat
        self._seq = 0
        self._session: _Session | None = None
        self._ws: web.WebSocketResponse | None = None
        self._connected = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="local-discord", daemon=True)
        self.synced_commands: dict[str, list[dict]] = {}  # guild id → the commands last synced
        self.responses: dict[int, dict] = {}  # interaction id → the bot's callback (its reply)
        self.followups: list[dict] = []
        self.webhook_messages: dict[str, dict] = {}  # message id → the message as last posted / edited
        self.webhook_calls: list[tuple[str, str]] = []  # (method, message id), in order
        self._next_id = 500_000
        # scheduled events as last sent (GUILD_CREATE, dispatches) and their "interested" counts,
        # which Discord gives only over REST with ``with_user_count`` (set by the test)
        self.scheduled_events: dict[str, dict] = {
            e["id"]: e for e in guild_payload.get("guild_scheduled_events", [])
        }
        self.interested: dict[int, int] = {}
        self._interaction_ids = iter(range(800_000, 10**9))

    # -- addresses the bot is configured with -------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def bot_settings(self) -> dict[str, str]:
        """The PWR_* settings that point ``pwr bot`` here."""
        return {
            "PWR_DISCORD_TOKEN": TOKEN,
            "PWR_GUILD_ID": self.guild_payload["id"],
            "PWR_DISCORD_API_URL": self.api_url,
            "PWR_DISCORD_GATEWAY_URL": self.gateway_url,
        }

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> LocalDiscord:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _call(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v10/users/@me", self._users_me)
        app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        app.router.add_get("/api/v10/gateway/bot", self._gateway_bot)
        app.router.add_put("/api/v10/applications/{app}/guilds/{guild}/commands", self._sync_guild_commands)
        app.router.add_post("/api/v10/interactions/{id}/{token}/callback", self._interaction_callback)
        app.router.add_post("/api/v10/webhooks/{id}/{token}", self._webhook_post)
        app.router.add_patch("/api/v10/webhooks/{id}/{token}/messages/{message}", self._webhook_edit)
        app.router.add_get("/api/v10/guilds/{guild}/scheduled-events", self._scheduled_events)
        app.router.add_get("/api/v10/guilds/{guild}/scheduled-events/{event}", self._scheduled_event)
        app.router.add_get("/gateway", self._gateway)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what a test does ----------------------------------------------------------------------------
    def wait_connected(self, timeout: float = 60) -> None:
        """Until the bot has identified (or resumed) and holds a live connection."""
        if not self._connected.wait(timeout):
            raise TimeoutError(f"the bot did not connect to the local gateway within {timeout}s")

    def dispatch(self, event: str, data: dict) -> int:
        """Send one dispatch to the connected bot; its sequence number."""
        return self._call(self._dispatch(event, data))

    def dispatch_voice(self, uid: int, name: str, channel: int | None) -> int:
        """A VOICE_STATE_UPDATE: member ``uid`` is now in ``channel`` (None: left voice)."""
        gid = int(self.guild_payload["id"])
        return self.dispatch(
            "VOICE_STATE_UPDATE", voice_state(gid, uid, channel) | {"member": member(uid, name)}
        )

    def run_command(
        self,
        invoker: dict,
        name: str,
        options: list[dict] = (),
        *,
        subcommand: str | None = None,
        permissions: int = MEMBER_PERMISSIONS,
        resolved: dict | None = None,
        autocomplete: bool = False,
        timeout: float = 30,
    ) -> dict:
        """Run a slash command as ``invoker`` and return the bot's reply (the callback's data);
        ``autocomplete``: ask for the choices of the option marked ``"focused": True`` instead."""
        gid = int(self.guild_payload["id"])
        iid = next(self._interaction_ids)
        self.dispatch(
            "INTERACTION_CREATE",
            command_interaction(
                gid,
                iid,
                invoker,
                name,
                options,
                subcommand=subcommand,
                permissions=permissions,
                resolved=resolved,
                kind=4 if autocomplete else 2,
            ),
        )
        return self.wait_response(iid, timeout)["data"]

    def wait_response(self, interaction_id: int, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while interaction_id not in self.responses:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot did not answer interaction {interaction_id} within {timeout}s")
            time.sleep(0.05)
        return self.responses[interaction_id]

    def send_reconnect(self) -> None:
        """Op 7 RECONNECT: Discord asks the bot to reconnect (and resume)."""
        self._connected.clear()
        self._call(self._send_op({"op": 7, "d": None}))

    def invalidate_session(self, resumable: bool = False) -> None:
        """Op 9 INVALID_SESSION; not resumable: the session is forgotten and the bot identifies afresh."""
        self._connected.clear()
        if not resumable:
            self._session = None
        self._call(self._send_op({"op": 9, "d": resumable}))

    async def _send_op(self, payload: dict) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._send(self._ws, payload)

    def wait_processed(self, seq: int, timeout: float = 60) -> None:
        """Until the bot's heartbeat says it has parsed dispatch ``seq``."""
        deadline = time.monotonic() + timeout
        while self.processed_seq < seq:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the bot processed up to {self.processed_seq}, not {seq}, in {timeout}s")
            time.sleep(0.05)

    def drop_connection(self) -> None:
        """Close the bot's websocket as a network failure would (the bot then RESUMEs)."""
        self._connected.clear()
        self._call(self._drop())

    async def _drop(self) -> None:
        if self._ws is not None:
            await self._ws.close(code=4000, message=b"dropped by the test")

    # -- REST ------------------------------------------------------------------------------------------
    @staticmethod
    def _authorized(request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {TOKEN}"

    async def _users_me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return _json(user(BOT_USER_ID, "collector", bot=True) | {"flags": 0, "verified": True})

    async def _application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(APPLICATION_ID),
                "name": "PwR Collector",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": user(1, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        return _json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    def _counted(self, event: dict, request: web.Request) -> dict:
        event = {k: v for k, v in event.items() if k != "user_count"}
        if request.query.get("with_user_count") in ("true", "1", "True"):
            event["user_count"] = self.interested.get(int(event["id"]), 0)
        return event

    async def _scheduled_events(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        return _json([self._counted(e, request) for e in self.scheduled_events.values()])

    async def _scheduled_event(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        event = self.scheduled_events.get(request.match_info["event"])
        if event is None:
            return _json({"message": "Unknown Guild Scheduled Event", "code": 10070}, status=404)
        return _json(self._counted(event, request))

    def _snowflake(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    async def _sync_guild_commands(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        guild_id = request.match_info["guild"]
        if guild_id != self.guild_payload["id"] or request.match_info["app"] != str(APPLICATION_ID):
            return _json({"message": "Missing Access", "code": 50001}, status=403)
        body = await request.json()
        synced = [
            c
            | {
                "id": self._snowflake(),
                "application_id": str(APPLICATION_ID),
                "guild_id": guild_id,
                "version": "1",
                "type": c.get("type", 1),
                "default_member_permissions": c.get("default_member_permissions"),
                "dm_permission": c.get("dm_permission", True),
                "nsfw": c.get("nsfw", False),
            }
            for c in body
        ]
        self.synced_commands[guild_id] = synced
        return _json(synced)

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        iid = int(request.match_info["id"])
        if request.match_info["token"] != f"interaction-token-{iid}":
            return _json({"message": "Unknown interaction", "code": 10062}, status=404)
        body = await request.json()
        content = (body.get("data") or {}).get("content") or ""
        if len(content) > 2000:  # as Discord: the reply is refused, the caller sees none
            return _json(
                {
                    "message": "Invalid Form Body",
                    "code": 50035,
                    "errors": {"data": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}}},
                },
                status=400,
            )
        self.responses[iid] = body
        flags = (body.get("data") or {}).get("flags", 0)
        return _json(
            {
                "interaction": {
                    "id": str(iid),
                    "type": 2,
                    "response_message_id": self._snowflake(),
                    "response_message_loading": False,
                    "response_message_ephemeral": bool(flags & EPHEMERAL),
                }
            }
        )

    def _message(self, message_id: str, body: dict, webhook_id: str) -> dict:
        return {
            "id": message_id,
            "type": 0,
            "channel_id": "1",
            "content": body.get("content", ""),
            "author": user(int(webhook_id), "digest", bot=True),
            "attachments": [],
            "embeds": body.get("embeds", []),
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "timestamp": "2026-12-01T00:00:00+00:00",
            "edited_timestamp": None,
            "flags": body.get("flags", 0),
            "components": [],
            "webhook_id": webhook_id,
        }

    async def _webhook_post(self, request: web.Request) -> web.Response:
        webhook_id, token = request.match_info["id"], request.match_info["token"]
        body = await request.json()
        if webhook_id == str(APPLICATION_ID):  # an interaction followup
            self.followups.append(body | {"token": token})
        message_id = self._snowflake()
        message = self._message(message_id, body, webhook_id)
        self.webhook_messages[message_id] = message
        self.webhook_calls.append(("POST", message_id))
        if request.query.get("wait") in ("true", "1", "True"):
            return _json(message)
        return web.Response(status=204)

    async def _webhook_edit(self, request: web.Request) -> web.Response:
        message_id = request.match_info["message"]
        if message_id not in self.webhook_messages:
            return _json({"message": "Unknown Message", "code": 10008}, status=404)
        body = await request.json()
        message = self._message(message_id, body, request.match_info["id"])
        self.webhook_messages[message_id] = message
        self.webhook_calls.append(("PATCH", message_id))
        return _json(message)

    # -- gateway ---------------------------------------------------------------------------------------
    async def _send(self, ws: web.WebSocketResponse, payload: dict) -> None:
        await ws.send_str(json.dumps(payload))

    async def _dispatch(self, event: str, data: dict) -> int:
        if event in ("GUILD_SCHEDULED_EVENT_CREATE", "GUILD_SCHEDULED_EVENT_UPDATE"):
            self.scheduled_events[data["id"]] = data
        elif event == "GUILD_SCHEDULED_EVENT_DELETE":
            self.scheduled_events.pop(data["id"], None)
        self._seq += 1
        payload = {"op": 0, "t": event, "s": self._seq, "d": data}
        if self._session is not None:
            self._session.sent.append(payload)
        if self._ws is not None and not self._ws.closed:
            await self._send(self._ws, payload)
        return self._seq

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self._ws = ws
        await self._send(ws, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            body = json.loads(msg.data)
            op, data = body.get("op"), body.get("d")
            if op == 1:  # heartbeat: d is the last sequence the bot parsed
                self.processed_seq = max(self.processed_seq, data or 0)
                await self._send(ws, {"op": 11})
            elif op == 2:
                await self._identify(ws, data)
            elif op == 6:
                await self._resume(ws, data)
        if self._ws is ws:
            self._ws = None
            self._connected.clear()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict) -> None:
        if data.get("token") != TOKEN:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identifies += 1
        self._session = _Session(uuid.uuid4().hex)
        ready = {
            "v": 10,
            "user": user(BOT_USER_ID, "collector", bot=True),
            "guilds": [{"id": self.guild_payload["id"], "unavailable": True}],
            "session_id": self._session.session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(APPLICATION_ID), "flags": 0},
            "shard": [0, 1],
        }
        await self._dispatch("READY", ready)
        await self._dispatch("GUILD_CREATE", self.guild_payload)
        self._connected.set()

    async def _resume(self, ws: web.WebSocketResponse, data: dict) -> None:
        session = self._session
        if session is None or data.get("session_id") != session.session_id or data.get("token") != TOKEN:
            await self._send(ws, {"op": 9, "d": False})  # invalid session: identify afresh
            return
        self.resumes += 1
        missed = [p for p in session.sent if p["s"] > (data.get("seq") or 0)]
        for payload in missed:
            await self._send(ws, payload)
        await self._dispatch("RESUMED", {})
        self._connected.set()


@contextmanager
def local_discord(guild_payload: dict, **kwargs) -> Iterator[LocalDiscord]:
    server = LocalDiscord(guild_payload, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
