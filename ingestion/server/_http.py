"""The HTTP side: a ThreadingHTTPServer sending the answers of ``_answers``, run in a background thread."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

import msgspec

from ingestion.errors import IngestionError
from ingestion.server._answers import (
    BAD_CREDENTIALS_BODY,
    BAD_LENGTH_BODY,
    BAD_TOKEN_BODY,
    LIVE_SESSION_BODY,
    LIVE_SESSION_DETAIL,
    MAX_BODY_BYTES,
    NO_RESULTS_BODY,
    NOT_FOUND_BODY,
    RATE_EXCEEDED,
    REPLACING,
    TEXT,
    TOO_LARGE_BODY,
    Answer,
    RequestRecord,
    ServerConfig,
    ServerStats,
    endpoint_of,
)
from ingestion.server._control import (
    FaultKind,
)
from ingestion.server._f1db import API_PREFIX, F1dbFolder, answer_f1db, is_api_path
from ingestion.server._source import Dataset
from ingestion.server._state import ServerState
from ingestion.server._time import live_windows

__all__ = [
    "LIVE_SESSION_DETAIL",
    "NO_RESULTS_BODY",
    "RATE_EXCEEDED",
    "RequestRecord",
    "RunningServer",
    "ServerConfig",
    "ServerStartError",
    "ServerStats",
    "start_server",
]


class ServerStartError(IngestionError):
    """The server cannot listen on the address asked (port taken, host unknown)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: do not wait for delayed ACKs
    server_version = "openf1-standin"

    def version_string(self) -> str:
        return self.server_version

    timeout = 120  # an idle keep-alive connection is closed after this
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: one line per request is written by the server state instead."""

    # -- plumbing ------------------------------------------------------------------------------------

    def _send(self, answer: Answer, *, truncate: bool = False) -> None:
        body = answer.body[: len(answer.body) // 2] if truncate else answer.body
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _reset(self) -> None:
        """Close the connection at once, with a TCP reset and no answer at all."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _bearer(self) -> str | None:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    # -- methods -------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        state = self.server.state
        started = time.perf_counter()
        if state.f1db is not None and self._f1db(state, started):
            return
        number = state.next_get()
        fault = state.faults.fault_for(number)
        try:
            answer, tier = self._get(state, fault)
        except Exception:  # a bug must not drop the connection without an answer: say 500 instead
            answer, tier = REPLACING["500"], "free"
        # Recorded before the answer leaves: a client that has its answer finds it in the stats.
        status = 0 if answer is None else answer.status
        state.record(
            RequestRecord("GET", self.path, status, fault, tier), (time.perf_counter() - started) * 1000
        )
        if answer is None:
            self._reset()
        else:
            self._send(answer, truncate=fault == "truncated")

    def _f1db(self, state: ServerState, started: float) -> bool:
        """Answer an f1db path (GitHub's release endpoints, an archive) and say so; False: not f1db's."""
        assert state.f1db is not None
        path = urlsplit(self.path).path
        api = is_api_path(path)
        host = self.headers.get("Host") or f"{state.config.host}:{self.server.server_address[1]}"
        with state.lock:
            asked = state.f1db_api
            if api:
                state.f1db_api += 1
        try:
            answer = answer_f1db(
                state.f1db,
                path,
                origin=f"http://{host}",
                if_none_match=self.headers.get("If-None-Match"),
                api_requests=asked,
                limit=state.config.f1db_limit,
                now=state.wall(),
            )
        except Exception:  # a bug must not drop the connection without an answer
            answer = REPLACING["500"]
        if answer is None:
            if api:
                with state.lock:
                    state.f1db_api -= 1
            return False
        tier = "f1db-api" if api else "f1db-download"
        record = RequestRecord("GET", self.path, answer.status, None, tier, self._bearer() is not None)
        state.record(record, (time.perf_counter() - started) * 1000)
        self._send(answer)
        return True

    def _get(self, state: ServerState, fault: FaultKind | None) -> tuple[Answer | None, str]:
        """The answer to this GET and the tier it was served at; None: reset the connection instead."""
        if fault == "reset":
            return None, "free"
        if fault is not None and fault in REPLACING:
            return REPLACING[fault], "free"
        if fault == "slow" and state.stopping.wait(state.config.slow_seconds):
            return None, "free"  # stopping: do not keep the caller waiting
        user: str | None = None
        token = self._bearer()
        if token is not None and state.tokens is not None:
            user = state.tokens.user_of(token, state.clock())
            if user is None:
                return Answer(401, BAD_TOKEN_BODY), "free"
        tier = "free" if user is None else "paid"
        if user is None and state.config.live_block and state.live.live_at(state.wall()):
            return Answer(401, LIVE_SESSION_BODY), tier
        if not state.admit(user):
            return Answer(429, RATE_EXCEEDED, TEXT), tier
        parts = urlsplit(self.path)
        return state.answer_get(endpoint_of(parts.path), parts.query), tier

    def do_POST(self) -> None:
        state = self.server.state
        started = time.perf_counter()
        length_text = (self.headers.get("Content-Length") or "0").strip()
        length = -1
        if length_text.isdigit():  # a length beyond any int Python reads (5000 digits) is too large too
            length = int(length_text) if len(length_text) <= 18 else MAX_BODY_BYTES + 1
        # Never read more than the bound: a Content-Length of 10^15 is refused before reading anything.
        raw = self.rfile.read(length) if 0 < length <= MAX_BODY_BYTES else b""
        path = urlsplit(self.path).path.rstrip("/")
        if length < 0:  # the body cannot be found: answer, then close (the stream is out of step)
            self.close_connection = True
            answer = Answer(400, BAD_LENGTH_BODY)
        elif length > MAX_BODY_BYTES:  # its body is left unread: answer, then close
            self.close_connection = True
            answer = Answer(413, TOO_LARGE_BODY)
        elif path not in ("/token", "/v1/token") or state.tokens is None:
            answer = Answer(404, NOT_FOUND_BODY)
        else:
            form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            token = state.tokens.issue(form.get("username", ""), form.get("password", ""), state.clock())
            if token is None:
                answer = Answer(401, BAD_CREDENTIALS_BODY)
            else:
                ttl = state.config.token_ttl
                answer = Answer(
                    200,
                    msgspec.json.encode(
                        {
                            "expires_in": f"{ttl:g}" if ttl != int(ttl) else str(int(ttl)),
                            "access_token": token,
                            "token_type": "bearer",
                        }
                    ),
                )
        state.record(RequestRecord("POST", self.path, answer.status), (time.perf_counter() - started) * 1000)
        self._send(answer)

    def _not_allowed(self) -> None:
        state = self.server.state
        answer = Answer(405, b'{"detail":"Method Not Allowed"}')
        state.record(RequestRecord(self.command, self.path, answer.status), 0.0)
        self._send(answer)

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    #: The listen backlog: the default of 5 made ~2% of requests from 200 clients connecting at once time
    #: out (SYNs dropped, retried after 1, 3, 7... s). The kernel caps it at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError) or self.state.stopping.is_set():
            return  # a client that went away, or our own stop: nothing to report
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        """Cut every open connection (keep-alive ones included), so a stopped server answers nothing."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class RunningServer:
    """A server answering in a background thread. ``base_url`` ends in ``/v1``; stop it with :meth:`stop`
    (or use it as a context manager)."""

    def __init__(self, server: _Server, state: ServerState) -> None:
        self._server = server
        self._state = state
        host, port = server.server_address[:2]
        self.host: str = str(host)
        self.port: int = int(port)
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}"
        self.base_url = f"{self.url}/v1"
        self.token_url = f"{self.url}/token"
        self.f1db_url = f"{self.url}{API_PREFIX}"  # F1DB_URL of a client (with --f1db)
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"openf1-server-{self.port}",
            daemon=True,
        )
        self._stopped = False
        self._thread.start()

    @property
    def config(self) -> ServerConfig:
        return self._state.config

    @property
    def dataset(self) -> Dataset:
        return self._state.dataset

    @property
    def stats(self) -> ServerStats:
        """A snapshot of what the server has seen so far."""
        with self._state.lock:
            return ServerStats(tuple(self._state.records))

    def replace_dataset(self, dataset: Dataset) -> None:
        """Serve ``dataset`` from now on (a correction published, a schedule moved)."""
        with self._state.lock:
            self._state.dataset = dataset
            self._state.live = live_windows(dataset)

    def reset_stats(self) -> None:
        """Forget the requests seen; GET numbering (for faults) starts again at 1. Limits are kept."""
        with self._state.lock:
            self._state.records.clear()
            self._state.gets = 0

    def fail_at(self, kind: FaultKind, *numbers: int) -> None:
        """GETs number ``numbers`` (counted from 1 since start or ``reset_stats``) fail as ``kind``."""
        self._state.faults.at(kind, numbers)

    def fail_next(self, kind: FaultKind, times: int = 1) -> None:
        """The next ``times`` GETs (a burst) fail as ``kind``."""
        self._state.faults.next(kind, times)

    def clear_faults(self) -> None:
        """No more faults: neither installed ones nor the periodic ones of the configuration."""
        self._state.faults.clear()

    def stop(self) -> None:
        """Stop answering: the listening socket and every open connection are closed. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._state.stopping.set()
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self) -> None:
        """Block until :meth:`stop` is called from another thread (Ctrl-C interrupts the wait)."""
        while not self._state.stopping.wait(0.5):
            pass

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer({self.base_url})"


def start_server(
    source: Dataset,
    config: ServerConfig | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    log: IO[str] | None = None,
    wall: Callable[[], datetime] | None = None,
    f1db: F1dbFolder | None = None,
) -> RunningServer:
    """Serve ``source`` like OpenF1 in a background thread and return at once.

    ``clock`` (seconds, monotonic) drives the rate limits and token expiry, so tests can move time by hand;
    ``log`` gets one line per request (``GET /v1/meetings?year=2024 200 1.3 ms``), none when None;
    ``wall`` (default: the real time) is the instant ``config.live_block`` compares with the sessions.
    ``f1db``: also answer GitHub's release endpoints for f1db from that folder of archives
    (:mod:`ingestion.server._f1db`; ``f1db_url`` is where).
    """
    config = config or ServerConfig()
    state = ServerState(source, config, clock, log, wall)
    state.f1db = f1db
    try:
        server = _Server((config.host, config.port), state)
    except OSError as error:
        raise ServerStartError(
            f"cannot listen on {config.host}:{config.port}: {error.strerror or error}"
        ) from None
    return RunningServer(server, state)
