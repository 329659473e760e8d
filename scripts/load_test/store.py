"""PostgreSQL, read by the load generator: the events stored for each conversation and turn."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, Tuple

from scripts.load_test.records import (
    is_listen,
    stored_tokens,
)


class Store:
    """Reads of the events table from a few threads (psycopg2 is blocking), one connection each."""

    def __init__(self, url: str, workers: int = 4) -> None:
        self.url = url
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="store")
        self.local = threading.local()
        self.connections: List[Any] = []
        self.lock = threading.Lock()

    def _cursor(self):
        import psycopg2

        connection = getattr(self.local, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg2.connect(self.url)
            connection.autocommit = True
            self.local.connection = connection
            with self.lock:
                self.connections.append(connection)
        return connection.cursor()

    def query(self, sql: str, *params) -> list:
        with self._cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    async def aquery(self, sql: str, *params) -> list:
        return await asyncio.get_running_loop().run_in_executor(self.pool, lambda: self.query(sql, *params))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for connection in self.connections:
            try:
                connection.close()
            except Exception:
                pass

    def settle(self, limit: float = 60.0, still: float = 2.0) -> float:
        """Wait until nothing more is written (turns that outlived their client finish); seconds waited."""
        started = time.monotonic()
        last, since = None, time.monotonic()
        while time.monotonic() - started < limit:
            now = self.query("SELECT count(*), coalesce(max(id), 0) FROM events")[0]
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= still:
                break
            time.sleep(0.25)
        return time.monotonic() - started


def turn_in_rows(rows: List[Tuple[int, str]], pid: str, turn: int, channel: str) -> Tuple[bool, List[str], int]:
    """From a conversation's events (id, json) after the previous turn: whether this turn is stored
    whole (its user event, then events up to an action_listen), its replies, and its last event's id."""
    started, segment, last_id = False, [], 0
    for row_id, data in rows:
        event = json.loads(data)
        if event.get("event") == "user":
            if started:
                break
            metadata = event.get("metadata") or {}
            started = metadata.get("patient") == pid and metadata.get("turn") == turn
            last_id = row_id if started else last_id
            continue
        if started:
            segment.append(event)
            last_id = row_id
    complete = started and bool(segment) and is_listen(segment[-1])
    tokens = [token for event in segment if event.get("event") == "bot" for token in stored_tokens(event, channel)]
    return complete, tokens, last_id
