"""Deploy plans (pipeline.core.plan): every outcome decided from data alone."""

from __future__ import annotations

import pytest

from pipeline.core import plan as plans
from pipeline.errors import StackBusy

TEMPLATE = "Resources: {}\n"
PARAMETERS = {"ModelDigest": "ab" * 32, "InstanceCount": "1"}
TAGS = {"project": "diabetes", "model-digest": "ab" * 32}
INPUTS = plans.StackInputs("diabetes-dev", TEMPLATE, PARAMETERS, TAGS)


def state(status: str | None, **changes) -> plans.StackState:
    fields = {"parameters": PARAMETERS, "tags": TAGS, "template": TEMPLATE, **changes}
    return plans.StackState("diabetes-dev", status, **fields)


def test_no_stack_plans_a_create_with_every_step():
    plan = plans.stack_plan(INPUTS, plans.StackState("diabetes-dev"), smoke=True, record=True)
    assert plan.kind == plans.CREATE
    assert plan.actions == ("create-change-set", "execute-change-set", "smoke", "record-release")
    assert plan.inputs is INPUTS


def test_an_empty_stack_in_review_is_taken_over_by_a_create():
    assert plans.stack_plan(INPUTS, state("REVIEW_IN_PROGRESS")).kind == plans.CREATE


@pytest.mark.parametrize(
    "status", ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"]
)
def test_a_settled_stack_with_other_parameters_plans_an_update(status):
    plan = plans.stack_plan(INPUTS, state(status, parameters={**PARAMETERS, "InstanceCount": "2"}))
    assert plan.kind == plans.UPDATE
    assert plan.actions == ("create-change-set", "execute-change-set")


def test_rollback_complete_plans_a_delete_then_a_create():
    plan = plans.stack_plan(INPUTS, state("ROLLBACK_COMPLETE"), approval=True)
    assert plan.kind == plans.RECREATE
    assert plan.actions == ("delete-stack", "create-change-set", "approve", "execute-change-set")
    assert any("ROLLBACK_COMPLETE" in note for note in plan.notes)


@pytest.mark.parametrize(
    "status",
    [
        "CREATE_IN_PROGRESS",
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "DELETE_IN_PROGRESS",
    ],
)
def test_a_stack_in_progress_is_refused(status):
    with pytest.raises(StackBusy, match=f"diabetes-dev is {status}: another deployment"):
        plans.stack_plan(INPUTS, state(status))


def test_the_same_template_parameters_and_tags_is_nothing_to_do():
    plan = plans.stack_plan(INPUTS, state("UPDATE_COMPLETE"), approval=True, smoke=True)
    assert plan.kind == plans.NOTHING and plan.steps == ()


@pytest.mark.parametrize(
    "changes",
    [
        {"template": TEMPLATE + "# changed\n"},
        {"tags": {**TAGS, "team": "ml"}},
        {"parameters": {**PARAMETERS, "ModelDigest": "cd" * 32}},
        {"template": None},
    ],  # a template not read is never assumed equal
)
def test_any_difference_or_an_unread_template_plans_an_update(changes):
    assert plans.stack_plan(INPUTS, state("CREATE_COMPLETE", **changes)).kind == plans.UPDATE


def test_a_failed_update_state_is_not_nothing_to_do_even_with_equal_inputs():
    assert plans.stack_plan(INPUTS, state("UPDATE_ROLLBACK_COMPLETE")).kind == plans.UPDATE


def test_inputs_and_state_of_different_stacks_are_a_bug():
    with pytest.raises(ValueError, match="inputs for diabetes-dev, state of other"):
        plans.stack_plan(INPUTS, plans.StackState("other"))


def test_delete_plan_skips_missing_stacks_and_refuses_busy_ones_before_any_delete():
    plan = plans.delete_plan(
        [plans.StackState("a", "CREATE_COMPLETE"), plans.StackState("b")], {"a": "stale"}
    )
    assert plan.kind == plans.DELETE and plan.stacks == ("a",)
    assert plan.steps[0].description == "delete a (stale)"
    assert plan.notes == ("b does not exist; nothing to delete",)
    assert plans.delete_plan([plans.StackState("b")]).kind == plans.NOTHING
    with pytest.raises(StackBusy, match="c is UPDATE_IN_PROGRESS"):
        plans.delete_plan(
            [plans.StackState("a", "CREATE_COMPLETE"), plans.StackState("c", "UPDATE_IN_PROGRESS")]
        )


def test_a_step_with_an_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown plan action 'drop-table'"):
        plans.Step("drop-table", "a", "no")
