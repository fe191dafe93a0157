"""digest/weekly_digest: a short summary of each finished ISO week, posted to Discord.

Partitioned like ``pwr_agg.member_engagement_weekly`` (the same weekly partitions) and downstream
of it. With ``PWR_DIGEST_WEBHOOK_URL`` set the text is posted once per week and edited on a
re-materialization (``transforms/digest.py``); unset, the run records the text in its metadata
and posts nothing, so the digest can be read in the Dagster UI before a webhook exists.

The schedule runs Monday 06:00 (PWR_TIMEZONE), after the nightly aggregates, for the week that
has just ended; a still-running week is never posted by the schedule.
"""

from datetime import date, datetime

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleEvaluationContext,
    asset,
    define_asset_job,
    schedule,
)

from pwr_platform.defs.keys import (
    ALL_EVENT_ATTENDANCE,
    EVENTS,
    MEMBER_ENGAGEMENT_WEEKLY,
    MEMBERS,
    WEEKLY_DIGEST,
)
from pwr_platform.defs.partitions import WEEKLY_PARTITIONS
from pwr_platform.defs.resources import WarehouseResource
from pwr_platform.defs.table_metadata import table_metadata
from pwr_platform.settings import PwrSettings, get_settings, secret_value
from pwr_platform.transforms import digest as digest_text


@asset(
    key=WEEKLY_DIGEST,
    group_name="digest",
    # the tables sql/weekly_digest.sql reads (event_windows is a view over events)
    deps=[MEMBER_ENGAGEMENT_WEEKLY, MEMBERS, EVENTS, ALL_EVENT_ATTENDANCE],
    partitions_def=WEEKLY_PARTITIONS,
    kinds={"discord", "postgres"},
    # its SQL file (code reference, lineage test) and the table that remembers each posted message
    metadata=table_metadata("pwr_core.digest_messages", sql=["weekly_digest"]),
    description=(
        "The week's summary (voice hours and active members vs the week before, top members, best "
        "event by attendance, new members) posted to PWR_DIGEST_WEBHOOK_URL once per week; a re-run "
        "edits that message. Unset webhook: the text is only recorded in the metadata. "
        "SQL: sql/weekly_digest.sql."
    ),
)
def weekly_digest(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Compute the partition's digest; post or edit its message when a webhook is configured."""
    week = date.fromisoformat(context.partition_key)
    settings = get_settings()
    # read at run time, not at load: the secret never enters the definitions or the UI
    url = secret_value(PwrSettings().digest_webhook_url)
    with warehouse.connect() as conn:
        digest = digest_text.weekly_digest(conn, week, settings.tz)
        text = digest.text(settings.tz)
        metadata = {
            "text": MetadataValue.md(text),
            "voice_hours": round(digest.voice_seconds / 3600, 1),
            "active_members": digest.active_members,
            "new_members": len(digest.new_members),
        }
        if url is None:
            context.log.info("PWR_DIGEST_WEBHOOK_URL is not set: the digest is recorded here, not posted")
            return MaterializeResult(metadata=metadata | {"posted": "no (PWR_DIGEST_WEBHOOK_URL unset)"})
        try:
            published = digest_text.publish(conn, url, settings.guild_id or 0, week, text)
        except digest_text.DigestError as exc:
            raise RuntimeError(f"weekly digest of {week}: {exc}") from None
    context.log.info(f"weekly digest of {week}: {published.action} (message {published.message_id})")
    return MaterializeResult(
        metadata=metadata | {"posted": published.action, "message_id": published.message_id}
    )


weekly_digest_job = define_asset_job(
    "weekly_digest_job",
    selection=AssetSelection.assets(WEEKLY_DIGEST),
    description="Post (or edit) the weekly digest of one finished ISO week.",
)


@schedule(
    job=weekly_digest_job,
    cron_schedule="0 6 * * 1",
    execution_timezone=get_settings().timezone,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Monday 06:00: the digest of the ISO week that has just ended.",
)
def weekly_digest_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    scheduled = context.scheduled_execution_time or datetime.now(get_settings().tz)
    week = digest_text.last_finished_week(scheduled.astimezone(get_settings().tz).date())
    return RunRequest(run_key=f"weekly_digest:{week}", partition_key=week.isoformat())
