"""Member Profile and Event detail: two dashboard tables and the labels and links the drill-downs use.

Revision ID: 0010_drilldowns
Revises: 0009_dashboard_periods
Create Date: 2026-12-02

* ``pwr_agg.event_rsvp`` — per completed Discord scheduled event: "interested" (Discord's RSVP
  count, from the raw scheduled-event records, which the read-only role cannot read) against the
  members who actually attended. Refreshed wholesale by its asset (``sql/event_rsvp.sql``).
* ``pwr_agg.member_voice_habits`` — per member, local week, channel and local hour of day: the
  sessions started there and their seconds. A member's favourite channels and hours are a few
  rows of it instead of a scan of their sessions (``sql/member_voice_habits.sql``).
* Labels: one member or event is picked on a dashboard by a text value, so it must be unique and
  the same in every dataset. ``member_label`` is the display name with the (unique) Discord
  username; ``event_label`` the event's name with its id (event names repeat: "Scrim vs …").
* ``engagement_level`` — the weekly level (Core / Regular / Casual) that the Member Engagement
  dataset spells out as a CASE, as a function the Member Profile uses too.
* Links: ``member_profile_link`` / ``event_detail_link`` return an HTML ``<a>`` to the Member
  Profile / Event detail dashboard with its native filter preset through the ``native_filters``
  URL parameter (rison, percent-encoded). Table charts elsewhere show them as a column (Superset
  renders HTML in table cells), so a row opens the drill-down for its member or event.
  Functions run with the caller's rights (the read-only role can read ``pwr_core.members`` /
  ``events``); ``EXECUTE`` is PUBLIC by default.
"""

from alembic import op

revision = "0010_drilldowns"
down_revision = "0009_dashboard_periods"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE pwr_agg.event_rsvp (
    event_id         BIGINT      PRIMARY KEY,
    name             TEXT        NOT NULL,
    event_type       TEXT,
    window_start_ts  TIMESTAMPTZ NOT NULL,
    interested       INTEGER,
    attendees        INTEGER     NOT NULL,
    conversion_rate  NUMERIC
);
COMMENT ON TABLE pwr_agg.event_rsvp IS
    'Per completed Discord scheduled event: interested (RSVP) count vs members who attended.';
CREATE INDEX event_rsvp_window ON pwr_agg.event_rsvp (window_start_ts);

CREATE TABLE pwr_agg.member_voice_habits (
    member_id          BIGINT   NOT NULL REFERENCES pwr_core.members (member_id),
    week_start_date    DATE     NOT NULL,
    discord_channel_id BIGINT   NOT NULL,
    hour_of_day        SMALLINT NOT NULL CHECK (hour_of_day BETWEEN 0 AND 23),
    sessions           INTEGER  NOT NULL,
    voice_seconds      BIGINT   NOT NULL,
    PRIMARY KEY (member_id, week_start_date, discord_channel_id, hour_of_day)
);
COMMENT ON TABLE pwr_agg.member_voice_habits IS
    'Completed sessions per member, local week and hour of start (PWR_TIMEZONE) and channel.';

CREATE FUNCTION pwr_agg.member_label(display_name TEXT, username TEXT, member_id BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(display_name, username, 'member ' || member_id)
           || CASE WHEN display_name IS NOT NULL AND username IS NOT NULL THEN ' (@' || username || ')' ELSE '' END
$$;
COMMENT ON FUNCTION pwr_agg.member_label(TEXT, TEXT, BIGINT) IS
    'How dashboards name a member: display name (@username), unique per member.';

CREATE FUNCTION pwr_agg.event_label(name TEXT, event_id BIGINT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT name || ' #' || event_id
$$;
COMMENT ON FUNCTION pwr_agg.event_label(TEXT, BIGINT) IS
    'How dashboards name an event: its name and id (names repeat).';

-- A member's engagement level in a week (the Member Engagement dashboard's rule, in one place).
CREATE FUNCTION pwr_agg.engagement_level(voice_seconds BIGINT, events_attended INTEGER) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN voice_seconds >= 36000 OR events_attended >= 3 THEN 'Core'
                WHEN voice_seconds >= 10800 OR events_attended >= 1 THEN 'Regular'
                ELSE 'Casual' END
$$;
COMMENT ON FUNCTION pwr_agg.engagement_level(BIGINT, INTEGER) IS
    'Weekly engagement level: Core (10 h or 3 events), Regular (3 h or 1 event), else Casual.';

-- Percent-encoding: every character but [A-Za-z0-9_.~-] (RFC 3986 unreserved) becomes percent + hex
-- of each of its UTF-8 bytes. chr(37) is the percent sign (a literal one would be a driver placeholder).
CREATE FUNCTION pwr_agg.url_encode(value TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(string_agg(
               CASE WHEN c ~ '^[A-Za-z0-9_.~-]$' THEN c
                    ELSE upper(regexp_replace(encode(convert_to(c, 'UTF8'), 'hex'), '(..)', chr(37) || '\1', 'g')) END,
               '' ORDER BY n), '')
    FROM regexp_split_to_table(value, '') WITH ORDINALITY AS t(c, n)
$$;

CREATE FUNCTION pwr_agg.html_escape(value TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT replace(replace(replace(replace(replace(value, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
                                   '"', '&quot;'), '''', '&#39;')
$$;

-- <a> to a dashboard with one select filter preset: ?native_filters=(<id>:(extraFormData:…,filterState:…)).
-- Rison strings are quoted with ' and escape ' and ! with !.
CREATE FUNCTION pwr_agg.dashboard_filter_link(slug TEXT, filter_id TEXT, column_name TEXT, value TEXT, text TEXT)
RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH v AS (SELECT '''' || replace(replace(value, '!', '!!'), '''', '!''') || '''' AS rison)
    SELECT '<a href="/superset/dashboard/' || slug || '/?native_filters='
           || pwr_agg.url_encode('(' || filter_id || ':(extraFormData:(filters:!((col:' || column_name
                                 || ',op:IN,val:!(' || v.rison || ')))),filterState:(value:!(' || v.rison
                                 || ')),id:' || filter_id || ',ownState:()))')
           || '">' || pwr_agg.html_escape(text) || '</a>'
    FROM v
$$;

CREATE FUNCTION pwr_agg.member_profile_link(member_id BIGINT) RETURNS TEXT
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pwr_agg.dashboard_filter_link(
               'member-profile', 'NATIVE_FILTER-member_profile-member', 'member_label',
               pwr_agg.member_label(m.display_name, m.username, m.member_id),
               coalesce(m.display_name, m.username, 'member ' || m.member_id))
    FROM pwr_core.members m WHERE m.member_id = member_profile_link.member_id
$$;
COMMENT ON FUNCTION pwr_agg.member_profile_link(BIGINT) IS
    'HTML link to the Member Profile dashboard with this member selected.';

CREATE FUNCTION pwr_agg.event_detail_link(event_id BIGINT) RETURNS TEXT
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pwr_agg.dashboard_filter_link(
               'event-detail', 'NATIVE_FILTER-event_detail-event', 'event_label',
               pwr_agg.event_label(e.name, e.event_id), e.name)
    FROM pwr_core.events e WHERE e.event_id = event_detail_link.event_id
$$;
COMMENT ON FUNCTION pwr_agg.event_detail_link(BIGINT) IS
    'HTML link to the Event detail dashboard with this event selected.';
"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS pwr_agg.event_detail_link(BIGINT);
DROP FUNCTION IF EXISTS pwr_agg.member_profile_link(BIGINT);
DROP FUNCTION IF EXISTS pwr_agg.dashboard_filter_link(TEXT, TEXT, TEXT, TEXT, TEXT);
DROP FUNCTION IF EXISTS pwr_agg.html_escape(TEXT);
DROP FUNCTION IF EXISTS pwr_agg.url_encode(TEXT);
DROP FUNCTION IF EXISTS pwr_agg.engagement_level(BIGINT, INTEGER);
DROP FUNCTION IF EXISTS pwr_agg.event_label(TEXT, BIGINT);
DROP FUNCTION IF EXISTS pwr_agg.member_label(TEXT, TEXT, BIGINT);
DROP TABLE IF EXISTS pwr_agg.member_voice_habits;
DROP TABLE IF EXISTS pwr_agg.event_rsvp;
"""


def upgrade() -> None:
    op.get_bind().exec_driver_sql(UPGRADE)


def downgrade() -> None:
    op.get_bind().exec_driver_sql(DOWNGRADE)
