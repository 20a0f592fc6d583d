"""``python -m ingestion.db audit`` and ``python -m ingestion.db clean-racing ...``: the ``ingest db`` group.

The same commands and options as ``ingest db ...`` (migrate, status, audit, clean-racing...).
"""

from __future__ import annotations

import ingestion.cli  # noqa: F401  (importing the CLI registers every command of the db group)
from ingestion.cli.db import db_app
from ingestion.cli.runner import run_standalone


def main(argv: list[str] | None = None) -> None:
    run_standalone(db_app, argv, "python -m ingestion.db")


if __name__ == "__main__":
    main()
