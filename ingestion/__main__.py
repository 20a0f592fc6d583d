"""``python -m ingestion ...`` runs the same CLI as the ``ingest`` command."""

from ingestion.cli import main

if __name__ == "__main__":
    main()
