"""``python -m ingestion.bulk_sync``: the entry point the team has always typed (see ``__main__.py``).

The library lives in :mod:`ingestion.ops.bulk_sync`; this package only runs the ``ingest bulk`` command.
"""
