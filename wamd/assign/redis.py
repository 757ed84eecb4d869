"""``RedisAssignments``: the registry in Redis, for bots and admins on several machines.

Needs the optional extra: ``pip install 'wamd[redis]'`` (the official ``redis`` client,
imported only when this backend is made). Each operation is one Lua script, so Redis runs
its read-decide-write atomically; handled marks are ``SET key value NX PX ttl``.

Time: expiry is Redis's own (``PEXPIRE`` on the claim, ``PX`` on a mark), and the few
absolute times a script needs (the index scores) come from the server's ``TIME``. No
client clock is ever consulted, so clients whose clocks disagree cannot disagree about
who holds a chat. Fencing tokens come from one counter (``<prefix>token``, ``INCR``); when
the counter is missing (a fresh or flushed server) it is seeded from the server's time in
microseconds, so tokens keep growing across a restart that lost the data.

Keys, under ``prefix``: ``c:<chat>`` a hash ``{h: handler, t: token}`` with the claim's
expiry; ``h:<handler>`` a sorted set of the handler's chats scored by expiry (an index,
cleaned as it is read); ``m:<mark>`` marks; ``token``. The scripts touch keys they build
from the prefix, so use one Redis server (or a primary with replicas), not Redis Cluster.
A failover to a replica that had not yet received a claim can forget it (Redis replicates
asynchronously): the fencing token is then what tells the old holder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from wamd.assign.base import AssignmentBackend
from wamd.assign.errors import AssignmentError, BackendError
from wamd.assign.types import Grant

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisAssignments"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "wamd:assign:"

_LIB = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function new_token(key)
  if redis.call('EXISTS', key) == 0 then
    local t = redis.call('TIME')
    redis.call('SET', key, t[1] .. string.format('%06d', tonumber(t[2])))
  end
  redis.call('INCR', key)
  return redis.call('GET', key)
end
local function index(idx, chat, ttl)
  redis.call('ZADD', idx, now_ms() + tonumber(ttl), chat)
  if redis.call('PTTL', idx) < tonumber(ttl) then redis.call('PEXPIRE', idx, ttl) end
end
local function matches(cur, handler, token)
  return cur[1] and (handler == '' or cur[1] == handler) and (token == '' or cur[2] == token)
end
local function live_chats(idx, handler, cprefix)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', now_ms())
  local out = {}
  for _, chat in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
    local ck = cprefix .. chat
    local cur = redis.call('HMGET', ck, 'h', 't')
    local left = redis.call('PTTL', ck)
    if cur[1] == handler and left > 0 then
      table.insert(out, chat)
      table.insert(out, cur[2])
      table.insert(out, left)
    else
      redis.call('ZREM', idx, chat)
    end
  end
  return out
end
"""

# KEYS: claim, token counter, handler index; ARGV: handler, ttl ms, force, chat, index prefix
_CLAIM = """
local cur = redis.call('HMGET', KEYS[1], 'h', 't')
local token, fresh = cur[2], 0
if cur[1] == ARGV[1] then
  -- ours already: extend, same token
elseif cur[1] and ARGV[3] ~= '1' then
  return false
else
  if cur[1] then redis.call('ZREM', ARGV[5] .. cur[1], ARGV[4]) end
  token, fresh = new_token(KEYS[2]), 1
  redis.call('HSET', KEYS[1], 'h', ARGV[1], 't', token)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
index(KEYS[3], ARGV[4], ARGV[2])
return {ARGV[1], token, tonumber(ARGV[2]), fresh}
"""

# KEYS: claim, handler index; ARGV: handler, ttl ms, token or '', chat
_RENEW = """
local cur = redis.call('HMGET', KEYS[1], 'h', 't')
if not matches(cur, ARGV[1], ARGV[3]) then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
index(KEYS[2], ARGV[4], ARGV[2])
return {ARGV[1], cur[2], tonumber(ARGV[2]), 0}
"""

# KEYS: claim, handler index; ARGV: handler, token or '', chat
_RELEASE = """
local cur = redis.call('HMGET', KEYS[1], 'h', 't')
if not matches(cur, ARGV[1], ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""

# KEYS: claim, token counter, new handler index
# ARGV: to, ttl ms, current or '', token or '', chat, index prefix
_TRANSFER = """
local cur = redis.call('HMGET', KEYS[1], 'h', 't')
if not matches(cur, ARGV[3], ARGV[4]) then return false end
local token, fresh = cur[2], 0
if cur[1] ~= ARGV[1] then
  redis.call('ZREM', ARGV[6] .. cur[1], ARGV[5])
  token, fresh = new_token(KEYS[2]), 1
  redis.call('HSET', KEYS[1], 'h', ARGV[1], 't', token)
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
index(KEYS[3], ARGV[5], ARGV[2])
return {ARGV[1], token, tonumber(ARGV[2]), fresh}
"""

# KEYS: claim
_HOLDER = """
local cur = redis.call('HMGET', KEYS[1], 'h', 't')
local left = redis.call('PTTL', KEYS[1])
if not cur[1] or left <= 0 then return false end
return {cur[1], cur[2], left, 0}
"""

# KEYS: handler index; ARGV: handler, claim prefix
_CHATS_OF = """
return live_chats(KEYS[1], ARGV[1], ARGV[2])
"""

# KEYS: handler indexes; ARGV: claim prefix, handlers (in KEYS order)
_LOAD = """
local out = {}
for i, idx in ipairs(KEYS) do
  table.insert(out, #live_chats(idx, ARGV[i + 1], ARGV[1]) / 3)
end
return out
"""


def _import_redis() -> Any:
    try:
        import redis.asyncio
    except ImportError as exc:
        raise AssignmentError(
            "RedisAssignments needs the redis client: pip install 'wamd[redis]'"
        ) from exc
    return redis


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisAssignments(AssignmentBackend):
    """Claims and marks in the Redis server at ``url`` (or in the given ``client``).

    ``prefix`` namespaces every key, so several desks (or test runs) can share a server.
    Extra keyword arguments go to ``redis.asyncio.Redis.from_url``.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        prefix: str = DEFAULT_PREFIX,
        client: Redis | None = None,
        **options: Any,
    ) -> None:
        module = _import_redis()
        if not isinstance(prefix, str):
            raise AssignmentError(f"prefix must be a string, got {type(prefix).__name__}")
        self.prefix = prefix
        self._errors: tuple[type[BaseException], ...] = (module.RedisError,)
        self._own_client = client is None
        if client is None:
            options.setdefault("decode_responses", True)
            client = module.asyncio.Redis.from_url(url, **options)
        self.client: Redis = client
        self._scripts = {
            name: client.register_script(_LIB + body)
            for name, body in (
                ("claim", _CLAIM),
                ("renew", _RENEW),
                ("release", _RELEASE),
                ("transfer", _TRANSFER),
                ("holder", _HOLDER),
                ("chats_of", _CHATS_OF),
                ("load", _LOAD),
            )
        }

    # ------------------------------------------------------------------ plumbing

    def _claim_key(self, chat: str) -> str:
        return f"{self.prefix}c:{chat}"

    def _index_key(self, handler: str) -> str:
        return f"{self.prefix}h:{handler}"

    def _mark_key(self, key: str) -> str:
        return f"{self.prefix}m:{key}"

    @property
    def _token_key(self) -> str:
        return f"{self.prefix}token"

    async def _script(self, name: str, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        try:
            return await self._scripts[name](keys=list(keys), args=list(args))
        except self._errors as exc:
            raise BackendError(f"redis: {type(exc).__name__}: {exc}") from exc

    async def _command(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self.client, name)(*args, **kwargs)
        except self._errors as exc:
            raise BackendError(f"redis: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _grant(chat: str, reply: Any) -> Grant | None:
        if not reply:
            return None
        handler, token, ttl, fresh = reply
        return Grant(chat, _text(handler), int(_text(token)), int(ttl), bool(int(fresh)))

    async def close(self) -> None:
        if self._own_client:
            closer: Any = getattr(self.client, "aclose", None) or self.client.close  # redis 5.0.0
            await closer()

    # ------------------------------------------------------------------ primitives

    async def _claim(self, chat: str, handler: str, ttl: int, force: bool) -> Grant | None:
        reply = await self._script(
            "claim",
            [self._claim_key(chat), self._token_key, self._index_key(handler)],
            [handler, ttl, "1" if force else "0", chat, f"{self.prefix}h:"],
        )
        return self._grant(chat, reply)

    async def _renew(self, chat: str, handler: str, ttl: int, token: int | None) -> Grant | None:
        reply = await self._script(
            "renew",
            [self._claim_key(chat), self._index_key(handler)],
            [handler, ttl, "" if token is None else str(token), chat],
        )
        return self._grant(chat, reply)

    async def _release(self, chat: str, handler: str, token: int | None) -> bool:
        reply = await self._script(
            "release",
            [self._claim_key(chat), self._index_key(handler)],
            [handler, "" if token is None else str(token), chat],
        )
        return bool(int(reply))

    async def _transfer(
        self, chat: str, to: str, ttl: int, current: str | None, token: int | None
    ) -> Grant | None:
        reply = await self._script(
            "transfer",
            [self._claim_key(chat), self._token_key, self._index_key(to)],
            [
                to,
                ttl,
                current or "",
                "" if token is None else str(token),
                chat,
                f"{self.prefix}h:",
            ],
        )
        return self._grant(chat, reply)

    async def _holder(self, chat: str) -> Grant | None:
        return self._grant(chat, await self._script("holder", [self._claim_key(chat)], []))

    async def _chats_of(self, handler: str) -> list[Grant]:
        flat = await self._script(
            "chats_of", [self._index_key(handler)], [handler, f"{self.prefix}c:"]
        )
        return [
            Grant(_text(flat[i]), handler, int(_text(flat[i + 1])), int(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    async def _load(self, handlers: list[str]) -> dict[str, int]:
        counts = await self._script(
            "load", [self._index_key(h) for h in handlers], [f"{self.prefix}c:", *handlers]
        )
        return {h: int(n) for h, n in zip(handlers, counts, strict=True)}

    async def _mark(self, key: str, value: str, ttl: int) -> bool:
        return bool(await self._command("set", self._mark_key(key), value, nx=True, px=ttl))

    async def _get_mark(self, key: str) -> str | None:
        value = await self._command("get", self._mark_key(key))
        return None if value is None else _text(value)

    async def _unmark(self, key: str) -> bool:
        return bool(await self._command("delete", self._mark_key(key)))
