"""Run statuses the sensors treat as "a run is still on its way" (they do not request another)."""

from dagster import DagsterRunStatus

ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]
