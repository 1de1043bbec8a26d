"""The plan executors (pipeline.shared.executor) over a recording CloudFormation stand-in:
what each one calls, in which order, and where a plan stops."""

from __future__ import annotations

import pytest

from pipeline.aws.cloudformation import Change, ChangeSet
from pipeline.core import plan as plans
from pipeline.errors import PipelineError
from pipeline.settings import Settings
from pipeline.shared.context import Context, QuietUI
from pipeline.shared.executor import DisplayOnlyExecutor, Executor

INPUTS = plans.StackInputs("p-dev", "Resources: {}\n", {"A": "1"}, {"project": "p"})


class RecordingCloudFormation:
    """Records the wrapper calls an executor makes; answers with a change set that has
    `changes` (none: CloudFormation found nothing to do)."""

    def __init__(
        self,
        changes: tuple[Change, ...] = (Change("M", "AWS::SageMaker::Model", "Modify", "True"),),
    ):
        self.calls: list[tuple] = []
        self.changes = changes

    def create_change_set(self, name, template, parameters, kind, capabilities, tags):
        self.calls.append(("create_change_set", name, kind, parameters, tags))
        return ChangeSet("cs-1", name, kind, self.changes, not self.changes)

    def discard(self, change_set):
        self.calls.append(("discard", change_set.id))

    def delete(self, name):
        self.calls.append(("delete", name))

    def execute(self, change_set, sleep):
        self.calls.append(("execute", change_set.id))
        return {"EndpointName": "p-dev"}


def context(cfn: RecordingCloudFormation, approve: bool | None = None) -> Context:
    ctx = Context(Settings.from_env({}, need_project=False), QuietUI(approve), sleep=lambda _: None)
    ctx.__dict__["cfn"] = cfn  # the cached_property's slot: no AWS client is made
    return ctx


def plan_for(status: str | None, approval: bool = False) -> plans.Plan:
    state = plans.StackState("p-dev", status)
    return plans.stack_plan(INPUTS, state, approval=approval, smoke=True)


def test_a_create_runs_every_step_in_order_with_the_plans_inputs():
    cfn, smoked = RecordingCloudFormation(), []
    outcome = Executor(
        context(cfn), {plans.SMOKE: lambda step, out: smoked.append(out.outputs)}
    ).run(plan_for(None))
    assert [c[0] for c in cfn.calls] == ["create_change_set", "execute"]
    assert cfn.calls[0] == ("create_change_set", "p-dev", "CREATE", {"A": "1"}, {"project": "p"})
    assert outcome.done == ["create-change-set", "execute-change-set", "smoke"]
    assert smoked == [{"EndpointName": "p-dev"}]


def test_an_empty_change_set_is_discarded_and_ends_the_plan():
    cfn = RecordingCloudFormation(changes=())
    outcome = Executor(context(cfn), {plans.SMOKE: lambda *_: pytest.fail("smoked")}).run(
        plan_for("UPDATE_COMPLETE")
    )
    assert [c[0] for c in cfn.calls] == ["create_change_set", "discard"]
    assert outcome.no_changes and outcome.done == []
    assert any(note.startswith("no changes") for note in outcome.notes)


def test_a_declined_approval_discards_the_change_set_and_executes_nothing():
    cfn = RecordingCloudFormation()
    ctx = context(cfn, approve=False)
    with pytest.raises(PipelineError, match="p-dev: not approved; the change set was deleted"):
        Executor(ctx, {plans.SMOKE: lambda *_: None}).run(plan_for(None, approval=True))
    assert [c[0] for c in cfn.calls] == ["create_change_set", "discard"]
    assert ctx.ui.questions == ["deploy this change set to p-dev?"]


def test_a_recreate_deletes_the_failed_stack_before_creating():
    cfn = RecordingCloudFormation()
    Executor(context(cfn), {plans.SMOKE: lambda *_: None}).run(plan_for("ROLLBACK_COMPLETE"))
    assert [c[0] for c in cfn.calls] == ["delete", "create_change_set", "execute"]
    assert cfn.calls[1][2] == "CREATE"


def test_a_step_without_a_handler_is_a_bug_not_a_skip():
    with pytest.raises(ValueError, match="no handler for plan step smoke"):
        Executor(context(RecordingCloudFormation())).run(plan_for(None))


def test_the_dry_run_previews_the_change_set_then_deletes_it_and_executes_nothing():
    cfn = RecordingCloudFormation()
    ctx = context(cfn)
    outcome = DisplayOnlyExecutor(ctx).run(plan_for("UPDATE_COMPLETE", approval=True))
    assert [c[0] for c in cfn.calls] == ["create_change_set", "discard"]
    assert outcome.dry_run and outcome.done == [] and outcome.change_set is not None
    titles = [title for title, _, _ in ctx.ui.tables]
    assert titles == ["change set for p-dev (UPDATE)", "plan (update): dry run, nothing is changed"]
    shown = [row[1] for row in ctx.ui.tables[1][2]]
    assert shown == ["create-change-set", "approve", "execute-change-set", "smoke"]


def test_the_dry_run_of_a_recreate_or_a_delete_calls_nothing():
    cfn = RecordingCloudFormation()
    DisplayOnlyExecutor(context(cfn)).run(plan_for("ROLLBACK_COMPLETE"))
    DisplayOnlyExecutor(context(cfn)).run(
        plans.delete_plan([plans.StackState("p-dev", "CREATE_COMPLETE")])
    )
    assert cfn.calls == []
