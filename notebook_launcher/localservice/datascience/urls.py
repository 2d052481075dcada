"""The Data Science operations (API 20190101): each declared once, routed and named here."""

from __future__ import annotations

from notebook_launcher.localservice.datascience import responses as r
from notebook_launcher.localservice.datascience.models import DataScience
from notebook_launcher.localservice.logging import models as logging_models
from notebook_launcher.localservice.rest import Operation, ServiceContext, ServiceSpec

API = "/20190101"

OPERATIONS: tuple[Operation[DataScience], ...] = (
    Operation("CreateProject", "POST", f"{API}/projects", r.create_project),
    Operation("ListProjects", "GET", f"{API}/projects", r.list_projects),
    Operation("GetProject", "GET", f"{API}/projects/{{projectId}}", r.get_project),
    Operation("UpdateProject", "PUT", f"{API}/projects/{{projectId}}", r.update_project),
    Operation("DeleteProject", "DELETE", f"{API}/projects/{{projectId}}", r.delete_project),
    Operation("CreateJob", "POST", f"{API}/jobs", r.create_job),
    Operation("ListJobs", "GET", f"{API}/jobs", r.list_jobs),
    Operation("GetJob", "GET", f"{API}/jobs/{{jobId}}", r.get_job),
    Operation("UpdateJob", "PUT", f"{API}/jobs/{{jobId}}", r.update_job),
    Operation("DeleteJob", "DELETE", f"{API}/jobs/{{jobId}}", r.delete_job),
    Operation("CreateJobArtifact", "POST", f"{API}/jobs/{{jobId}}/artifact", r.create_job_artifact),
    Operation(
        "HeadJobArtifact", "HEAD", f"{API}/jobs/{{jobId}}/artifact/content", r.head_job_artifact
    ),
    Operation(
        "GetJobArtifactContent",
        "GET",
        f"{API}/jobs/{{jobId}}/artifact/content",
        r.get_job_artifact_content,
    ),
    Operation("CreateJobRun", "POST", f"{API}/jobRuns", r.create_job_run),
    Operation("ListJobRuns", "GET", f"{API}/jobRuns", r.list_job_runs),
    Operation("GetJobRun", "GET", f"{API}/jobRuns/{{jobRunId}}", r.get_job_run),
    Operation("UpdateJobRun", "PUT", f"{API}/jobRuns/{{jobRunId}}", r.update_job_run),
    Operation("DeleteJobRun", "DELETE", f"{API}/jobRuns/{{jobRunId}}", r.delete_job_run),
    Operation(
        "CancelJobRun", "POST", f"{API}/jobRuns/{{jobRunId}}/actions/cancelJobRun", r.cancel_job_run
    ),
    Operation("ListJobShapes", "GET", f"{API}/jobShapes", r.list_job_shapes),
    Operation(
        "ListFastLaunchJobConfigs",
        "GET",
        f"{API}/fastLaunchJobConfigs",
        r.list_fast_launch_job_configs,
    ),
    Operation("ListWorkRequests", "GET", f"{API}/workRequests", r.list_work_requests),
    Operation("GetWorkRequest", "GET", f"{API}/workRequests/{{workRequestId}}", r.get_work_request),
    Operation(
        "ListWorkRequestErrors",
        "GET",
        f"{API}/workRequests/{{workRequestId}}/errors",
        r.list_work_request_errors,
    ),
    Operation(
        "ListWorkRequestLogs",
        "GET",
        f"{API}/workRequests/{{workRequestId}}/logs",
        r.list_work_request_logs,
    ),
)


def _backend(context: ServiceContext) -> DataScience:
    logs = logging_models.backend(context)
    return DataScience(context.store, context.layout.artifacts, context.executor, logs)


SERVICE = ServiceSpec("datascience", OPERATIONS, _backend)
