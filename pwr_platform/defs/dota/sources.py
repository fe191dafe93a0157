"""What ``pwr dota import`` / ``refresh`` / ``link`` write, observed (not materialized) by Dagster.

The raw match documents, the hero and league documents, and the player links come from the
command line (or the demo), so each is an observable source: the graph shows where the Dota
tables come from, and a new document changes the source's data version, which is what the
match assets' automation waits for.
"""

from dagster import AssetSpec, DataVersion, ObserveResult, multi_observable_source_asset

from pwr_platform.defs.keys import DOTA_PLAYER_LINKS, DOTA_RAW_MATCHES, DOTA_RAW_REFERENCES
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata

# table → (description, the query whose answer changes exactly when the table does)
SOURCES = {
    DOTA_RAW_MATCHES: (
        "Match documents from OpenDota (`pwr dota refresh`) or saved responses (`pwr dota import`), kept whole.",
        "SELECT count(*), max(ingest_xid)::text FROM pwr_dota.raw_matches",
    ),
    DOTA_RAW_REFERENCES: (
        "The newest /heroes and /leagues/{id} documents (hero and league names).",
        "SELECT count(*), max(fetched_at)::text FROM pwr_dota.raw_references",
    ),
    DOTA_PLAYER_LINKS: (
        "Steam account ↔ Discord member links (`pwr dota link`, `pwr dota links import`).",
        "SELECT count(*), max(linked_at)::text FROM pwr_dota.player_links",
    ),
}


@multi_observable_source_asset(
    specs=[
        AssetSpec(key, description=text, metadata=table_metadata(".".join(key.path)))
        for key, (text, _) in SOURCES.items()
    ],
    name="dota_sources",
)
def dota_sources(warehouse: WarehouseResource):
    with warehouse.connect() as conn:
        for key, (_, query) in SOURCES.items():
            rows, version = conn.execute(query).fetchone()
            yield ObserveResult(
                asset_key=key, data_version=DataVersion(f"{rows}:{version}"), metadata={"row_count": rows}
            )
