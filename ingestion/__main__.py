"""``python -m ingestion ...`` runs the same CLI as the ``ingest`` command."""

from ingestion.cli import entry

if __name__ == "__main__":
    entry()
