"""The request body: a pydantic model, plus the checks that span fields or need settings.

`parse_request` reports every problem at once, each naming its field, and never echoes a
submitted value (it may be a secret).
"""

from __future__ import annotations

import json
import keyword
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from notebook_launcher.artifact.run_report_writer import PARAMETERS_ENV
from notebook_launcher.function.errors import FieldProblem, InvalidRequestError
from notebook_launcher.function.notebook_source import is_source, notebook_path_problem
from notebook_launcher.function.oci_names import OCI_URI_RE, SHAPE_RE, is_conda_env, ocid_problem
from notebook_launcher.function.schedule_request import (
    SCHEDULE_ID_ACTIONS,
    ScheduleSpec,
    schedule_problems,
)
from notebook_launcher.function.settings import Settings
from notebook_launcher.oci_facts.limits import (
    MAX_ENVIRONMENT_CHARS,
    MAX_TAG_VALUE_CHARS,
    MAX_TAGS,
    tag_problem,
)

# OCI's documented limits (Data Science jobs); tag and environment limits are in oci_facts.limits.
MAX_NAME_CHARS = 255
MIN_BLOCK_STORAGE_GBS = 50
MAX_BLOCK_STORAGE_GBS = 10_240
MAX_RUNTIME_MINUTES = 43_200  # 30 days
MAX_RETRY_TOKEN_CHARS = 64

# Used with fullmatch: `$` would let a trailing newline through.
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
RETRY_TOKEN_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_EXCLUDE_TAGS = 1_000  # beyond the environment budget anyway; refused before it is counted

# Environment variables the launcher and ADS's notebook driver own.
EXCLUDE_TAGS_ENV = "NOTEBOOK_EXCLUDE_TAGS"  # ADS's driver reads excludeTags from it (JSON)
RESERVED_ENV = frozenset(
    {
        "JOB_RUN_ENTRYPOINT",
        "JOB_RUN_NOTEBOOK",
        "NOTEBOOK_ENCODING",
        EXCLUDE_TAGS_ENV,
        "OUTPUT_URI",
        "OUTPUT_DIR",
        "CONDA_ENV_TYPE",
        "CONDA_ENV_SLUG",
        "CONDA_ENV_NAMESPACE",
        "CONDA_ENV_BUCKET",
        "CONDA_ENV_OBJECT_NAME",
        "CONDA_ENV_REGION",
        "JOB_RUN_OCID",
        "JOB_OCID",
        "PROJECT_OCID",
        "JOB_RUN_COMPARTMENT_OCID",
        PARAMETERS_ENV,
    }
)

# The free-form tag every run the launcher makes carries (job_spec.LAUNCHER_TAG).
RUN_TAG = "notebook-launcher"

# Fields that define a job (its digest); refused with jobId, which names the job itself.
JOB_LEVEL_FIELDS = frozenset(
    {
        "noteBook", "notebookPath", "jobName", "projectId", "compartmentId", "logGroupId", "logId",
        "outputFolder", "outputPerRun", "shape", "ocpus", "memoryInGBs", "subnetId",
        "blockStorageSizeInGBs", "condaEnv", "excludeTags", "reuseJob",
    }
)  # fmt: skip

# The OCID resource type each field must carry.
OCID_TYPES: dict[str, tuple[str, ...]] = {
    "projectId": ("datascienceproject",),
    "compartmentId": ("compartment", "tenancy"),
    "logGroupId": ("loggroup",),
    "logId": ("log",),
    "subnetId": ("subnet",),
    "jobId": ("datasciencejob",),
    "id": ("datasciencejobrun",),
}

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
JsonValue = Any


class LaunchRequest(BaseModel):
    """What a caller may send. Field names are the public contract (camelCase)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    action: Literal[
        "launch",
        "status",
        "cancel",
        "schedule",
        "schedules",
        "schedule-show",
        "schedule-pause",
        "schedule-resume",
        "schedule-delete",
    ] = "launch"
    id: str | None = None
    noteBook: Annotated[str, StringConstraints(min_length=1, max_length=4096)] | None = None
    notebookPath: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    jobName: Name | None = None
    runName: Name | None = None
    projectId: str | None = None
    compartmentId: str | None = None
    logGroupId: str | None = None
    logId: str | None = None
    outputFolder: str | None = None
    outputPerRun: bool = True
    shape: str | None = None
    ocpus: Annotated[float, Field(gt=0, le=128)] | None = None
    memoryInGBs: Annotated[float, Field(gt=0, le=2048)] | None = None
    subnetId: str | None = None
    blockStorageSizeInGBs: (
        Annotated[int, Field(ge=MIN_BLOCK_STORAGE_GBS, le=MAX_BLOCK_STORAGE_GBS)] | None
    ) = None
    condaEnv: str | None = None
    environmentVariables: dict[str, str] | None = None
    excludeTags: (
        Annotated[
            list[Annotated[str, StringConstraints(min_length=1, max_length=255)]],
            Field(max_length=MAX_EXCLUDE_TAGS),
        ]
        | None
    ) = None
    maxRuntimeInMinutes: Annotated[int, Field(ge=1, le=MAX_RUNTIME_MINUTES)] | None = None
    parameters: dict[str, JsonValue] | None = None
    strictParameters: bool | None = None  # None: NL_STRICT_PARAMETERS
    freeformTags: dict[str, str] | None = None
    definedTags: dict[str, dict[str, JsonValue]] | None = None
    idempotencyKey: str | None = None
    jobId: str | None = None
    reuseJob: bool = True
    dryRun: bool = False
    schedule: ScheduleSpec | None = None


MAX_FIELD_NAME_ECHO = 64
MAX_PROBLEMS = 50  # an answer must stay far below OCI Functions' 6 MB response limit


def _bounded(name: str) -> str:
    return name if len(name) <= MAX_FIELD_NAME_ECHO else name[: MAX_FIELD_NAME_ECHO - 1] + "…"


def _pydantic_problems(exc: ValidationError) -> list[FieldProblem]:
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        # Names come from the caller: bound each part, so an answer stays small.
        loc = ".".join(_bounded(str(p)) for p in err["loc"]) or "(body)"
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check its spelling; see the request reference)"
        else:
            msg = err["msg"]
        problems.append(FieldProblem(loc, msg))
    return problems


def _check_ocid(problems: list[FieldProblem], field: str, value: str | None) -> None:
    if value is not None:
        problem = ocid_problem(value, OCID_TYPES[field])
        if problem:
            problems.append(FieldProblem(field, problem))


def _check_oci_uri(problems: list[FieldProblem], field: str, value: str | None) -> None:
    if value is not None and not OCI_URI_RE.fullmatch(value):
        problems.append(FieldProblem(field, "must look like oci://bucket@namespace/prefix"))


def _check_tags(problems: list[FieldProblem], req: LaunchRequest) -> None:
    if req.freeformTags is not None:
        # Each run also carries the launcher's own tag: together within OCI's limit.
        if len({RUN_TAG, *req.freeformTags}) > MAX_TAGS:
            problems.append(
                FieldProblem(
                    "freeformTags",
                    f"at most {MAX_TAGS - 1} tags (OCI allows {MAX_TAGS} on a run, "
                    f"and the run carries the launcher's {RUN_TAG!r} tag)",
                )
            )
        for key, value in req.freeformTags.items():
            if problem := tag_problem(key, value):
                problems.append(FieldProblem(f"freeformTags.{key[:40]}", problem))
    if req.definedTags is not None:
        for namespace, tags in req.definedTags.items():
            for key, value in tags.items():
                where = f"definedTags.{namespace[:40]}.{key[:40]}"
                if not isinstance(value, str | int | float | bool):
                    problems.append(FieldProblem(where, "value must be a string or number"))
                elif len(str(value)) > MAX_TAG_VALUE_CHARS:
                    problems.append(FieldProblem(where, f"longer than {MAX_TAG_VALUE_CHARS}"))


def _check_semantics(req: LaunchRequest, settings: Settings) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for field in (name for name in OCID_TYPES if name != "id"):
        _check_ocid(problems, field, getattr(req, field))
    if req.id is not None:
        kinds = ("datascienceschedule",) if req.action in SCHEDULE_ID_ACTIONS else OCID_TYPES["id"]
        if problem := ocid_problem(req.id, kinds):
            problems.append(FieldProblem("id", problem))
    _check_oci_uri(problems, "outputFolder", req.outputFolder)
    if req.schedule is not None and req.action != "schedule":
        problems.append(FieldProblem("schedule", "only for action schedule"))

    if req.action in ("status", "cancel", *SCHEDULE_ID_ACTIONS):
        if req.id is None:
            problems.append(FieldProblem("id", f"required for action {req.action}"))
        return problems
    if req.action == "schedules":
        return problems
    if req.action == "schedule":
        if req.schedule is None:
            problems.append(FieldProblem("schedule", "required for action schedule"))
        else:
            problems.extend(schedule_problems(req.schedule, datetime.now(UTC)))

    if req.id is not None:
        problems.append(FieldProblem("id", "only for actions that name a run or a schedule"))
    if req.jobId is not None:
        for field in sorted(JOB_LEVEL_FIELDS & req.model_fields_set):
            problems.append(
                FieldProblem(field, "defines a job; with jobId the job's own settings are used")
            )
    if req.jobId is not None and req.strictParameters:
        problems.append(
            FieldProblem(
                "strictParameters",
                "only with noteBook: with jobId the notebook is not read, so its parameter "
                "names cannot be checked",
            )
        )
    if req.noteBook is None and req.jobId is None:
        problems.append(FieldProblem("noteBook", "required (or give jobId to run an existing job)"))
    if req.notebookPath is not None:
        if (problem := notebook_path_problem(req.notebookPath)) is not None:
            problems.append(FieldProblem("notebookPath", problem))
        elif req.noteBook is not None and not is_source(req.noteBook, settings):
            problems.append(FieldProblem("notebookPath", "only with a folder or archive noteBook"))
    if req.jobId is None:
        for field, default in (
            ("projectId", settings.project_id),
            ("compartmentId", settings.compartment_id),
            ("logGroupId", settings.log_group_id),
            ("outputFolder", settings.output_folder),
        ):
            if getattr(req, field) is None and default is None:
                problems.append(FieldProblem(field, "required (no default is configured)"))

    shape = req.shape or settings.shape
    if req.shape is not None and not SHAPE_RE.fullmatch(req.shape):
        problems.append(FieldProblem("shape", "must be a shape name like VM.Standard.E4.Flex"))
    if not shape.endswith(".Flex"):
        for field in ("ocpus", "memoryInGBs"):
            if getattr(req, field) is not None:
                problems.append(FieldProblem(field, "only allowed with a Flex shape"))
    if req.condaEnv is not None and not is_conda_env(req.condaEnv):
        problems.append(
            FieldProblem("condaEnv", "must be a service conda slug or an oci:// conda pack URI")
        )
    if req.idempotencyKey is not None and not RETRY_TOKEN_RE.fullmatch(req.idempotencyKey):
        problems.append(FieldProblem("idempotencyKey", "1-64 characters: letters, digits, . _ : -"))

    env_chars = 0
    for name, value in (req.environmentVariables or {}).items():
        where = f"environmentVariables.{name[:64]}"
        if not ENV_NAME_RE.fullmatch(name):
            problems.append(FieldProblem(where, "name must match [A-Za-z_][A-Za-z0-9_]*"))
        elif name in RESERVED_ENV:
            problems.append(FieldProblem(where, "is reserved for the launcher and ADS's driver"))
        env_chars += len(name) + len(value)
    for name in req.parameters or {}:
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_nl_"):
            problems.append(
                FieldProblem(f"parameters.{name[:64]}", "name must be a Python identifier")
            )
    if req.parameters:
        try:
            env_chars += len(PARAMETERS_ENV) + len(encode_parameters(req.parameters))
        except ValueError:
            problems.append(FieldProblem("parameters", "values must be finite JSON values"))
    if req.excludeTags:
        env_chars += len(EXCLUDE_TAGS_ENV) + len(encode_exclude_tags(req.excludeTags))
    if env_chars > MAX_ENVIRONMENT_CHARS:
        problems.append(
            FieldProblem(
                "environmentVariables",
                f"environment variables, parameters and excludeTags total {env_chars} "
                f"characters; OCI allows {MAX_ENVIRONMENT_CHARS}",
            )
        )
    _check_tags(problems, req)
    return problems


def encode_exclude_tags(tags: list[str] | tuple[str, ...]) -> str:
    """The JSON text ADS stores excludeTags in (its NOTEBOOK_EXCLUDE_TAGS variable)."""
    return json.dumps(list(tags))


def encode_parameters(parameters: Mapping[str, Any]) -> str:
    """The JSON text a run carries its parameters in (compact, key-sorted, finite numbers)."""
    return json.dumps(parameters, sort_keys=True, separators=(",", ":"), allow_nan=False)


class _NonFiniteNumberError(ValueError):
    """NaN or Infinity in a body: Python's json accepts them, JSON does not."""


def _refuse_constant(name: str) -> Any:
    raise _NonFiniteNumberError(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 parses as inf
        raise _NonFiniteNumberError(text)
    return value


def parse_request(body: bytes, settings: Settings) -> LaunchRequest:
    """Parse and validate a request body; raise InvalidRequestError listing every problem."""
    raw = decode_body(body)
    request, problems = validate_fields(raw, settings)
    raise_problems(problems)
    assert request is not None
    return request


def raise_problems(problems: list[FieldProblem]) -> None:
    """InvalidRequestError listing problems (bounded), if there are any."""
    if len(problems) > MAX_PROBLEMS:
        extra = len(problems) - MAX_PROBLEMS
        problems = [
            *problems[:MAX_PROBLEMS],
            FieldProblem("(body)", f"{extra} more problems not listed; fix the ones above first"),
        ]
    if problems:
        fields = ", ".join(sorted({p.field for p in problems})[:20])
        raise InvalidRequestError(f"The request is invalid ({fields}).", details=problems)


def decode_body(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body (finite numbers, valid Unicode), or the error."""
    if not body.strip():
        raise InvalidRequestError(
            "The request body is empty; send a JSON object such as "
            '{"noteBook": "https://host/notebook.ipynb"}.',
            details=[FieldProblem("(body)", "empty")],
        )
    try:
        raw = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
        # Lone surrogates (from \ud800-style escapes) are not text any service can store.
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequestError(
            "The request body holds invalid Unicode.",
            details=[FieldProblem("(body)", "a string holds a lone UTF-16 surrogate escape")],
        ) from None
    except _NonFiniteNumberError:
        raise InvalidRequestError(
            "The request body holds NaN or Infinity, which JSON does not allow.",
            details=[FieldProblem("(body)", "NaN, Infinity and -Infinity are not JSON numbers")],
        ) from None
    except (ValueError, RecursionError) as exc:
        where = (
            f"at line {exc.lineno} column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise InvalidRequestError(
            "The request body is not valid JSON.",
            details=[FieldProblem("(body)", f"not valid JSON {where}".strip())],
        ) from None
    if not isinstance(raw, dict):
        raise InvalidRequestError(
            "The request body must be a JSON object.",
            details=[FieldProblem("(body)", f"got a JSON {type(raw).__name__}, not an object")],
        )

    return raw


def validate_fields(
    raw: dict[str, Any], settings: Settings
) -> tuple[LaunchRequest | None, list[FieldProblem]]:
    """The launch request of a decoded body, and every problem found (model and semantics);
    also validates each step of a pipeline request (pipeline_request)."""
    problems: list[FieldProblem] = []
    request: LaunchRequest | None
    try:
        request = LaunchRequest.model_validate(raw)
    except ValidationError as exc:
        problems = _pydantic_problems(exc)
        bad = {str(err["loc"][0]) for err in exc.errors(include_url=False) if err["loc"]}
        # Validate what is left so that cross-field problems are reported in the same answer.
        try:
            request = LaunchRequest.model_validate({k: v for k, v in raw.items() if k not in bad})
        except ValidationError:
            request = None
    except RecursionError:
        raise InvalidRequestError(
            "The request body is nested too deeply.",
            details=[FieldProblem("(body)", "nested too deeply")],
        ) from None
    if request is not None:
        reported = {p.field.split(".")[0] for p in problems}
        problems.extend(
            p for p in _check_semantics(request, settings) if p.field.split(".")[0] not in reported
        )
    return request, problems
