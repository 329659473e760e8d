"""A per-patient moving-window rate limit, e.g. RATE_LIMIT="30/60;10/5": at most 30 messages in any
60 seconds and 10 in any 5. Counted in Redis when a URL is given, so that every instance behind the
load balancer sees the same count; in memory otherwise.

(The `limits` library does this, but needs packaging>=21, which Rasa 3.6 forbids.)
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Deque, Dict, List, Optional, Tuple

import redis

Window = Tuple[int, float]  # (most messages, in this many seconds)


def parse_windows(spec: str) -> List[Window]:
    windows = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        count, seconds = part.split("/")
        windows.append((int(count), float(seconds)))
    if not windows:
        raise ValueError(f"no rate limit in {spec!r}")
    return windows


def within(stamps: List[float], windows: List[Window], now: float) -> bool:
    """Whether one more message now keeps every window under its count."""
    return all(sum(1 for stamp in stamps if stamp > now - seconds) < count for count, seconds in windows)


class RateLimiter:
    def __init__(self, spec: str, redis_url: Optional[str] = None, clock=time.time) -> None:
        self.windows = parse_windows(spec)
        self.longest = max(seconds for _, seconds in self.windows)
        self.clock = clock
        self.red = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1) if redis_url else None
        self._stamps: Dict[str, Deque[float]] = {}

    def allow(self, sender_id: str) -> bool:
        """Count this message and say whether it is within the limit. Refused messages count too:
        a script that keeps sending stays refused."""
        now = self.clock()
        stamps = self._redis_stamps(self.red, sender_id, now) if self.red else self._memory_stamps(sender_id, now)
        return within(stamps, self.windows, now)

    def _redis_stamps(self, red: redis.Redis, sender_id: str, now: float) -> List[float]:
        key = f"knee:rate:{sender_id}"
        pipe = red.pipeline(transaction=True)
        pipe.zremrangebyscore(key, 0, now - self.longest)
        pipe.zrange(key, 0, -1, withscores=True)
        pipe.zadd(key, {uuid.uuid4().hex: now})
        pipe.expire(key, int(self.longest) + 1)
        earlier = pipe.execute()[1]
        return [score for _, score in earlier]

    def _memory_stamps(self, sender_id: str, now: float) -> List[float]:
        stamps = self._stamps.setdefault(sender_id, deque())
        while stamps and stamps[0] <= now - self.longest:
            stamps.popleft()
        earlier = list(stamps)
        stamps.append(now)
        if len(self._stamps) > 10_000:  # forget patients who went quiet
            for sender in [s for s, d in self._stamps.items() if d and d[-1] <= now - self.longest]:
                del self._stamps[sender]
        return earlier
