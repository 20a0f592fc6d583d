"""The exception tree. :class:`IngestionError` is the root and is never raised directly.

Every error carries a one-line message meant for the person at the terminal and an exit code the CLI
returns. Each stage adds its own subclasses next to its code (``store.errors``, ``fetch``...).
"""

from __future__ import annotations


class IngestionError(Exception):
    """Root of every error this package raises on purpose. Never raised directly."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Interrupted(IngestionError):
    """Stopped by Ctrl-C (exit 130). The message says what was kept and how to continue."""

    exit_code = 130


class UsageError(IngestionError):
    """Bad arguments or options (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration variable has a value that cannot be used (exit 2)."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class DatabaseError(IngestionError):
    """The database cannot be used: unreachable, refused, missing, or not migrated."""


class DatabaseUnreachable(DatabaseError):
    pass


class DatabaseAuthFailed(DatabaseError):
    pass


class DatabaseMissing(DatabaseError):
    pass


class DatabaseTimeout(DatabaseError):
    """A statement was cancelled: statement_timeout, lock_timeout, or another session's pg_cancel_backend."""


class DatabaseReadOnly(DatabaseError):
    """A write on a read-only database (a standby, or default_transaction_read_only)."""


class DatabaseConnectionLost(DatabaseError):
    """The connection went away mid-command: pg_terminate_backend, a server restart or crash."""


class NotMigrated(DatabaseError):
    """The schema is missing or incomplete: ``ingest db migrate`` fixes it."""


class MigrationError(DatabaseError):
    """A migration cannot be applied, or an applied one was edited afterwards."""
