"""Dagster definitions grouped by warehouse layer (raw, core, agg) plus cross-cutting automation.

``BackfillPolicy`` (a backfill range as one run, which the daily / weekly / monthly aggregates'
and the attendance SQL is written for) is a beta parameter of ``@asset`` in Dagster 1.13; the
notice it prints on every code-location load is known and filtered here, for that parameter only.
Likewise ``multi_observable_source_asset`` (beta), used for the raw source asset because the
older ``observable_source_asset`` raises a deprecation warning inside Dagster 1.13 itself. And the
code references from each table asset to its SQL file (``CodeReferencesMetadataValue`` with
``LocalFileCodeReference``, beta classes) are what the UI's source link is made of.
"""

import warnings

from dagster import BetaWarning

warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
warnings.filterwarnings("ignore", message="Function `multi_observable_source_asset`", category=BetaWarning)
warnings.filterwarnings("ignore", message="Class `CodeReferencesMetadataValue`", category=BetaWarning)
warnings.filterwarnings("ignore", message="Class `LocalFileCodeReference`", category=BetaWarning)
