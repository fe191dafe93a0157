"""The scheduled ``pwr dota refresh``: new matches of ``PWR_DOTA_LEAGUE_IDS`` fetched every six hours.

The same code as the command (``ingest/dota/refresh.py``: only matches neither stored nor
quarantined are fetched, through the rate-limited, cached client), run as a Dagster job so a
league follows itself with the daemon up. The op reports a materialization of the raw tables it
wrote, which is what the Dota tables' eager condition (``policy.py``, ``dota_automation``) parses
them on. Without league ids the schedule skips, saying why; the job never runs for nothing.
"""

from dagster import (
    AssetMaterialization,
    DefaultScheduleStatus,
    OpExecutionContext,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    job,
    op,
    schedule,
)

from pwr_platform.defs.keys import DOTA_RAW_MATCHES, DOTA_RAW_REFERENCES
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.settings import get_settings, secret_value


@op(description="Fetch the configured leagues' matches that are not stored yet (pwr dota refresh).")
def fetch_new_dota_matches(context: OpExecutionContext, warehouse: WarehouseResource):
    settings = get_settings()
    if not settings.dota_league_ids:
        context.log.info("PWR_DOTA_LEAGUE_IDS is not set: no league to fetch")
        return
    # imported here: the HTTP client (requests, ~0.1 CPU-s) is not loaded by every run worker
    # and sensor evaluation that imports the code location (issue 16)
    from pwr_platform.ingest.dota.client import OpenDotaClient
    from pwr_platform.ingest.dota.refresh import refresh_leagues

    client = OpenDotaClient(
        settings.opendota_url,
        cache_dir=settings.opendota_cache_dir,
        api_key=secret_value(settings.opendota_api_key),
        requests_per_minute=settings.opendota_requests_per_minute,
    )
    try:
        with warehouse.connect() as conn:
            result = refresh_leagues(conn, client, settings.dota_league_ids, log=context.log.info)
    finally:
        client.close()
    for line in result.quarantined[:20]:
        context.log.warning(f"quarantined: {line}")
    figures = {**result.as_metadata(), "requests": client.requests_made}
    for key in (DOTA_RAW_MATCHES, DOTA_RAW_REFERENCES):
        context.log_event(
            AssetMaterialization(asset_key=key, description="dota_refresh_job", metadata=figures)
        )


@job(description="pwr dota refresh, in Dagster: the new matches of PWR_DOTA_LEAGUE_IDS.")
def dota_refresh_job():
    fetch_new_dota_matches()


@schedule(
    name="dota_refresh_schedule",
    job=dota_refresh_job,
    cron_schedule="20 */6 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every six hours: fetch the new matches of PWR_DOTA_LEAGUE_IDS (skips when unset).",
)
def dota_refresh_schedule(context: ScheduleEvaluationContext):
    if not get_settings().dota_league_ids:
        return SkipReason("PWR_DOTA_LEAGUE_IDS is not set: no league to fetch")
    return RunRequest(run_key=None)
