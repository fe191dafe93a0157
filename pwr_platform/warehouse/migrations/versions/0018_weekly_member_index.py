"""``member_engagement_weekly``'s member index on ``member_id`` alone.

Revision ID: 0018_weekly_member_index
Revises: 0017_transform_read_snapshot
Create Date: 2026-12-07

Every read of the weekly table by member reads all of that member's weeks: ``/me`` sums them
(``sql/bot_commands.sql``), the member profile charts them; reads by week go through the primary
key ``(week_start_date, member_id)``. The second column of ``(member_id, week_start_date)`` served
no query. On ``member_id`` alone PostgreSQL stores each member's entries as one deduplicated
posting list: at 5,000 members × 105 weeks the index is 3.6 MB instead of 16 MB, and a
whole-table rebuild, which builds it again after its INSERT (``defs/agg/windows.py``), builds it
in ~0.3 s instead of ~0.38 s on the benchmark machine (issue 16, ninth round, bench/README.md).
The daily table keeps ``(member_id, activity_date)``: a member's recent days are read by range
there.
"""

from alembic import op

revision = "0018_weekly_member_index"
down_revision = "0017_transform_read_snapshot"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX pwr_agg.member_engagement_weekly_member")
    op.execute("CREATE INDEX member_engagement_weekly_member ON pwr_agg.member_engagement_weekly (member_id)")


def downgrade() -> None:
    op.execute("DROP INDEX pwr_agg.member_engagement_weekly_member")
    op.execute(
        "CREATE INDEX member_engagement_weekly_member ON pwr_agg.member_engagement_weekly"
        " (member_id, week_start_date)"
    )
