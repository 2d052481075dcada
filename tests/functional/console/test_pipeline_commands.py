"""invoke → wait → runs for a pipeline launch through the command-line tool, on the session's
local service with real notebooks executing in every step."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from notebook_launcher.console.errors import ExitCode
from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.console.conftest import Cli


def pipeline_body(notebooks: Path, *, fail_last: bool = False) -> dict[str, object]:
    job = f"cli-pipe-{uuid.uuid4().hex[:8]}"
    hello = str(notebooks / "hello.ipynb")
    last = str(notebooks / ("fails.ipynb" if fail_last else "hello.ipynb"))
    return {
        "name": job,
        "steps": [
            {"name": "first", "noteBook": hello, "jobName": job},
            {
                "name": "fan",
                "noteBook": hello,
                "jobName": job,
                "dependsOn": ["first"],
                "forEach": [{"region": "apac"}, {"region": "emea"}],
            },
            {"name": "last", "noteBook": last, "jobName": f"{job}-last", "dependsOn": ["fan"]},
        ],
    }


def invoke_pipeline(cli: Cli, tmp_path: Path, body: dict[str, object]) -> dict[str, object]:
    request = tmp_path / "pipeline.json"
    request.write_text(json.dumps(body))
    invoked = cli("invoke", str(request))
    assert invoked.exit_code == 0, invoked.output
    answer: dict[str, object] = json.loads(invoked.stdout)
    assert str(answer["pipelineRunId"]).startswith("ocid1.datasciencepipelinerun.")
    assert f"wait {answer['pipelineRunId']}" in invoked.stderr
    return answer


def test_wait_follows_a_pipeline_run_to_its_end_and_runs_lists_it(
    cli: Cli, service: EmbeddedService, notebooks: Path, tmp_path: Path
) -> None:
    answer = invoke_pipeline(cli, tmp_path, pipeline_body(notebooks))
    run_id = str(answer["pipelineRunId"])
    waited = cli("wait", run_id, "--interval", "0.2", "--timeout", "120")
    assert waited.exit_code == 0, waited.output
    # Not on a terminal, the live view is one line per change of a step's (or the run's) state;
    # which intermediate states a poll sees depends on the machine's load, the end does not.
    progress = waited.stderr.splitlines()
    assert "(run): SUCCEEDED" in progress
    for step in ("first", "fan-apac", "fan-emea", "last"):
        assert f"{step}: SUCCEEDED" in progress, progress
    # What the service recorded: each step waited, then succeeded, and the fan-out left
    # WAITING only after the first step had succeeded.
    recorded = service.transitions(run_id)
    assert [state for step, state in recorded if step is None][-1] == "SUCCEEDED", recorded
    for step in ("first", "fan-apac", "fan-emea", "last"):
        states = [state for name, state in recorded if name == step]
        assert states[0] == "WAITING" and states[-1] == "SUCCEEDED", recorded
    first_done = recorded.index(("first", "SUCCEEDED"))
    fan_started = next(i for i, (name, state) in enumerate(recorded)
                       if name == "fan-apac" and state != "WAITING")  # fmt: skip
    assert first_done < fan_started, recorded
    # The final table on stdout: the run's name and state, then each step.
    assert f"{answer['runName']}  SUCCEEDED" in waited.stdout.splitlines()[0]
    for step in ("first", "fan-apac", "fan-emea", "last"):
        assert step in waited.stdout
    listed = cli("runs", "--limit", "50")
    assert listed.exit_code == 0, listed.output
    assert run_id in listed.stdout


def test_wait_exits_1_when_a_step_fails_and_names_the_rerun(
    cli: Cli, notebooks: Path, tmp_path: Path
) -> None:
    answer = invoke_pipeline(cli, tmp_path, pipeline_body(notebooks, fail_last=True))
    run_id = str(answer["pipelineRunId"])
    waited = cli("wait", run_id, "--interval", "0.2", "--timeout", "120")
    assert waited.exit_code == ExitCode.FAILED, waited.output
    progress = waited.stderr.splitlines()
    assert "last: FAILED" in progress and "(run): FAILED" in progress
    assert "fan-emea: SUCCEEDED" in progress
    assert "steps that did not succeed: last" in waited.stderr
    assert f'{{"action": "rerun", "id": "{run_id}"}}' in waited.stderr
