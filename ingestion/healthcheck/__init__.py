"""``python -m ingestion.healthcheck``: the entry point the team has always typed (see ``__main__.py``).

The library lives in :mod:`ingestion.ops.healthcheck`; this package only runs the ``ingest healthcheck``
command.
"""
