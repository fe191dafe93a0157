"""pwr_agg layer: daily / weekly / monthly aggregates and the dashboard tables.

``BackfillPolicy`` (a backfill range as one run, which these assets' SQL is written for) is a
beta parameter of ``@asset`` in Dagster 1.13; the notice it prints on every code-location load
is known and filtered here, for that parameter only.
"""

import warnings

from dagster import BetaWarning

warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)
