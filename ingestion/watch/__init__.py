"""``ingest watch``: keep the database current with nobody at the keyboard.

The schedule is pure (:mod:`ingestion.watch.schedule`); the loop is the shell (:mod:`ingestion.watch.loop`).
See docs/watch.md.
"""
