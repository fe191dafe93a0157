"""Dota 2 league matches from OpenDota: the HTTP client, document checks, and landing in pwr_dota.

``client`` talks to the API (timeouts, retries, rate limit, response cache); ``documents`` decides
whether a document can be used; ``store`` writes raw documents, quarantine rows and player
links; ``refresh`` fetches a league's new matches; ``files`` reads saved API responses. The
modelled tables are built from the raw documents by the Dagster assets (sql/dota_*.sql).
"""
