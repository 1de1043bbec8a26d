"""Deploys as plans: what to do to a stack, decided from data alone.

Reading what is there (the stack's status, parameters, tags and template) happens at the
edge; this module turns the inputs of a change and that state into a `Plan`, an ordered list
of `Step`s an executor carries out (`pipeline.shared.executor.Executor`) or only shows
(`DisplayOnlyExecutor`, the `--dry-run`). After aws/chalice's deploy/models.py (Plan,
APICall). Every path that changes a stack builds its plan here: deploy, promote, rollback,
bootstrap, teardown and sweep; this is the one place that knows what ROLLBACK_COMPLETE and
an operation in progress mean.

Standard library and pipeline.errors only: no AWS calls, no files, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.errors import StackBusy

# Actions a step may name. The executors know each one; a plan never holds another.
DELETE_STACK = "delete-stack"
CREATE_CHANGE_SET = "create-change-set"
APPROVE = "approve"
EXECUTE_CHANGE_SET = "execute-change-set"
SMOKE = "smoke"
RECORD_RELEASE = "record-release"
ACTIONS = (DELETE_STACK, CREATE_CHANGE_SET, APPROVE, EXECUTE_CHANGE_SET, SMOKE, RECORD_RELEASE)

# Plan kinds
CREATE, UPDATE, RECREATE, NOTHING, DELETE = "create", "update", "recreate", "nothing", "delete"


@dataclass(frozen=True)
class StackState:
    """A stack as it is now (None status: it does not exist)."""

    name: str
    status: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    template: str | None = None  # None: not read (the caller may not GetTemplate)
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. age, cost, for sweep


@dataclass(frozen=True)
class StackInputs:
    """Everything a stack is deployed with: the template and every parameter explicit."""

    stack: str
    template: str
    parameters: Mapping[str, str]
    tags: Mapping[str, str] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    action: str  # one of ACTIONS
    stack: str
    description: str

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown plan action {self.action!r}")


@dataclass(frozen=True)
class Plan:
    kind: str  # CREATE | UPDATE | RECREATE | NOTHING | DELETE
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    inputs: StackInputs | None = None  # what create-change-set sends (deploy plans)

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(step.action for step in self.steps)

    @property
    def stacks(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(step.stack for step in self.steps))


def busy(status: str | None) -> bool:
    """Another operation is working on the stack (REVIEW_IN_PROGRESS is an empty stack
    awaiting its first change set, which a deploy takes over)."""
    return status is not None and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS"


def _refuse_busy(state: StackState) -> None:
    if busy(state.status):
        raise StackBusy(
            f"stack {state.name} is {state.status}: another deployment is "
            "running. Wait for it (or pass --wait to wait), then try again"
        )


def unchanged(inputs: StackInputs, state: StackState) -> bool:
    """The stack already runs exactly these inputs: same template, parameters and tags, and
    it settled in a state a change set can start from."""
    return (
        state.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        and state.template is not None
        and state.template == inputs.template
        and dict(state.parameters) == dict(inputs.parameters)
        and dict(state.tags) == dict(inputs.tags)
    )


def stack_plan(
    inputs: StackInputs,
    state: StackState,
    *,
    approval: bool = False,
    smoke: bool = False,
    record: bool = False,
) -> Plan:
    """The plan that makes `state` run `inputs`.

    create (no stack, or an empty one in REVIEW_IN_PROGRESS); recreate (ROLLBACK_COMPLETE: a
    failed first create can take no change set, so it is deleted and created again); refused
    while another operation is in progress (StackBusy); nothing to do when the stack already
    runs these inputs; else update. A change set found empty when created also ends the plan
    there (the executor's part: only CloudFormation can say). `approval` puts a confirmation
    after the change set's preview; `smoke` and `record` follow a successful execution.
    """
    if inputs.stack != state.name:
        raise ValueError(f"inputs for {inputs.stack}, state of {state.name}")
    _refuse_busy(state)
    name = inputs.stack
    if unchanged(inputs, state):
        return Plan(
            NOTHING,
            (),
            (
                f"no changes: {name} already runs this template with these "
                "parameters and tags; nothing was touched",
            ),
            inputs,
        )
    steps: list[Step] = []
    notes: list[str] = []
    if state.status == "ROLLBACK_COMPLETE":
        kind = RECREATE
        steps.append(
            Step(
                DELETE_STACK,
                name,
                f"delete {name}, left in ROLLBACK_COMPLETE by a "
                "failed create (it holds no resources)",
            )
        )
        notes.append(
            f"{name} is ROLLBACK_COMPLETE (a failed first create): it is deleted and created again"
        )
    elif state.status in (None, "REVIEW_IN_PROGRESS"):
        kind = CREATE
    else:
        kind = UPDATE
    verb = "update" if kind == UPDATE else "create"
    steps.append(
        Step(
            CREATE_CHANGE_SET,
            name,
            f"create a change set to {verb} {name} "
            f"({len(inputs.parameters)} parameters, every one explicit)",
        )
    )
    if approval:
        steps.append(Step(APPROVE, name, f"ask for approval of the change set to {name}"))
    steps.append(Step(EXECUTE_CHANGE_SET, name, f"execute the change set and wait for {name}"))
    if smoke:
        steps.append(Step(SMOKE, name, "smoke the endpoint with the manifest's golden examples"))
    if record:
        steps.append(Step(RECORD_RELEASE, name, "record the release (never overwritten)"))
    return Plan(kind, tuple(steps), tuple(notes), inputs)


def delete_plan(states: list[StackState], why: Mapping[str, str] | None = None) -> Plan:
    """Delete these stacks (teardown: one; sweep: every stale one). A stack that does not
    exist is nothing to do; one another operation is working on is refused (StackBusy)
    before any is deleted."""
    why = why or {}
    for state in states:
        _refuse_busy(state)
    steps = tuple(
        Step(
            DELETE_STACK,
            s.name,
            f"delete {s.name}" + (f" ({why[s.name]})" if s.name in why else ""),
        )
        for s in states
        if s.status not in (None, "DELETE_COMPLETE")
    )
    gone = [s.name for s in states if s.status in (None, "DELETE_COMPLETE")]
    notes = tuple(f"{name} does not exist; nothing to delete" for name in gone)
    return Plan(DELETE if steps else NOTHING, steps, notes)
