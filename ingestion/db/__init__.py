"""The database: which one (DATABASE_URL or the embedded server), migrations, clean-racing."""

from ingestion.db.connection import connect, database_url, require_schema
from ingestion.db.migrate import migrate, status

__all__ = ["connect", "database_url", "migrate", "require_schema", "status"]
