"""CloudFormation corrections: ExecuteChangeSet, composed once from its behaviours.

Owns: the only replacement of `CloudFormationBackend.execute_change_set`
(moto.cloudformation.models). What AWS does on ExecuteChangeSet is corrected in three places,
and this module runs them in one visible order instead of three stacked wraps:

1. stack_operations_take_time: with a delay, return at once with the stack *_IN_PROGRESS and
   carry the change set out later (on a timer thread);
2. cloudformation_rollback.snapshot_before: what a failed update must put back;
3. moto's own execute_change_set carries the change set out;
4a. on a failed resource, cloudformation_rollback.roll_back;
4b. on success, cloudformation_changesets.outputs_after_change_sets, then
    cloudformation_changesets.tags_after_change_sets.

Must not: hold the logic of those behaviours (their modules do), or patch anything else.

AWS behaviour: CloudFormation API reference ExecuteChangeSet ("...CloudFormation starts
updating the stack. Use DescribeStacks to track the status"); User Guide "Update
CloudFormation stacks using change sets".
Upstream: see each step.
"""

from __future__ import annotations

import functools
import threading

from pipeline.local.moto_patches import cloudformation_changesets as changesets
from pipeline.local.moto_patches import cloudformation_rollback as rollback


def stack_operations_take_time(
    backend, change_set_name, stack_name, delay_seconds: float, carry_out
) -> None:
    """AWS: ExecuteChangeSet returns while the stack is still CREATE_IN_PROGRESS or
    UPDATE_IN_PROGRESS, and it stays so for as long as its resources take. moto finished
    within the call. With a delay set, the sandbox keeps the stack *_IN_PROGRESS for that
    many seconds and then carries the change set out, so waiters and "another deploy is
    running" refusals can be exercised. Default: no delay.

    A step of execute_change_set_as_aws (it used to wrap moto's
    CloudFormationBackend.execute_change_set outermost).
    Upstream: not reported (moto's stack operations are synchronous by design)."""
    change_set = backend.describe_change_set(change_set_name)
    stack = backend.stacks[change_set.stack_id]
    stack.status = f"{change_set.change_set_type}_IN_PROGRESS"
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    timer = threading.Timer(delay_seconds, carry_out, (backend, change_set_name, stack_name))
    timer.daemon = True
    timer.start()


def execute_change_set_as_aws(delay_seconds: float = 0.0) -> None:
    """Replace moto.cloudformation.models.CloudFormationBackend.execute_change_set once, by
    the steps of the module docstring, in that order. Apply after
    cloudformation_rollback.failing_resources_roll_back (whose ResourceFailed it catches)."""
    from moto.cloudformation.models import CloudFormationBackend

    moto_execute = CloudFormationBackend.execute_change_set

    def carry_out(backend, change_set_name, stack_name=None) -> None:
        change_set = backend.describe_change_set(change_set_name)
        stack = backend.stacks[change_set.stack_id]
        snapshot = rollback.snapshot_before(stack, change_set)  # 2
        try:
            moto_execute(backend, change_set_name, stack_name)  # 3
        except rollback.ResourceFailed as failure:
            rollback.roll_back(stack, change_set, snapshot, failure)  # 4a
            return
        changesets.outputs_after_change_sets(backend, change_set)  # 4b
        changesets.tags_after_change_sets(backend, change_set)

    @functools.wraps(moto_execute)
    def execute_change_set(self, change_set_name, stack_name=None):
        if delay_seconds > 0:  # 1
            stack_operations_take_time(self, change_set_name, stack_name, delay_seconds, carry_out)
        else:
            carry_out(self, change_set_name, stack_name)

    CloudFormationBackend.execute_change_set = execute_change_set
