"""Policy templates: rendering, refusal of holes and bad values, and OCI's vocabulary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from oci_lexer_parser import parse_dynamic_group_matching_rules, parse_policy_statements

from notebook_launcher.operator import policies as p
from notebook_launcher.operator.cli import policies as policies_command

FUNCTION_ID = "ocid1.fnfunc.oc1.iad.aaaaaaaafunction"
WORKSPACE_ID = "ocid1.disworkspace.oc1.iad.aaaaaaaaworkspace"
COMPARTMENT_ID = "ocid1.compartment.oc1..aaaaaaaacompartment"
LOG_GROUP_ID = "ocid1.loggroup.oc1.iad.aaaaaaaaloggroup"

VALUES = {
    "compartment": "notebooks-prod",
    "compartment_id": COMPARTMENT_ID,
    "function_id": FUNCTION_ID,
    "workspace_id": WORKSPACE_ID,
    "output_bucket": "nb-output",
    "notebook_bucket": "nb-source",
    "conda_bucket": "conda-packs",
    "log_group_id": LOG_GROUP_ID,
}

BRIEF_ARGS = [
    "--compartment",
    "notebooks-prod",
    "--compartment-id",
    COMPARTMENT_ID,
    "--function-id",
    FUNCTION_ID,
    "--workspace-id",
    WORKSPACE_ID,
    "--output-bucket",
    "nb-output",
    "--notebook-bucket",
    "nb-source",
    "--log-group-id",
    LOG_GROUP_ID,
]

CLI_ARGS = [*BRIEF_ARGS, "--conda-bucket", "conda-packs"]

FAMILIES = {
    "data-science-family",
    "functions-family",
    "object-family",
    "logging-family",
    "virtual-network-family",
}


def _parse(text: str) -> dict[str, Any]:
    parsed = parse_policy_statements(text)
    assert isinstance(parsed, dict)
    statements: list[dict[str, Any]] = parsed["statements"]
    [statement] = statements
    return statement


def _clauses(node: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not node:
        return []
    if node["type"] == "clause":
        return [node["node"]]
    return [c for item in node["items"] for c in _clauses(item)]


def _conditions(statement: dict[str, Any]) -> dict[str, str]:
    return {c["lhs"]: c["rhs"]["value"] for c in _clauses(statement.get("conditions"))}


def _by_name(sections: tuple[p.RenderedSection, ...]) -> dict[str, p.RenderedSection]:
    return {s.name: s for s in sections}


# --- rendering and the parser -------------------------------------------------------------------


@pytest.mark.parametrize("fallback", [False, True])
def test_every_rendered_line_parses_and_uses_documented_vocabulary(fallback: bool) -> None:
    sections = p.render(VALUES, fallback=fallback)
    assert sections
    for section in sections:
        for rendered in section.statements:
            assert "{" not in rendered.text.replace("all {", "").replace("any {", "").replace(
                "ALL {", ""
            ), rendered.text
            if section.kind == "matching-rules":
                parsed = parse_dynamic_group_matching_rules(rendered.text)
                assert isinstance(parsed, dict)
                [rule] = parsed["rules"]
                for clause in _clauses(rule["expr"]):
                    assert clause["lhs"] in p.MATCHING_RULE_VARIABLES
                continue
            statement = _parse(rendered.text)
            assert statement["kind"] == "allow"
            assert statement["actions"]["type"] == "verbs"
            assert set(statement["actions"]["values"]) <= {"inspect", "read", "use", "manage"}
            [resource] = statement["resources"]["values"]
            assert resource in p.ALL_RESOURCE_TYPES
            for variable in _conditions(statement):
                assert p._variable_allowed(variable, resource), (variable, resource)


def test_narrow_sections_are_the_default_and_name_every_principal() -> None:
    sections = _by_name(p.render(VALUES))
    assert list(sections) == [
        "function",
        "workspace",
        "dynamic-group",
        "job-runs",
        "conda-packs",
        "pipelines",
        "subnet",
    ]

    for rendered in sections["function"].statements:
        statement = _parse(rendered.text)
        conditions = _conditions(statement)
        assert statement["subject"]["type"] == "any-user"
        assert conditions["request.principal.type"] == "fnfunc"
        assert conditions["request.principal.id"] == FUNCTION_ID
        assert statement["location"] == {"type": "compartment_name", "values": ["notebooks-prod"]}

    for rendered in sections["workspace"].statements:
        conditions = _conditions(_parse(rendered.text))
        assert conditions["request.principal.type"] == "disworkspace"
        assert conditions["request.principal.id"] == WORKSPACE_ID

    job_runs = [_parse(s.text) for s in sections["job-runs"].statements]
    assert {s["subject"]["values"][0]["label"] for s in job_runs} == {"notebook-launcher-job-runs"}

    [rule] = sections["dynamic-group"].statements
    assert rule.text == (
        f"ALL {{resource.type='datasciencejobrun', resource.compartment.id='{COMPARTMENT_ID}'}}"
    )
    [subnet] = sections["subnet"].statements
    assert subnet.text == (
        "allow service datascience to use virtual-network-family in compartment notebooks-prod"
    )


def _grants(section: p.RenderedSection) -> set[tuple[str, str]]:
    out = set()
    for rendered in section.statements:
        statement = _parse(rendered.text)
        out.add((statement["actions"]["values"][0], statement["resources"]["values"][0]))
    return out


def test_function_gets_exactly_what_it_needs() -> None:
    function = _by_name(p.render(VALUES))["function"]
    assert _grants(function) == {
        ("read", "data-science-projects"),
        ("read", "data-science-jobs"),
        ("manage", "data-science-jobs"),
        ("use", "data-science-job-runs"),
        ("manage", "data-science-job-runs"),
        ("manage", "data-science-schedules"),  # the schedule actions
        ("manage", "log-groups"),
        ("read", "objects"),
    }
    statements = [_parse(s.text) for s in function.statements]
    manage = {
        s["resources"]["values"][0]: _conditions(s)
        for s in statements
        if s["actions"]["values"] == ["manage"]
    }
    # manage is held down to named permissions, one log group; jobs: create, and delete so
    # that a job whose artifact upload failed is not left behind half-made
    [jobs] = [
        s
        for s in statements
        if s["actions"]["values"] == ["manage"]
        and s["resources"]["values"] == ["data-science-jobs"]
    ]
    assert {
        c["rhs"]["value"]
        for c in _clauses(jobs.get("conditions"))
        if c["lhs"] == "request.permission"
    } == {"DATA_SCIENCE_JOB_CREATE", "DATA_SCIENCE_JOB_DELETE"}
    assert manage["data-science-job-runs"]["request.permission"] == "DATA_SCIENCE_JOB_RUN_CREATE"
    assert manage["log-groups"]["target.loggroup.id"] == LOG_GROUP_ID
    [objects, reports] = [s for s in statements if s["resources"]["values"] == ["objects"]]
    assert _conditions(objects)["target.bucket.name"] == "nb-source"
    # The status action reads run reports: GetObject (OBJECT_READ) on the output bucket only.
    assert _conditions(reports)["target.bucket.name"] == "nb-output"
    assert _conditions(reports)["request.permission"] == "OBJECT_READ"


def test_workspace_may_invoke_only_this_function_and_follow_runs() -> None:
    workspace = _by_name(p.render(VALUES))["workspace"]
    assert _grants(workspace) == {("use", "fn-invocation"), ("use", "data-science-job-runs")}
    [invoke] = [_parse(s.text) for s in workspace.statements if "fn-invocation" in s.text]
    assert _conditions(invoke)["target.function.id"] == FUNCTION_ID


def test_pipelines_add_exactly_the_two_pipeline_resource_types() -> None:
    pipelines = _by_name(p.render(VALUES))["pipelines"]
    statements = [_parse(s.text) for s in pipelines.statements]
    by_principal: dict[tuple[str, str], set[tuple[str, str]]] = {
        (_conditions(s)["request.principal.type"], _conditions(s)["request.principal.id"]): set()
        for s in statements
    }
    for s in statements:
        key = (_conditions(s)["request.principal.type"], _conditions(s)["request.principal.id"])
        by_principal[key].add((s["actions"]["values"][0], s["resources"]["values"][0]))
    assert by_principal == {
        ("fnfunc", FUNCTION_ID): {
            ("manage", "data-science-pipelines"),
            ("manage", "data-science-pipeline-runs"),
        },
        ("disworkspace", WORKSPACE_ID): {("use", "data-science-pipeline-runs")},
    }
    # the fallback's family-level statements already cover pipelines: it replaces this section
    fallback = _by_name(p.render(VALUES, fallback=True))
    assert "pipelines" not in fallback


def test_job_runs_write_only_their_bucket_and_log() -> None:
    job_runs = _by_name(p.render(VALUES))["job-runs"]
    statements = [_parse(s.text) for s in job_runs.statements]
    [write] = [s for s in statements if s["actions"]["values"] == ["manage"]]
    assert _conditions(write)["target.bucket.name"] == "nb-output"
    permissions = {
        c["rhs"]["value"] for c in _clauses(write["conditions"]) if c["lhs"] == "request.permission"
    }
    assert permissions == {"OBJECT_CREATE", "OBJECT_OVERWRITE"}
    [log] = [s for s in statements if s["resources"]["values"] == ["log-content"]]
    assert _conditions(log) == {"target.loggroup.id": LOG_GROUP_ID}
    assert len(statements) == 2
    [conda] = [_parse(s.text) for s in _by_name(p.render(VALUES))["conda-packs"].statements]
    assert conda["actions"]["values"] == ["read"] and conda["resources"]["values"] == ["objects"]
    assert _conditions(conda) == {"target.bucket.name": "conda-packs"}


def test_conda_packs_section_is_printed_only_when_its_bucket_is_given() -> None:
    values = {k: v for k, v in VALUES.items() if k != "conda_bucket"}
    assert "conda-packs" not in _by_name(p.render(values))
    with pytest.raises(p.MissingPlaceholderError, match="--conda-bucket"):
        p.render(values, only=["conda-packs"])


def test_family_level_types_appear_only_in_the_fallback() -> None:
    narrow = p.render(VALUES)
    for section in narrow:
        if section.name in {"subnet", "dynamic-group"}:
            continue
        for rendered in section.statements:
            assert _parse(rendered.text)["resources"]["values"][0] not in FAMILIES

    fallback = _by_name(p.render(VALUES, fallback=True))
    assert list(fallback) == ["dynamic-group", "subnet", "fallback"]  # conda packs included
    for rendered in fallback["fallback"].statements:
        assert _parse(rendered.text)["resources"]["values"][0] in FAMILIES
        assert rendered.comment  # every broad grant is explained


def test_fallback_needs_no_bucket_or_log_group() -> None:
    values = {
        k: v
        for k, v in VALUES.items()
        if k in {"compartment", "compartment_id", "function_id", "workspace_id"}
    }
    assert p.render(values, fallback=True)


def test_every_statement_carries_its_explanation_and_source() -> None:
    for section in p.render(VALUES):
        for rendered in section.statements:
            assert rendered.comment, rendered.text
            assert rendered.source.endswith(tuple(f":{n}" for n in range(1, 200)))


def test_every_template_placeholder_is_known() -> None:
    for section in p.SECTIONS:
        template = p.load_template(section)
        assert template.placeholders <= set(p.PLACEHOLDERS), section.filename


# --- refusals ------------------------------------------------------------------------------------


def test_missing_placeholders_are_refused_all_at_once() -> None:
    values = {k: v for k, v in VALUES.items() if k not in {"output_bucket", "log_group_id"}}
    with pytest.raises(p.MissingPlaceholderError) as caught:
        p.render(values)
    assert set(caught.value.missing) == {"output_bucket", "log_group_id"}
    message = str(caught.value)
    assert "--output-bucket" in message and "--log-group-id" in message
    assert "job-runs.template" in message and "function.template" in message


def test_only_selected_sections_need_their_placeholders() -> None:
    [section] = p.render({"compartment": "c"}, only=["subnet"])
    assert section.name == "subnet"
    with pytest.raises(p.MissingPlaceholderError):
        p.render({"compartment": "c"}, only=["subnet", "workspace"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("output_bucket", "out' , request.permission='OBJECT_DELETE"),
        ("output_bucket", "has space"),
        ("compartment", "a}b"),
        ("function_id", COMPARTMENT_ID),  # an OCID, but not a function's
        ("workspace_id", "ocid1.disworkspace"),
        ("log_group_id", "not-an-ocid"),
    ],
)
def test_values_that_could_change_a_statement_are_refused(name: str, value: str) -> None:
    with pytest.raises(p.InvalidValueError, match=p.PLACEHOLDERS[name].option):
        p.render({**VALUES, name: value})


def test_unknown_placeholder_name_is_refused() -> None:
    with pytest.raises(p.InvalidValueError, match="unknown placeholder"):
        p.render({**VALUES, "tenancy": "x"})


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (
            "allow any-user to frobnicate data-science-jobs in compartment c "
            "where all {request.principal.type='fnfunc', "
            "request.principal.id='ocid1.fnfunc.oc1..a'}",
            "expected a verb",
        ),
        (
            "allow any-user to read data-science-widgets in compartment c "
            "where all {request.principal.type='fnfunc', "
            "request.principal.id='ocid1.fnfunc.oc1..a'}",
            "undocumented resource type",
        ),
        (
            "allow dynamic-group g to read data-science-jobs in compartment c "
            "where target.bucket.name='b'",
            "not documented for data-science-jobs",
        ),
        (
            "allow dynamic-group g to read objects in compartment c where target.bucket.nmae='b'",
            "not documented for objects",
        ),
        (
            "allow any-user to read objects in compartment c where target.bucket.name='b'",
            "any-user needs",
        ),
        (
            "allow any-user to read objects in compartment c where any "
            "{request.principal.type='fnfunc', request.principal.id='ocid1.fnfunc.oc1..a'}",
            "any-user needs",
        ),
        (
            "allow any-user to read objects in compartment c where all "
            "{request.principal.type='fnfun', request.principal.id='ocid1.fnfunc.oc1..a'}",
            "unknown principal type",
        ),
        ("allow group g to read objects in", "does not parse"),
    ],
)
def test_statement_checks_catch_what_the_parser_accepts(statement: str, problem: str) -> None:
    with pytest.raises(p.InvalidStatementError, match=problem):
        p.validate_statement(statement)


def test_matching_rule_checks() -> None:
    p.validate_matching_rule("ALL {resource.type='datasciencejobrun', resource.compartment.id='x'}")
    with pytest.raises(p.InvalidStatementError, match="undocumented matching-rule variable"):
        p.validate_matching_rule("ALL {resource.kind='datasciencejobrun'}")
    with pytest.raises(p.InvalidStatementError, match="unknown resource type"):
        p.validate_matching_rule("ALL {resource.type='datasciencejob'}")


def test_a_broken_template_is_refused_at_render(tmp_path: Path) -> None:
    for section in p.SECTIONS:
        shutil.copy(p.TEMPLATES_DIR / section.filename, tmp_path / section.filename)
    broken = tmp_path / "subnet.template"
    broken.write_text(
        "allow service datascience to use virtual-network-famly in compartment {compartment}\n"
    )
    with pytest.raises(p.InvalidStatementError, match="virtual-network-famly"):
        p.render(VALUES, templates_dir=tmp_path)


def test_template_parsing_joins_continuations_and_keeps_comments() -> None:
    section = p.Section("t", "T", "t.template")
    template = p.parse_template(
        section,
        "# first\n# explained\nallow a\n    b c\nallow e\n# other\nallow f\n\nallow d\n",
        Path("t.template"),
    )
    assert [(e.text, e.comment, e.line) for e in template.entries] == [
        ("allow a b c", "first\nexplained", 3),
        ("allow e", "first\nexplained", 5),
        ("allow f", "other", 7),
        ("allow d", "", 9),
    ]
    with pytest.raises(p.TemplateError, match="continuation"):
        p.parse_template(section, "  dangling\n", Path("t.template"))


# --- the command ---------------------------------------------------------------------------------


def test_cli_prints_sections_with_headings() -> None:
    result = CliRunner().invoke(policies_command, CLI_ARGS)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    headings = [line for line in lines if line.startswith("# ")]
    assert headings == [f"# {s.title}" for s in p.render(VALUES)]
    statements = [line for line in lines if line and not line.startswith("#")]
    assert statements == [s.text for section in p.render(VALUES) for s in section.statements]


def test_cli_needs_no_conda_bucket() -> None:
    result = CliRunner().invoke(policies_command, BRIEF_ARGS)
    assert result.exit_code == 0, result.output
    assert "conda" not in result.output.lower()
    assert "target.bucket.name='nb-output'" in result.output


def test_cli_refuses_an_unfilled_placeholder_naming_the_option() -> None:
    args = [a for a in CLI_ARGS]
    i = args.index("--output-bucket")
    del args[i : i + 2]
    result = CliRunner().invoke(policies_command, args)
    assert result.exit_code == 2
    assert "--output-bucket" in result.output
    assert "allow " not in result.output  # nothing half-rendered


def test_cli_refuses_a_malformed_value() -> None:
    result = CliRunner().invoke(policies_command, [*CLI_ARGS, "--function-id", "nope"])
    assert result.exit_code == 2
    assert "--function-id" in result.output


def test_cli_json_format() -> None:
    result = CliRunner().invoke(policies_command, [*CLI_ARGS, "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert [s["name"] for s in document["sections"]] == [s.name for s in p.render(VALUES)]
    for section in document["sections"]:
        for statement in section["statements"]:
            assert statement["text"] and statement["comment"] and statement["source"]


def test_cli_fallback_and_section_selection() -> None:
    result = CliRunner().invoke(policies_command, [*CLI_ARGS, "--fallback"])
    assert result.exit_code == 0, result.output
    assert "data-science-family" in result.output
    assert "DATA_SCIENCE_JOB_CREATE" not in result.output

    result = CliRunner().invoke(policies_command, ["--compartment", "c", "--section", "subnet"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "# Custom subnet for job runs",
        "allow service datascience to use virtual-network-family in compartment c",
    ]


def test_cli_is_registered_in_the_main_group() -> None:
    from notebook_launcher.cli import main

    result = CliRunner().invoke(main, ["policies", "--compartment", "c", "--section", "subnet"])
    assert result.exit_code == 0, result.output


def test_function_reads_and_lists_only_the_notebook_bucket() -> None:
    """GetObject (OBJECT_READ) for notebooks and archives, ListObjects (OBJECT_INSPECT) for
    folder notebooks: exactly those, in the notebook bucket only."""
    sections = _by_name(p.render(VALUES))
    objects = [s.text for s in sections["function"].statements if "to read objects" in s.text]
    on_notebooks = [t for t in objects if f"target.bucket.name='{VALUES['notebook_bucket']}'" in t]
    assert len(on_notebooks) == 1, objects
    text = on_notebooks[0]
    assert "any {request.permission='OBJECT_INSPECT', request.permission='OBJECT_READ'}" in text
    # The only other object statement is the run reports' GetObject on the output bucket.
    (on_output,) = [t for t in objects if t not in on_notebooks]
    assert f"target.bucket.name='{VALUES['output_bucket']}'" in on_output
    assert "request.permission='OBJECT_READ'}" in on_output and "INSPECT" not in on_output
    assert [s.text for s in sections["function"].statements if " objects " in s.text] == objects


# --- schedules ------------------------------------------------------------------------------


def test_schedule_sections_render_the_documented_principal_and_permissions() -> None:
    sections = _by_name(p.render({**VALUES, "schedule_dynamic_group": "nl-schedules"}))
    [rule] = sections["schedules-dynamic-group"].statements
    assert rule.text == (
        f"ALL {{resource.type='datascienceschedule', resource.compartment.id='{COMPARTMENT_ID}'}}"
    )
    creates, logs = (_parse(s.text) for s in sections["schedules"].statements)
    assert creates["subject"]["values"][0]["label"] == "nl-schedules"
    assert creates["actions"] == {
        "type": "permissions",
        "values": [
            "data_science_project_read",
            "data_science_job_read",
            "data_science_job_run_create",
        ],
    }
    assert creates["location"] == {"type": "compartment_name", "values": ["notebooks-prod"]}
    assert logs["resources"]["values"] == ["log-content"]
    assert _conditions(logs) == {"target.loggroup.id": LOG_GROUP_ID}


def test_schedule_sections_are_printed_only_when_their_group_is_given() -> None:
    assert "schedules" not in _by_name(p.render(VALUES))
    only = p.render({**VALUES, "schedule_dynamic_group": "g"}, only=["schedules"])
    assert [s.name for s in only] == ["schedules"]


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("allow dynamic-group g to {DATA_SCIENCE_JOB_DELETE} in compartment c", "permission"),
        (
            "allow dynamic-group g to {DATA_SCIENCE_JOB_READ} in compartment c"
            " where request.principal.nonsense='x'",
            "not documented",
        ),
    ],
)
def test_permission_statements_are_checked(statement: str, problem: str) -> None:
    with pytest.raises(p.InvalidStatementError, match=problem):
        p.validate_statement(statement)


def test_the_documented_schedule_target_condition_is_accepted() -> None:
    p.validate_statement(
        "allow dynamic-group g to {DATA_SCIENCE_PROJECT_READ, DATA_SCIENCE_JOB_READ,"
        " DATA_SCIENCE_JOB_RUN_CREATE} in compartment c"
        " where request.principal.scheduleTarget_id = 'ocid1.datasciencejob.oc1.iad.aaaa'"
    )
    p.validate_matching_rule(
        "ALL {resource.type='datascienceschedule', resource.compartment.id='x'}"
    )
