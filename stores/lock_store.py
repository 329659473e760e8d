"""The lock store named in endpoints.yml. Rasa processes the turns of one conversation one at a time
by taking a ticket from the conversation's lock; with several Rasa instances the lock must be shared.

REDIS_URL set: RedisTicketLockStore (below). Unset: Rasa's in-memory lock store, which is right for
one instance and wrong for two.

Why not Rasa's RedisLockStore as it is: it issues a ticket by reading the lock, adding the ticket and
writing the lock back, in three separate Redis calls. Two instances receiving a message for the same
conversation at the same moment can both read the same lock and both write: one ticket disappears and
two turns run at once, interleaving or overwriting each other's events. Here every read-modify-write
of a lock is one Redis transaction (WATCH/MULTI, retried when another instance got there first), a
waiting turn checks its ticket every LOCK_POLL_SECONDS rather than every second, and a Redis restart
is ridden out (REDIS_RETRY_SECONDS) instead of failing the patient's message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, List, Optional, Text, TypeVar

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import (
    DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX,
    LOCK_LIFETIME,
    InMemoryLockStore,
    LockError,
    LockStore,
    RedisLockStore,
)
from rasa.utils.endpoints import EndpointConfig
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

import settings

logger = logging.getLogger(__name__)
T = TypeVar("T")

POLL_SECONDS = settings.seconds("LOCK_POLL_SECONDS")
RETRY_SECONDS = settings.seconds("REDIS_RETRY_SECONDS")
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError)


class ConversationLockStore:
    """endpoints.yml names this class; constructing it gives the lock store the environment asks for."""

    def __new__(cls, endpoint_config: Optional[EndpointConfig] = None) -> LockStore:
        url = settings.optional("REDIS_URL")
        if not url:
            logger.info("Lock store: in memory (one instance; set REDIS_URL for several).")
            return InMemoryLockStore()
        logger.info("Lock store: Redis.")
        return RedisTicketLockStore(url)


class RedisTicketLockStore(RedisLockStore):
    def __init__(self, url: str) -> None:
        # Not RedisLockStore.__init__: the client comes from the URL (password and TLS included), and
        # retries a command on a dropped connection for a short while before the slower retry below.
        self.red = redis.Redis.from_url(
            url,
            socket_timeout=5,
            socket_connect_timeout=2,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=3),
            retry_on_error=list(REDIS_ERRORS),
        )
        self.key_prefix = DEFAULT_REDIS_LOCK_STORE_KEY_PREFIX
        LockStore.__init__(self)

    def _key(self, conversation_id: Text) -> str:
        return self.key_prefix + conversation_id

    def _update(self, conversation_id: Text, change: Callable[[TicketLock], T]) -> T:
        """Apply `change` to the conversation's lock in one transaction; delete the lock when no
        ticket is left. Redis retries the whole function if another instance changed the lock."""
        key = self._key(conversation_id)

        def transaction(pipe: "redis.client.Pipeline") -> T:
            stored = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(stored)) if stored else self.create_lock(conversation_id)
            result = change(lock)
            pipe.multi()
            if lock.tickets:
                # Expire with the last ticket: a crashed instance cannot leave a lock behind forever.
                pipe.set(key, lock.dumps(), ex=max(1, int(LOCK_LIFETIME) + 5))
            else:
                pipe.delete(key)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._update(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._update(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        # finish_serving deletes the lock in the same transaction once no one is waiting.
        self.finish_serving(conversation_id, ticket_number)

    def update_lock(self, conversation_id: Text) -> None:
        self._update(conversation_id, lambda lock: lock.remove_expired_tickets())

    async def _retrying(self, operation: Callable[..., T], *args: Any) -> T:
        deadline = time.monotonic() + RETRY_SECONDS
        pause = 0.1
        while True:
            try:
                return operation(*args)
            except REDIS_ERRORS as error:
                if time.monotonic() + pause > deadline:
                    raise LockError(f"Redis unreachable for {RETRY_SECONDS:.0f} s: {type(error).__name__}") from None
                logger.warning(f"Lock store: Redis unreachable ({type(error).__name__}), retrying.")
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    @asynccontextmanager
    async def lock(
        self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = POLL_SECONDS
    ) -> AsyncGenerator[TicketLock, None]:
        ticket = [await self._retrying(self.issue_ticket, conversation_id, lock_lifetime)]
        try:
            yield await self._wait_for_turn(conversation_id, ticket, lock_lifetime)
        finally:
            await self._retrying(self.cleanup, conversation_id, ticket[0])

    async def _wait_for_turn(self, conversation_id: Text, ticket: List[int], lock_lifetime: float) -> TicketLock:
        """Wait until ticket[0] is served. A lock that lost our ticket (Redis restarted empty, or the
        turns before ours outlived the lock's lifetime) gets a new ticket rather than failing the
        patient's message, as Rasa's own lock store would."""
        while True:
            lock = await self._retrying(self.get_lock, conversation_id)
            if lock is None or lock._ticket_for_ticket_number(ticket[0]) is None:
                logger.warning("Lock store: a waiting turn lost its ticket; it takes a new one.")
                ticket[0] = await self._retrying(self.issue_ticket, conversation_id, lock_lifetime)
                continue
            if not lock.is_locked(ticket[0]):
                return lock
            await asyncio.sleep(POLL_SECONDS)
            await self._retrying(self.update_lock, conversation_id)
