"""``pwr-dagster-webserver`` / ``pwr-dagster-daemon``: Dagster's own commands, with the code server
watched every 10 s instead of every second.

Why: the webserver and the daemon reach the code location through the long-lived code server
(gRPC, ``workspace.yaml``), and each runs Dagster's server watcher, which asks the code server for
its id every second over a new gRPC channel to notice a restarted server (then it reloads the
location). Measured here: 1.8 ms of client and 1.2 ms of server CPU per ask, so the two watchers
were ~0.6 % of one core on an otherwise idle stack — a fifth of issue 16's idle budget — for a
restart that happens at a deploy. Dagster offers no setting for the interval (``WATCH_INTERVAL``
in ``dagster._grpc.server_watcher``, read when a watch thread starts), so these entry points set
it and then hand over to Dagster's own command-line entry points unchanged; every argument is
Dagster's. ``test_dagster_watch.py`` fails if a Dagster upgrade moves the constant.
"""

from __future__ import annotations

# A restarted code server is noticed within this many seconds (and, when it stays unreachable,
# reported after ten times this); Dagster's default is 1.
CODE_SERVER_WATCH_INTERVAL_SECONDS = 10


def slow_code_server_watch() -> None:
    from dagster._grpc import server_watcher

    if not hasattr(server_watcher, "WATCH_INTERVAL"):
        raise RuntimeError(
            "dagster._grpc.server_watcher.WATCH_INTERVAL is gone: see runtime/dagster_watch.py"
        )
    server_watcher.WATCH_INTERVAL = CODE_SERVER_WATCH_INTERVAL_SECONDS


def webserver() -> None:
    slow_code_server_watch()
    from dagster_webserver.cli import main

    main()


def daemon() -> None:
    slow_code_server_watch()
    from dagster._daemon.cli import main

    main()
