"""Executors of plans (pipeline.core.plan): one carries a plan out, one only shows it.

After aws/chalice's deploy/executor.py (Executor, DisplayOnlyExecutor). `Executor` runs the
steps in order through the CloudFormation wrapper; steps that are not CloudFormation calls
(smoke, record-release) run through handlers the stage passes in. `DisplayOnlyExecutor` is
every `--dry-run`: it shows the plan and, when the plan creates a change set on a stack that
can take one, creates it to show CloudFormation's own preview and deletes it again, so
nothing is left behind.

A change set that CloudFormation finds empty ends a plan: nothing is executed.
Must not import any stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pipeline.aws.cloudformation import ChangeSet
from pipeline.core import plan as plans
from pipeline.errors import PipelineError
from pipeline.shared.context import Context

REPLACED = {"True": "yes", "False": "no", "Conditional": "maybe", "": "-"}


@dataclass
class Outcome:
    plan: plans.Plan
    dry_run: bool = False
    change_set: ChangeSet | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)  # actions carried out, in order
    notes: list[str] = field(default_factory=list)

    @property
    def no_changes(self) -> bool:
        return self.plan.kind == plans.NOTHING or bool(
            self.change_set and self.change_set.no_changes
        )


Handler = Callable[[plans.Step, Outcome], None]


def preview_rows(change_set: ChangeSet) -> list[tuple[str, str, str, str]]:
    """(resource, type, action, replaced) rows of a change set."""
    return [
        (c.logical_id, c.resource_type, c.action, REPLACED.get(c.replacement, c.replacement))
        for c in change_set.changes
    ]


def _change_set_kind(plan: plans.Plan) -> str:
    return "UPDATE" if plan.kind == plans.UPDATE else "CREATE"


class Executor:
    """Carry a plan out, step by step, stopping at the first failure (its error propagates)."""

    def __init__(self, ctx: Context, handlers: Mapping[str, Handler] | None = None):
        self.ctx = ctx
        self.handlers = dict(handlers or {})

    def run(self, plan: plans.Plan) -> Outcome:
        outcome = Outcome(plan, notes=list(plan.notes))
        for step in plan.steps:
            if not self._step(step, outcome):
                break
            outcome.done.append(step.action)
        return outcome

    def _step(self, step: plans.Step, outcome: Outcome) -> bool:
        """Run one step; False ends the plan early (an empty change set)."""
        cfn = self.ctx.cfn
        if step.action == plans.DELETE_STACK:
            self.ctx.ui.progress(f"{step.stack}: {step.description}")
            cfn.delete(step.stack)
        elif step.action == plans.CREATE_CHANGE_SET:
            outcome.change_set = _create(self.ctx, outcome.plan)
            if outcome.change_set.no_changes:
                cfn.discard(outcome.change_set)
                outcome.notes.append(
                    f"no changes: {step.stack} already runs this template "
                    "with these parameters; nothing was touched"
                )
                return False
        elif step.action == plans.APPROVE:
            change_set = outcome.change_set
            if not self.ctx.ui.confirm(f"deploy this change set to {step.stack}?"):
                if change_set is not None:
                    cfn.discard(change_set)
                raise PipelineError(
                    f"{step.stack}: not approved; the change set was deleted "
                    "and nothing was deployed"
                )
        elif step.action == plans.EXECUTE_CHANGE_SET:
            if outcome.change_set is None:
                raise ValueError("a plan executes a change set it did not create")
            outcome.outputs = cfn.execute(outcome.change_set, sleep=self.ctx.sleep)
        elif step.action in self.handlers:
            self.handlers[step.action](step, outcome)
        else:
            raise ValueError(f"no handler for plan step {step.action}")
        return True


def _create(ctx: Context, plan: plans.Plan) -> ChangeSet:
    inputs = plan.inputs
    if inputs is None:
        raise ValueError("a plan creates a change set without inputs")
    change_set = ctx.cfn.create_change_set(
        inputs.stack,
        inputs.template,
        dict(inputs.parameters),
        _change_set_kind(plan),
        inputs.capabilities,
        dict(inputs.tags),
    )
    title = f"change set for {inputs.stack} ({change_set.kind})"
    rows = [("no changes", "", "", "")] if change_set.no_changes else preview_rows(change_set)
    ctx.ui.table(title, ("resource", "type", "action", "replaced"), rows)
    return change_set


class DisplayOnlyExecutor:
    """Show a plan without carrying it out (`--dry-run`). With `preview`, a change set the
    plan would create on a stack that can take one is created, shown and deleted."""

    def __init__(self, ctx: Context, preview: bool = True):
        self.ctx = ctx
        self.preview = preview

    def run(self, plan: plans.Plan) -> Outcome:
        outcome = Outcome(plan, dry_run=True, notes=list(plan.notes))
        can_preview = self.preview and plans.DELETE_STACK not in plan.actions
        if can_preview and plans.CREATE_CHANGE_SET in plan.actions:
            outcome.change_set = _create(self.ctx, plan)
            self.ctx.cfn.discard(outcome.change_set)
        title = f"plan ({plan.kind}): dry run, nothing is changed"
        rows = [
            (str(n), step.action, step.stack, step.description)
            for n, step in enumerate(plan.steps, 1)
        ] or [("-", "nothing", "-", "-")]
        self.ctx.ui.table(title, ("step", "action", "stack", "what it would do"), rows)
        return outcome


def executor(
    ctx: Context,
    dry_run: bool,
    handlers: Mapping[str, Handler] | None = None,
) -> Executor | DisplayOnlyExecutor:
    """The executor a command's --dry-run flag chooses."""
    return DisplayOnlyExecutor(ctx) if dry_run else Executor(ctx, handlers)
