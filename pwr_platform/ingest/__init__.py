"""Ingestion: every path into ``pwr_raw`` (collector bot, log backfill, simulator) ends in one writer.

- :mod:`records` — the plain record types and the voice-record validation every path shares;
- :mod:`writer` — batches records into PostgreSQL idempotently, spooling when it is unreachable;
- :mod:`spool` — the append-only, fsynced local spool the writer falls back to;
- :mod:`logs` — streaming parsers for Loki ``query_range`` JSON and JSON-lines files;
- :mod:`simulator` — a deterministic synthetic community (demo data and benchmark load);
- :mod:`bot` — the discord.py collector, one listener module per kind of Discord event.
"""
