"""Replay: from the snapshot store to the racing tables (placeholder while the stage is built)."""
