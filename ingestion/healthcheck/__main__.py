"""``python -m ingestion.healthcheck [--offline] [--json]``: the same as ``ingest healthcheck``."""

from __future__ import annotations

from ingestion.cli.ops import healthcheck_command
from ingestion.cli.runner import run_standalone


def main(argv: list[str] | None = None) -> None:
    run_standalone(healthcheck_command, argv, "python -m ingestion.healthcheck")


if __name__ == "__main__":
    main()
