"""Every action of the function, dispatched from one place.

A parsed request (a single launch, a schedule action, a pipeline launch, or an action on a
pipeline run) goes to the module that carries it out: `launcher` (launch, status, cancel),
`schedules` (the schedule actions) or `pipeline_launcher` (pipelines and their runs). Each
answers in the types of `answers`, so none of them imports this module or another's answer.
"""

from __future__ import annotations

from notebook_launcher.function.answers import Outcome
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.launcher import Launcher
from notebook_launcher.function.pipeline_launcher import PipelineLauncher
from notebook_launcher.function.pipeline_request import AnyRequest, PipelineRunAction
from notebook_launcher.function.request import LaunchRequest
from notebook_launcher.function.schedules import Schedules


def dispatch(
    request: AnyRequest, launcher: Launcher, deadline: Deadline, key: str | None
) -> Outcome:
    """Carry out request with launcher's settings, edge and Data Science port."""
    if isinstance(request, LaunchRequest):
        return _launch_action(request, launcher, deadline, key)
    pipelines = PipelineLauncher(launcher.settings, launcher.edge)
    if not isinstance(request, PipelineRunAction):
        return pipelines.launch(request, deadline, key)
    if request.kind == "status":
        return pipelines.status(request.id, deadline)
    if request.kind == "cancel":
        return pipelines.cancel(request.id, deadline)
    return pipelines.rerun(request.id, key, deadline)


def _launch_action(
    request: LaunchRequest, launcher: Launcher, deadline: Deadline, key: str | None
) -> Outcome:
    action = request.action
    if action == "launch":
        return launcher.launch(request, deadline, key)
    if action == "schedule":
        return Schedules(launcher).create(request, deadline, key)
    if action == "schedules":
        return Schedules(launcher).list(request, deadline)
    assert request.id  # every other action names its run or schedule (request.py checks it)
    if action == "status":
        return launcher.status(request.id, deadline)
    if action == "cancel":
        return launcher.cancel(request.id, deadline)
    if action == "schedule-pause":
        return Schedules(launcher).set_active(request.id, False, deadline, key)
    if action == "schedule-resume":
        return Schedules(launcher).set_active(request.id, True, deadline, key)
    if action == "schedule-delete":
        return Schedules(launcher).delete(request.id, deadline)
    assert action == "schedule-show", action
    return Schedules(launcher).show(request.id, deadline)
