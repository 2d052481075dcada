"""Launch, reuse, idempotency, parameters, status and cancel, end to end on the local service."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from notebook_launcher.localservice.datascience.urls import OPERATIONS
from tests.functional.function.conftest import EXAMPLES, FunctionUnderTest, count_runs, notebook

DATASCIENCE_OPERATIONS = frozenset(op.name for op in OPERATIONS)


def datascience_calls(stats: dict[str, int]) -> dict[str, int]:
    """The Data Science operations among the service's statistics (runs still executing may
    write to Object Storage meanwhile)."""
    return {op: n for op, n in stats.items() if op in DATASCIENCE_OPERATIONS and n}


def unique_job() -> str:
    return f"job-{uuid.uuid4().hex[:8]}"


def test_launch_runs_to_succeeded_with_typed_parameters(fn: FunctionUnderTest) -> None:
    params = {
        "text": 'quote " back\\ ünï',
        "count": 7,
        "ratio": 2.5,
        "enabled": True,
        "missing": None,
        "items": [1, "two"],
        "config": {"k": {"n": [1]}},
    }
    answer = fn.launch(
        {"noteBook": notebook("typed_params.ipynb"), "jobName": unique_job(), "parameters": params}
    )
    assert answer["id"].startswith("ocid1.datasciencejobrun.")
    assert answer["jobId"].startswith("ocid1.datasciencejob.")
    assert answer["lifecycleState"] == "ACCEPTED" and answer["jobReused"] is False
    assert answer["outputUri"].endswith("/" + answer["id"])
    assert answer["pollUrl"] == f"{fn.service.endpoint}/20190101/jobRuns/{answer['id']}"

    run = fn.wait(answer["id"])
    assert run.lifecycle_state == "SUCCEEDED", run.lifecycle_details
    result = json.loads(fn.output_file(answer["outputUri"], "result.json").read_text())
    assert result == {
        name: [type(v).__name__ if v is not None else "NoneType", v] for name, v in params.items()
    }
    executed = json.loads(fn.output_file(answer["outputUri"], "typed_params.ipynb").read_text())
    injected = [
        c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    texts = [o.get("text", "") for o in injected[0]["outputs"]]
    shown = "".join("".join(t) if isinstance(t, list) else t for t in texts)
    assert "count = 7" in shown and "enabled = True" in shown


def test_reuse_second_launch_is_a_single_create_job_run(fn: FunctionUnderTest) -> None:
    body = {"noteBook": notebook("typed_params.ipynb"), "jobName": unique_job()}
    first = fn.launch({**body, "parameters": {"count": 1}})
    fn.service.reset_stats()
    second = fn.launch({**body, "parameters": {"count": 2}})
    stats = fn.service.stats()
    assert second["jobId"] == first["jobId"] and second["jobReused"] is True
    # The warm instance remembers the job it created: no ListJobs, one Data Science call.
    assert datascience_calls(stats) == {"CreateJobRun": 1}, stats
    assert fn.wait(second["id"]).lifecycle_state == "SUCCEEDED"


def test_a_job_deleted_between_two_warm_launches_is_looked_up_again(fn: FunctionUnderTest) -> None:
    body = {"noteBook": notebook("typed_params.ipynb"), "jobName": unique_job()}
    first = fn.launch(body)
    fn.wait(first["id"])
    fn.service.datascience_client().delete_job(first["jobId"], delete_related_job_runs=True)
    fn.service.reset_stats()
    second = fn.launch(body)
    stats = datascience_calls(fn.service.stats())
    # CreateJobRun on the remembered job is refused; the lookup finds no ACTIVE job: a new one
    # (its first CreateJob replays the deleted job by retry token, the second makes the job).
    assert second["jobId"] != first["jobId"] and second["jobReused"] is False
    assert (stats["CreateJobRun"], stats["ListJobs"], stats["CreateJob"]) == (2, 1, 2), stats
    fn.service.reset_stats()
    third = fn.launch(body)
    assert third["jobId"] == second["jobId"]
    assert datascience_calls(fn.service.stats()) == {"CreateJobRun": 1}


def test_create_path_uses_at_most_four_calls(fn: FunctionUnderTest) -> None:
    fn.service.reset_stats()
    fn.launch({"noteBook": notebook("typed_params.ipynb"), "jobName": unique_job()})
    stats = fn.service.stats()
    assert stats.get("CreateJob") == 1 and stats.get("CreateJobArtifact") == 1
    assert sum(stats.values()) <= 4, stats


def test_same_idempotency_key_gives_the_same_run(fn: FunctionUnderTest, project_id: str) -> None:
    key = f"key-{uuid.uuid4().hex}"
    body = {
        "noteBook": notebook("typed_params.ipynb"),
        "jobName": unique_job(),
        "idempotencyKey": key,
        "parameters": {"count": 3},
    }
    first = fn.launch(body)
    second = fn.launch(body)
    third = fn.launch(
        {k: v for k, v in body.items() if k != "idempotencyKey"}, headers={"idempotency-key": key}
    )
    assert first["id"] == second["id"] == third["id"]
    compartment = fn.config["NL_COMPARTMENT_ID"]
    assert count_runs(fn.service, compartment, first["jobId"]) == 1


def test_key_reused_with_a_different_request_is_a_conflict(fn: FunctionUnderTest) -> None:
    key = f"key-{uuid.uuid4().hex}"
    body = {
        "noteBook": notebook("typed_params.ipynb"),
        "jobName": unique_job(),
        "idempotencyKey": key,
    }
    fn.launch({**body, "parameters": {"count": 1}})
    status, answer = fn.invoke({**body, "parameters": {"count": 2}}, gateway=True)
    assert status == 409, answer
    assert "idempotencyKey" in answer["error"]["message"]


def test_job_id_runs_that_job(fn: FunctionUnderTest) -> None:
    first = fn.launch({"noteBook": notebook("typed_params.ipynb"), "jobName": unique_job()})
    fn.service.reset_stats()
    dry = fn.launch({"jobId": first["jobId"], "parameters": {"count": 9}, "dryRun": True})
    assert dry["dryRun"] is True and dry["job"]["id"] == first["jobId"]
    assert not fn.service.stats().get("CreateJobRun")  # a dry run creates nothing
    again = fn.launch({"jobId": first["jobId"], "parameters": {"count": 9}})
    assert again["jobId"] == first["jobId"] and again["id"] != first["id"]
    assert again["jobReused"] is True
    assert fn.service.stats().get("CreateJobRun") == 1
    assert fn.wait(again["id"]).lifecycle_state == "SUCCEEDED"


def test_no_parameters_cell_warns_in_the_run_log(fn: FunctionUnderTest) -> None:
    answer = fn.launch(
        {
            "noteBook": notebook("no_params_cell.ipynb"),
            "jobName": unique_job(),
            "parameters": {"value": 41},
        }
    )
    assert fn.wait(answer["id"]).lifecycle_state == "SUCCEEDED"
    log = fn.service.logs(answer["id"])
    assert "value is 41" in log and "no cell tagged 'parameters'" in log


def test_status_and_cancel_actions(fn: FunctionUnderTest) -> None:
    answer = fn.launch({"noteBook": notebook("typed_params.ipynb"), "jobName": unique_job()})
    status, brief = fn.invoke({"action": "status", "id": answer["id"]})
    assert status == 200 and brief["id"] == answer["id"]
    assert brief["lifecycleState"] in {"ACCEPTED", "IN_PROGRESS", "SUCCEEDED"}
    status, cancelled = fn.invoke({"action": "cancel", "id": answer["id"]})
    if status == 200:
        assert cancelled["lifecycleState"] in {"CANCELING", "CANCELED"}
        assert fn.wait(answer["id"]).lifecycle_state == "CANCELED"
    else:  # it finished before the cancel arrived
        assert cancelled["error"]["code"] == "Conflict"
    status, again = fn.invoke({"action": "cancel", "id": answer["id"]}, gateway=True)
    assert status == 409 and again["error"]["code"] == "Conflict"


def test_unknown_run_is_404_through_gateway(fn: FunctionUnderTest) -> None:
    status, answer = fn.invoke(
        {"action": "status", "id": "ocid1.datasciencejobrun.oc1.iad.doesnotexist"}, gateway=True
    )
    assert status == 404 and answer["error"]["code"] == "NotFound"
    assert answer["error"]["opcRequestId"]


def test_invalid_request_creates_and_fetches_nothing(fn: FunctionUnderTest) -> None:
    fn.service.reset_stats()
    status, answer = fn.invoke(
        {
            "noteBook": notebook("typed_params.ipynb"),
            "shape": "VM.Standard2.1",
            "ocpus": 4,
            "bogus": True,
        }
    )
    assert status == 200 and answer["error"]["code"] == "InvalidRequest" and "id" not in answer
    assert sum(fn.service.stats().values()) == 0


def test_dry_run_returns_the_ads_definition_and_creates_nothing(fn: FunctionUnderTest) -> None:
    fn.service.reset_stats()
    answer = fn.launch(
        {
            "noteBook": notebook("typed_params.ipynb"),
            "jobName": "dry",
            "dryRun": True,
            "shape": "VM.Standard2.1",
            "condaEnv": "myslug_v1",
        }
    )
    assert answer["dryRun"] is True
    spec = answer["job"]["spec"]
    assert spec["infrastructure"]["spec"]["shapeName"] == "VM.Standard2.1"
    assert spec["runtime"]["spec"]["conda"] == {"type": "service", "slug": "myslug_v1"}
    assert sum(fn.service.stats().values()) == 0


def test_oci_notebook_fetched_through_object_storage(fn: FunctionUnderTest) -> None:
    namespace = fn.config["NL_OUTPUT_FOLDER"].split("@")[1].split("/")[0]
    target = Path(fn.service.object_path(namespace, "notebooks", "team/typed.ipynb"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(Path(notebook("typed_params.ipynb")).read_bytes())
    answer = fn.launch(
        {"noteBook": f"oci://notebooks@{namespace}/team/typed.ipynb", "jobName": unique_job()}
    )
    assert fn.wait(answer["id"]).lifecycle_state == "SUCCEEDED"
    status, missing = fn.invoke({"noteBook": f"oci://notebooks@{namespace}/nope.ipynb"})
    assert status == 200 and missing["error"]["code"] == "NotebookFetchFailed"


def test_example_request_runs(fn: FunctionUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES.parent)
    body: dict[str, Any] = json.loads((EXAMPLES / "launch.json").read_text())
    body["jobName"] = unique_job()
    answer = fn.launch(body)
    assert fn.wait(answer["id"]).lifecycle_state == "SUCCEEDED"
    summary = json.loads(fn.output_file(answer["outputUri"], "summary.json").read_text())
    assert summary["region"] == "apac" and summary["months"] == 6
