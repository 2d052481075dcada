"""The pure half of pipeline launches: fan-out names, the DAG checks, digests, re-run sets."""

from __future__ import annotations

from notebook_launcher.function.pipeline_spec import (
    PipelineSpec,
    PipelineStepPlan,
    StepDeclaration,
    dependency_cycle,
    expand,
    fan_out_names,
    steps_to_rerun,
)


def declared(
    name: str, *deps: str, for_each: list[dict[str, object]] | None = None, index: int = 0
) -> StepDeclaration:
    return StepDeclaration(index, name, deps, tuple(for_each) if for_each else None, {})


def test_fan_out_names_use_the_one_varying_safe_value_else_positions() -> None:
    sets = [{"region": "APAC", "n": 1}, {"region": "emea", "n": 1}]
    assert fan_out_names("by-region", sets) == ["by-region-apac", "by-region-emea"]
    assert fan_out_names("s", [{"region": "a b"}, {"region": "c"}]) == ["s-1", "s-2"]
    assert fan_out_names("s", [{"a": 1, "b": 1}, {"a": 2, "b": 2}]) == ["s-1", "s-2"]
    assert fan_out_names("s", [{"k": "X"}, {"k": "x"}]) == ["s-1", "s-2"]  # would collide
    assert fan_out_names("s", [{"k": True}, {"k": False}]) == ["s-1", "s-2"]
    assert fan_out_names("s", [{"k": 7}, {"k": 8}]) == ["s-7", "s-8"]


def test_expand_links_dependents_to_every_fanned_out_step() -> None:
    steps, problems = expand(
        [
            declared("a", index=0),
            declared("b", "a", for_each=[{"r": "x"}, {"r": "y"}], index=1),
            declared("c", "b", index=2),
        ]
    )
    assert problems == []
    assert [(s.name, s.depends_on) for s in steps] == [
        ("a", ()),
        ("b-x", ("a",)),
        ("b-y", ("a",)),
        ("c", ("b-x", "b-y")),
    ]
    assert steps[1].launch["parameters"] == {"r": "x"}


def test_expand_names_the_step_of_each_problem() -> None:
    _, problems = expand([declared("a", "b", index=0), declared("b", "a", index=1)])
    assert [p.field for p in problems] == ["steps[0].dependsOn"]
    assert "cycle" in problems[0].message and "'a'" in problems[0].message
    _, problems = expand([declared("a", index=0), declared("a", index=1)])
    assert problems[0].field == "steps[1].name" and "twice" in problems[0].message
    _, problems = expand([declared("a", "zz", index=0)])
    assert "'zz', no such step" in problems[0].message
    # a fanned-out name colliding with a declared step
    _, problems = expand(
        [declared("b-x", index=0), declared("b", for_each=[{"r": "x"}, {"r": "y"}], index=1)]
    )
    assert any("b-x" in p.message for p in problems)


def test_dependency_cycle_finds_long_cycles_and_none_in_a_dag() -> None:
    assert dependency_cycle({"a": ["c"], "b": ["a"], "c": ["b"]}) == ["a", "c", "b", "a"]
    assert dependency_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None


def test_rerun_set_is_what_did_not_succeed_and_everything_downstream() -> None:
    details = [
        {"stepName": "a", "dependsOn": []},
        {"stepName": "b", "dependsOn": ["a"]},
        {"stepName": "c", "dependsOn": ["b"]},
        {"stepName": "d", "dependsOn": []},
        {"stepName": "e", "dependsOn": ["d", "c"]},
    ]
    states = {"a": "SUCCEEDED", "b": "FAILED", "c": "SKIPPED", "d": "SUCCEEDED", "e": "SKIPPED"}
    assert steps_to_rerun(details, states) == ["b", "c", "e"]
    assert steps_to_rerun(details, dict.fromkeys(states, "SUCCEEDED")) == []


def test_pipeline_digest_covers_structure_not_order() -> None:
    one = PipelineSpec("p", "proj", "comp", "lg", None, (
        PipelineStepPlan("a", "job1", ()), PipelineStepPlan("b", "job1", ("a",))))  # fmt: skip
    same = PipelineSpec("p", "proj", "comp", "lg", None, tuple(reversed(one.steps)))
    other = PipelineSpec("p", "proj", "comp", "lg", None, (
        PipelineStepPlan("a", "job1", ()), PipelineStepPlan("b", "job2", ("a",))))  # fmt: skip
    assert one.digest() == same.digest() != other.digest()
    assert one.display_name() == f"p-nl{one.digest()[:16]}"
    assert one.dag() == ["a >> b"]
