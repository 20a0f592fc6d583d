"""``ingest snapshots ...``: ls, show, fsck, gc, import, stats over the snapshot store.

Each command parses its arguments, calls one function of :mod:`ingestion.store.commands`, prints.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ingestion.cli.lazy import LazyModule, lazy
from ingestion.cli.options import JsonOption, StoreOption, WaitOption
from ingestion.cli.render import human_size, json_text, print_table
from ingestion.config import load_settings
from ingestion.errors import UsageError
from ingestion.instant import format_utc

if TYPE_CHECKING:
    from ingestion.f1db import record as f1db_record
    from ingestion.store import Store
    from ingestion.store import commands as ops
else:  # the store (zstandard, the log) only when a snapshots command runs
    Store = lazy("ingestion.store", "Store")
    ops = LazyModule("ingestion.store.commands")
    f1db_record = LazyModule("ingestion.f1db.record")

snapshots_app = typer.Typer(
    help="The snapshot store: list, show, check, collect, import and count stored answers.",
    no_args_is_help=True,
)

AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Only answers received at or before this ISO-8601 time (UTC if no zone)."),
]


def _store(path: Path | None) -> Store:
    return Store(path if path is not None else load_settings().snapshot_dir)


def _time(text: str | None, option: str) -> datetime | None:
    return None if text is None else ops.parse_time(text, option=option)


@snapshots_app.command("ls")
def ls_command(
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="Only this endpoint: drivers...")] = None,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", metavar="SOURCE", help="openf1 (requests) or f1db (releases); default: both (text)."
        ),
    ] = None,
) -> None:
    """List every request with its latest answer: status, time received, size, and what it covers; then
    the f1db releases recorded (the one replay reads is marked *).

    COVERS names the meetings (or year) a request asked about; "latest for N" when later answers (a batch,
    or one meeting alone) have replaced it for some of them: replay reads the latest answer per meeting.
    --json prints the requests (or with --source f1db the releases). Data from f1db (CC BY 4.0).

    Example: ingest snapshots ls --endpoint drivers --as-of 2024-12-31
    """
    if source not in (None, "openf1", "f1db"):
        raise UsageError(f"--source is openf1 or f1db, got {source!r}")
    the_store, cutoff = _store(store), _time(as_of, "--as-of")
    releases = ops.ls_releases(the_store, as_of=cutoff) if source != "openf1" and endpoint is None else []
    if source == "f1db":
        if as_json:
            typer.echo(json_text(releases))
            return
        _print_releases(releases)
        return
    rows = ops.ls(the_store, endpoint=endpoint, as_of=cutoff)
    if as_json:
        typer.echo(json_text(rows))
        return
    from ingestion.store import short_key

    table = []
    for row in rows:
        latest = "" if row.latest_for == row.units else f", latest for {row.latest_for}"
        table.append([
            short_key(row.key), str(row.status), format_utc(row.received_at),
            human_size(row.size),
            f"{row.covers}{latest}",
        ])  # fmt: skip
    # one line a request at the terminal's width (80 off one): RECEIVED goes, then COVERS; the key never
    print_table(
        ["REQUEST", "STATUS", "RECEIVED_AT", "SIZE", "COVERS"], table, right=[1, 3], shrink=[4], drop=[2, 4]
    )
    typer.echo(f"{len(rows)} request(s)")
    if releases:
        typer.echo("")
        _print_releases(releases)


def _print_releases(releases: list[ops.ReleaseRow]) -> None:
    table = [
        [
            ("* " if r.in_force else "  ") + f"{r.source} {r.tag}", f"{r.released_at:%Y-%m-%d}",
            format_utc(r.received_at), str(r.files), r.run,
        ]
        for r in releases
    ]  # fmt: skip
    # one line a release at the terminal's width (80 off one): RECEIVED_AT goes first, then RUN
    print_table(["RELEASE", "RELEASED", "RECEIVED_AT", "FILES", "RUN"], table, right=[3], drop=[2, 4])
    typer.echo(f"{len(releases)} f1db release(s); * is the one replay reads")


@snapshots_app.command("show")
def show_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="TARGET",
            help="A request, a blob address, or f1db[:TAG[:PATH]] (a release's manifest, or a file).",
        ),
    ],
    as_of: AsOfOption = None,
    store: StoreOption = None,
) -> None:
    """Print a stored body, pretty-printed: a request's latest answer, or a blob by its address; an f1db
    release's manifest (f1db:v2025.24.2) or one of its files (f1db:v2025.24.2:src/data/drivers/x.yml).
    Data from f1db (CC BY 4.0).

    Example: ingest snapshots show "/v1/meetings?year=2024"
    """
    typer.echo(ops.show(_store(store), target, as_of=_time(as_of, "--as-of")))


@snapshots_app.command("seal")
def seal_command(store: StoreOption = None, wait: WaitOption = None) -> None:
    """Seal the log files written before checksums: sealed.json gets the hash of each of their lines, so a
    changed byte there is a damaged line (fsck reports it, replay refuses the store). Commit sealed.json.

    Example: ingest snapshots seal
    """
    the_store = _store(store)
    report = ops.seal(the_store, timeout=wait)
    for name, lines in report.sealed.items():
        typer.echo(f"sealed {lines} line(s) of {name}")
    if not report.sealed:
        typer.echo(f"nothing to seal: every log file of {the_store.root} has checksums or is sealed")
        return
    typer.echo(f"wrote {report.path}")


@snapshots_app.command("fsck")
def fsck_command(
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="First rebuild damaged log lines (one damaged byte undone, checked against the line's "
            "checksum or seal and its blob) or set them aside into quarantine/ (no complete event is lost), "
            "then check.",
        ),
    ] = False,
    store: StoreOption = None,
    wait: WaitOption = None,
    as_json: JsonOption = False,
) -> None:
    """Re-hash every blob, check every event (checksum, blob, size, rows) (exit 1 on a problem).

    Example: ingest snapshots fsck --repair
    """
    the_store = _store(store)
    if repair:
        for aside in ops.repair(the_store, timeout=wait):
            for line, kind in zip(aside.lines, aside.kinds, strict=True):
                if line in aside.rebuilt:
                    said = f"rebuilt line {line} ({kind}) of {aside.log}: one damaged byte undone, its blob"
                    typer.echo(f"{said} answers it; the damaged line is kept in {aside.to}", err=as_json)
                    continue
                typer.echo(f"set aside line {line} ({kind}) of {aside.log} into {aside.to}", err=as_json)
    problems = ops.fsck(the_store)
    if as_json:
        typer.echo(json_text({"ok": not problems, "store": str(the_store.root), "problems": problems}))
        raise typer.Exit(1 if problems else 0)
    for problem in problems:
        typer.echo(problem.message)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {the_store.root}", err=True)
        raise typer.Exit(1)
    empty = "" if the_store.root.is_dir() else " (no store there yet: nothing to check)"
    typer.echo(f"ok: {the_store.root} has no problems{empty}")


@snapshots_app.command("gc")
def gc_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would be removed.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Remove unreferenced blobs even while the log looks truncated or missing."
        ),
    ] = False,
    store: StoreOption = None,
    wait: WaitOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove blobs no event refers to and stale temporary files; report the bytes freed.

    Refuses while the log looks truncated or missing (many unreferenced blobs, a torn or damaged line):
    those blobs may be answers whose events were lost.

    Example: ingest snapshots gc --dry-run
    """
    report = ops.gc(_store(store), dry_run=dry_run, force=force, timeout=wait)
    if as_json:
        typer.echo(json_text(report))
        return
    verb = "would remove" if report.dry_run else "removed"
    freed = "would free" if report.dry_run else "freed"
    typer.echo(
        f"{verb} {report.blobs_removed} unreferenced blob(s) and {report.tmp_removed} temporary file(s); "
        f"{freed} {human_size(report.bytes_freed)}"
    )


@snapshots_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="A saved OpenF1 answer (a JSON array or 'No results found.', with --url), or an f1db "
            "release archive (.tar.gz)."
        ),
    ],
    url: Annotated[
        str | None,
        typer.Option("--url", help="The OpenF1 request the file answers: /v1/drivers?session_key=9472."),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag", help="The f1db release an archive is (vYYYY.R.P; default: read from the file's name)."
        ),
    ] = None,
    received_at: Annotated[
        str | None, typer.Option("--received-at", help="When it was received (ISO-8601; default: now).")
    ] = None,
    store: StoreOption = None,
    wait: WaitOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a body saved elsewhere as the answer to a request, or an f1db release archive downloaded by
    hand (offline installs), as a new run of the store. Data from f1db (CC BY 4.0).

    Example: ingest snapshots import meetings.json --url "/v1/meetings?year=2024"

    Example: ingest snapshots import ../shared/f1db/f1db-2025.24.2.tar.gz
    """
    when = _time(received_at, "--received-at") or datetime.now(UTC)
    if url is None:
        if tag is None and not f1db_record.is_archive(file):
            raise UsageError(f"{file}: an OpenF1 answer needs --url (an f1db archive is a .tar.gz)")
        recorded = f1db_record.import_archive(_store(store), file, received_at=when, tag=tag, timeout=wait)
        if as_json:
            typer.echo(json_text(recorded))
            return
        if recorded.release is None:
            typer.echo(f"f1db {recorded.tag} is already in the store: nothing written")
            return
        typer.echo(
            f"imported {file} as f1db {recorded.tag}: {recorded.files} files, {recorded.new_blobs} new "
            f"blob(s), manifest {recorded.release.manifest}, run {recorded.release.run}"
        )
        return
    if tag is not None:
        raise UsageError("--tag names an f1db archive; --url an OpenF1 answer: give one of them")
    event = ops.import_file(_store(store), file, url, when, timeout=wait)
    if as_json:
        typer.echo(json_text(event))
        return
    typer.echo(
        f"imported {file} as {event.key}: status {event.status}, {human_size(event.size)}, "
        f"blob {event.address}, run {event.run}"
    )


@snapshots_app.command("stats")
def stats_command(as_json: JsonOption = False, store: StoreOption = None) -> None:
    """Count blobs, events and requests; raw and stored bytes and the compression ratio.

    Example: ingest snapshots stats
    """
    result = ops.stats(_store(store))
    if as_json:
        typer.echo(json_text(result))
        return
    typer.echo(f"blobs        {result.blobs}")
    typer.echo(f"events       {result.events}")
    typer.echo(f"requests     {result.requests}")
    typer.echo(f"raw          {human_size(result.raw_bytes)}")
    typer.echo(f"stored       {human_size(result.stored_bytes)}")
    typer.echo(f"ratio        {result.ratio:.2f}")
    if result.releases:
        typer.echo(f"releases     {result.releases} (f1db)")


@snapshots_app.command("diff")
def diff_command(
    before: Annotated[str, typer.Option("--from", help="The earlier instant (ISO-8601).")],
    after: Annotated[str, typer.Option("--to", help="The later instant (ISO-8601).")],
    limit: Annotated[int, typer.Option("--limit", help="Paths shown per release and kind.")] = 20,
    as_json: JsonOption = False,
    store: StoreOption = None,
) -> None:
    """What the store learnt between two instants: per f1db release that came into force, the files added,
    removed and changed; the OpenF1 requests whose latest answer changed. (Racing rows: ingest diff.)
    Data from f1db (CC BY 4.0).

    Example: ingest snapshots diff --from 2024-12-01 --to 2025-12-31
    """
    t1, t2 = ops.parse_time(before, option="--from"), ops.parse_time(after, option="--to")
    result = ops.snapshot_diff(_store(store), t1, t2)
    if as_json:
        typer.echo(json_text(result))
        return
    for change in result.releases:
        start = f"{change.source} {change.before}" if change.before else f"no {change.source} release"
        typer.echo(
            f"{start} -> {change.after} (received {format_utc(change.received_at)}): "
            f"{len(change.changed)} changed, {len(change.added)} added, {len(change.removed)} removed"
        )
        for mark, paths in (("~", change.changed), ("+", change.added), ("-", change.removed)):
            for path in paths[:limit]:
                typer.echo(f"  {mark} {path}")
            if len(paths) > limit:
                typer.echo(f"  {mark} ... {len(paths) - limit} more")
    typer.echo(f"{len(result.releases)} f1db release(s) came into force; {len(result.requests)} OpenF1 "
               "request(s) answered differently")


def register(app: typer.Typer) -> None:
    app.add_typer(snapshots_app, name="snapshots")
