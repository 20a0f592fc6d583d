"""``python -m ingestion.bulk_sync [--all] [--start-year Y] ...``: the same as ``ingest bulk``."""

from __future__ import annotations

from ingestion.cli.runner import run_standalone
from ingestion.cli.sync import bulk_command


def main(argv: list[str] | None = None) -> None:
    run_standalone(bulk_command, argv, "python -m ingestion.bulk_sync")


if __name__ == "__main__":
    main()
