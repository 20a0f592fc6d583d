"""``python -m ingestion.db audit`` and ``python -m ingestion.db clean-racing ...``: the ``ingest db`` group.

The same commands and options as ``ingest db ...`` (migrate, status, audit, clean-racing...).
"""

from __future__ import annotations

import sys

from ingestion.cli import fail  # importing the CLI registers every command of the db group
from ingestion.cli.db import db_app
from ingestion.errors import IngestionError


def main(argv: list[str] | None = None) -> None:
    try:
        db_app(args=argv, prog_name="python -m ingestion.db")
    except IngestionError as error:
        fail(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
