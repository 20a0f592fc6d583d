"""What the HTTP handlers share, behind one lock: the dataset, the limits, tokens, faults and the log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO

from ingestion.server._answers import Answer, RequestRecord, ServerConfig, answer_get
from ingestion.server._control import FaultPlan, SlidingWindowLimiter, TokenBook
from ingestion.server._f1db import F1dbFolder
from ingestion.server._source import Dataset
from ingestion.server._time import live_windows

__all__ = ["ServerState"]


class ServerState:
    """Everything the handlers share, behind one lock."""

    def __init__(
        self,
        dataset: Dataset,
        config: ServerConfig,
        clock: Callable[[], float],
        log: IO[str] | None,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.dataset = dataset
        self.config = config
        self.clock = clock
        self.wall = wall or (lambda: datetime.now(UTC))
        self.live = live_windows(dataset)
        self.log = log
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.faults = FaultPlan(config.faults)
        self.tokens = (
            TokenBook(config.token_user, config.token_password, config.token_ttl)
            if config.token_user is not None and config.token_password is not None
            else None
        )
        self.free = SlidingWindowLimiter(config.per_second, config.per_minute)
        self.paid: dict[str, SlidingWindowLimiter] = {}
        self.gets = 0
        self.records: list[RequestRecord] = []
        self.f1db: F1dbFolder | None = None  # --f1db: GitHub's release endpoints from a folder of archives
        self.f1db_api = 0  # f1db API requests seen (for --f1db-limit)

    def next_get(self) -> int:
        with self.lock:
            self.gets += 1
            return self.gets

    def admit(self, user: str | None) -> bool:
        with self.lock:
            if user is None:
                return self.free.admit(self.clock())
            limiter = self.paid.get(user)
            if limiter is None:
                limiter = self.paid[user] = SlidingWindowLimiter(
                    self.config.paid_per_second, self.config.paid_per_minute
                )
            return limiter.admit(self.clock())

    def record(self, record: RequestRecord, elapsed_ms: float) -> None:
        with self.lock:
            self.records.append(record)
            if self.log is not None:
                status = "reset" if record.status == 0 else str(record.status)
                fault = f" (fault {record.fault})" if record.fault else ""
                self.log.write(f"{record.method} {record.path} {status} {elapsed_ms:.1f} ms{fault}\n")
                self.log.flush()

    def answer_get(self, endpoint: str | None, query: str) -> Answer:
        return answer_get(
            self.dataset, endpoint, query, or_repeated=self.config.or_repeated, drops=self.config.drops
        )
