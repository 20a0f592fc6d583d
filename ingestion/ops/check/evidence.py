"""Each finding's provenance: the exact OpenF1 request that shows it (ready to paste into a report upstream)
and, with the snapshot store, the stored answer that holds what OpenF1 sent (pure)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec

from ingestion.config import DEFAULT_BASE_URL
from ingestion.ops.check.model import CheckReport, Disagreement, Finding, Snapshot
from ingestion.store import Event, event_order

__all__ = ["PUBLIC_BASE_URL", "openf1_request", "with_snapshots"]

#: Evidence links point at the public OpenF1 (what an upstream report needs), whatever mirror was fetched.
PUBLIC_BASE_URL = DEFAULT_BASE_URL


def openf1_request(endpoint: str, base_url: str = PUBLIC_BASE_URL, **params: int | None) -> str:
    """``https://api.openf1.org/v1/session_result?session_key=9472&driver_number=1`` (no None params)."""
    query = urlencode([(k, str(v)) for k, v in params.items() if v is not None])
    return f"{base_url.rstrip('/')}/{endpoint}" + (f"?{query}" if query else "")


def _endpoint_and_session(request: str) -> tuple[str, str | None]:
    parts = urlsplit(request)
    params = dict(parse_qsl(parts.query))
    return parts.path.rstrip("/").rsplit("/", 1)[-1], params.get("session_key")


#: Endpoints fetched a season at a time: their answer for the season holds the row.
_BY_YEAR = frozenset({"sessions", "meetings"})

_Evidenced = TypeVar("_Evidenced", Finding, Disagreement)


def with_snapshots(report: CheckReport, latest: Mapping[str, Event]) -> CheckReport:
    """The report with each finding's and disagreement's snapshot: of the store's latest answers
    (``Store.latest()``), the newest one of its request's endpoint asked for its session or its meeting
    (or, for sessions and meetings, its season) (pure)."""
    by_endpoint: dict[str, list[Event]] = defaultdict(list)
    for event in latest.values():
        if event.status in (200, 404):
            by_endpoint[event.endpoint].append(event)

    def held(item: _Evidenced) -> _Evidenced:
        endpoint, session_key = _endpoint_and_session(item.request)
        wanted = {("session_key", session_key)} if session_key else set()
        if item.meeting_key is not None:
            wanted.add(("meeting_key", str(item.meeting_key)))
        if endpoint in _BY_YEAR:
            wanted.add(("year", str(item.season)))
        holding = [e for e in by_endpoint.get(endpoint, ()) if wanted & set(e.request.params())]
        if not holding:
            return item
        event = max(holding, key=event_order)
        snapshot = Snapshot(request=event.key, received_at=event.received_at, address=event.address)
        return msgspec.structs.replace(item, snapshot=snapshot)

    return msgspec.structs.replace(
        report,
        findings=tuple(held(f) for f in report.findings),
        disagreements=tuple(held(d) for d in report.disagreements),
    )
