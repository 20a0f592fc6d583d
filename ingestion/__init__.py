"""Parc Fermé ingestion: OpenF1 -> immutable snapshots -> deterministic replay into PostgreSQL.

The package is a library first; :mod:`ingestion.cli` is a thin shell over it.
"""

__version__ = "0.1.0"
