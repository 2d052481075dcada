"""The schedules service as the app builds it: the backend, its clock and its scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from notebook_launcher.localservice.clock import Clock
from notebook_launcher.localservice.datascience.models import DataScience
from notebook_launcher.localservice.logging import models as logging_models
from notebook_launcher.localservice.rest import ServiceContext
from notebook_launcher.localservice.schedules.actions import build_actions
from notebook_launcher.localservice.schedules.models import Schedules
from notebook_launcher.localservice.schedules.scheduler import Scheduler


@dataclass(frozen=True)
class ScheduleService:
    """What the handlers call: the Schedules backend and the clock it runs on."""

    schedules: Schedules
    clock: Clock


def build(context: ServiceContext) -> ScheduleService:
    """The backend, with its scheduler registered as background work (started by the server
    once the executor has settled the runs a previous process left)."""
    datascience = DataScience(
        context.store, context.layout.artifacts, context.executor, logging_models.backend(context)
    )
    schedules = Schedules(context.store, datascience, build_actions(context))
    scheduler = Scheduler(schedules, context.clock)
    context.background.add(scheduler.start, scheduler.stop)
    return ScheduleService(schedules, context.clock)
