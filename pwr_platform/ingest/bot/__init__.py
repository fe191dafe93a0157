"""The collector bot (``pwr bot``): discord.py listeners → plain records → the writer queue.

One module per kind of Discord event, as in python-discord/metricity: ``voice`` (joins, leaves,
moves), ``scheduled_events`` (create / update / delete), ``members`` (join, leave, names),
``startup_sync`` (the reconciliation on every ``on_ready``) and ``heartbeat``. Each module holds
its listener cog and the pure function that turns discord.py objects into records, so the
conversion is tested with real discord.py objects and no network.
"""
