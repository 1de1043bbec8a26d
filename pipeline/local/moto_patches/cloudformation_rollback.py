"""CloudFormation corrections: a failing resource rolls the stack back, as on AWS.

Owns: the ResourceFailed error and the wrappers that raise it around
`parsing.parse_and_create_resource` / `parse_and_update_resource`; `CloudFormationBackend.
create_stack` and `update_stack` (moto.cloudformation.models); and the two rollback steps
(`snapshot_before`, `roll_back`) that cloudformation_execution.py composes into its one
replacement of `execute_change_set`. Must not: replace `execute_change_set` itself, or
log the events of successful operations (cloudformation_events.py).

AWS behaviour: CloudFormation User Guide, "Choose how to handle failures when provisioning
resources" (stack-failure-options) and "Update stacks" (UPDATE_ROLLBACK_COMPLETE); API
reference CreateStack (OnFailure: ROLLBACK by default), ExecuteChangeSet.
Upstream: not reported.
"""

from __future__ import annotations

import functools

from pipeline.local.moto_patches.cloudformation_events import event, stack_event

# Resource type prefix -> moto backend holding those resources. A rollback restores these
# backends whole, from a copy taken before the update; resources of every other type are kept
# as the live objects (an SQS queue holds a lock, an S3 bucket its objects' contents: neither
# can or should be copied) and are rolled back one by one (_roll_back_resources, _clean_up).
_BACKENDS = {
    "AWS::SageMaker::": "sagemaker",
    "AWS::CloudWatch::": "cloudwatch",
    "AWS::ApplicationAutoScaling::": "applicationautoscaling",
}


class ResourceFailed(Exception):
    """A resource's create or update failed inside the emulator; carries what AWS reports."""

    def __init__(self, logical_id: str, resource_type: str, reason: str, verb: str = "UPDATE"):
        super().__init__(reason)
        self.logical_id, self.resource_type, self.reason = logical_id, resource_type, reason
        self.verb = verb  # CREATE or UPDATE: what was being done to the resource


def _restored_whole(resource_type: str) -> bool:
    return any(resource_type.startswith(prefix) for prefix in _BACKENDS)


def _types(*templates) -> set[str]:
    return {
        body.get("Type", "")
        for template in templates
        if isinstance(template, dict)
        for body in (template.get("Resources") or {}).values()
        if isinstance(body, dict)
    }


def _backends_of(stack, new_template=None) -> dict:
    """The backends of _BACKENDS holding resources of the stack as it is or as it will be."""
    from moto.backends import get_backend

    types = _types(stack.template_dict, new_template)
    names = {name for prefix, name in _BACKENDS.items() for t in types if t.startswith(prefix)}
    return {name: get_backend(name)[stack.account_id][stack.region_name] for name in names}


def _snapshot(stack, new_template=None) -> dict:
    """Everything an update may change, copied in one deepcopy so shared objects stay shared:
    the stack's resource map, Outputs, template and parameters, and the backends of _BACKENDS.
    Resources of other types are not copied: the copy refers to the live objects ("live")."""
    import copy

    backends = _backends_of(stack, new_template)
    resource_map = stack.resource_map
    live = {
        name: resource
        for name, resource in resource_map._parsed_resources.items()
        if name in resource_map._resource_json_map
        and resource is not None
        and not isinstance(resource, str)
    }
    memo = {id(b): b for b in backends.values()}
    for name, resource in live.items():
        if not _restored_whole(resource_map._resource_json_map[name].get("Type", "")):
            memo[id(resource)] = resource
    state = {
        "resource_map": resource_map,
        "output_map": stack.output_map,
        "template": stack.template,
        "parameters": stack.parameters,
        "backends": {name: backend.__dict__ for name, backend in backends.items()},
    }
    try:
        copied = copy.deepcopy(state, memo=dict(memo))
    except Exception:  # an object no copy can be made of: keep whatever holds it live
        for resource in live.values():
            try:
                copy.deepcopy(resource, dict(memo))
            except Exception:
                memo[id(resource)] = resource
        copied = copy.deepcopy(state, memo=dict(memo))
    return {**copied, "backend_objects": backends, "live": live, "events": len(stack.events)}


def _restore(stack, snapshot: dict) -> None:
    stack.resource_map = snapshot["resource_map"]
    stack.output_map = snapshot["output_map"]
    stack.template = snapshot["template"]
    stack._parse_template()
    stack.parameters = snapshot["parameters"]
    for name, state in snapshot["backends"].items():
        backend = snapshot["backend_objects"][name]
        backend.__dict__.clear()
        backend.__dict__.update(state)


def _roll_back_resources(stack, failed, snapshot: dict) -> None:
    """Put back, one by one, the live resources (those not restored with their backend) that
    the failed update touched, as its events tell: one updated in place gets its previous
    properties again; one replaced, or removed (moto deletes removed resources first, AWS
    only once the update has succeeded), is created again from its previous properties."""
    from moto.cloudformation import parsing

    restored, live = stack.resource_map, snapshot["live"]
    touched = {
        (e.logical_resource_id, e.resource_status) for e in stack.events[snapshot["events"] :]
    }
    for name, body in restored._resource_json_map.items():
        if name not in live or _restored_whole(body.get("Type", "")):
            continue
        replaced = failed._parsed_resources.get(name, live[name]) is not live[name]
        try:
            if replaced or (name, "DELETE_COMPLETE") in touched:
                restored._parsed_resources.pop(name, None)
                try:
                    restored[name]  # the lazy map creates it
                except Exception:
                    restored._parsed_resources[name] = live[name]
                    raise
            elif (name, "UPDATE_COMPLETE") in touched:
                updated = parsing.parse_and_update_resource(
                    name,
                    body,
                    restored,
                    account_id=stack.account_id,
                    region_name=stack.region_name,
                )
                if updated is not None:
                    restored._parsed_resources[name] = updated
        except Exception:  # noqa: S112 - the rollback goes on, as AWS's does
            continue


def _clean_up(failed, snapshot: dict) -> None:
    """Delete the live resources the failed update created (AWS does so in the
    UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS phase)."""
    live = snapshot["live"]
    for name, resource in list(failed._parsed_resources.items()):
        body = failed._resource_json_map.get(name)
        if body is None or resource is None or isinstance(resource, str):
            continue
        if _restored_whole(body.get("Type", "")) or live.get(name) is resource:
            continue
        try:
            failed._delete_resource(resource, body)
        except Exception:  # noqa: S112
            continue


def _roll_back_update(stack, snapshot: dict, failure: ResourceFailed) -> None:
    verb = failure.verb
    event(stack, failure.logical_id, failure.resource_type, f"{verb}_IN_PROGRESS")
    event(stack, failure.logical_id, failure.resource_type, f"{verb}_FAILED", failure.reason)
    listed = f"The following resource(s) failed to {verb.lower()}: [{failure.logical_id}]."
    stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", listed)
    failed = stack.resource_map
    _restore(stack, snapshot)
    _roll_back_resources(stack, failed, snapshot)
    stack_event(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    _clean_up(failed, snapshot)
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack_event(stack, stack.status)


def _roll_back_create(stack, failure: ResourceFailed) -> None:
    from moto.cloudformation.models import OutputMap

    event(stack, failure.logical_id, failure.resource_type, "CREATE_IN_PROGRESS")
    event(stack, failure.logical_id, failure.resource_type, "CREATE_FAILED", failure.reason)
    listed = f"The following resource(s) failed to create: [{failure.logical_id}]."
    stack_event(stack, "ROLLBACK_IN_PROGRESS", f"{listed} Rollback requested by user.")
    stack.resource_map.delete()  # each deleted resource logs DELETE_IN_PROGRESS/_COMPLETE
    stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)
    stack.status = "ROLLBACK_COMPLETE"
    stack_event(stack, stack.status)


def failing_resources_roll_back() -> None:
    """AWS: ExecuteChangeSet returns at once; a resource that then fails gets a
    CREATE_FAILED / UPDATE_FAILED event with the reason, and the stack rolls back: a failed
    create ends in ROLLBACK_COMPLETE with what it had created deleted; a failed update ends
    in UPDATE_ROLLBACK_COMPLETE with the previous resources, parameters and Outputs intact
    and what it had created deleted. CreateStack and UpdateStack likewise return, and the
    stack rolls back
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stack-failure-options.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks.html).
    moto let the error escape from ExecuteChangeSet, CreateStack and UpdateStack (HTTP 500),
    left the stack in *_IN_PROGRESS, and recorded stack-level events only. The rollback works
    for a stack holding resources of any type: only the backends of _BACKENDS are copied.

    Replaces (wraps): moto.cloudformation.parsing.parse_and_create_resource and
    parse_and_update_resource (a failure becomes ResourceFailed, naming the resource),
    CloudFormationBackend.create_stack and update_stack. ExecuteChangeSet's rollback is the
    pair of steps below, composed by cloudformation_execution.execute_change_set_as_aws.
    Upstream: not reported."""
    from moto.cloudformation import parsing
    from moto.cloudformation.models import CloudFormationBackend, Stack

    def annotate(original, verb):
        @functools.wraps(original)
        def wrapper(logical_id, resource_json, *args, **kwargs):
            try:
                return original(logical_id, resource_json, *args, **kwargs)
            except ResourceFailed:
                raise
            except Exception as exc:
                reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                kind = resource_json.get("Type", "")
                raise ResourceFailed(logical_id, kind, reason, verb) from exc

        return wrapper

    parsing.parse_and_create_resource = annotate(parsing.parse_and_create_resource, "CREATE")
    parsing.parse_and_update_resource = annotate(parsing.parse_and_update_resource, "UPDATE")

    original_create = CloudFormationBackend.create_stack

    # CreateStack (taskcat uses it) fails the same way: it returns the stack at once, and
    # the stack rolls back (OnFailure's default, ROLLBACK).
    @functools.wraps(original_create)
    def create_stack(self, name, *args, **kwargs):
        try:
            return original_create(self, name, *args, **kwargs)
        except ResourceFailed as failure:
            stack = next(s for s in self.stacks.values() if s.name == name)
            _roll_back_create(stack, failure)
            return stack

    CloudFormationBackend.create_stack = create_stack

    original_update = CloudFormationBackend.update_stack

    # UpdateStack (not a change set) fails the same way: it returns, and the stack rolls back.
    @functools.wraps(original_update)
    def update_stack(self, name, template, *args, **kwargs):
        stack = self.get_stack(name)
        try:
            new_template = Stack.parse_template(template)
        except Exception:
            new_template = None
        snapshot = _snapshot(stack, new_template)
        try:
            return original_update(self, name, template, *args, **kwargs)
        except ResourceFailed as failure:
            _roll_back_update(stack, snapshot, failure)
            return stack

    CloudFormationBackend.update_stack = update_stack


def snapshot_before(stack, change_set) -> dict | None:
    """Step of ExecuteChangeSet, before moto carries the change set out: what a failed UPDATE
    must put back (None for a CREATE, whose rollback deletes everything)."""
    if change_set.change_set_type != "UPDATE":
        return None
    return _snapshot(stack, change_set.template_dict)


def roll_back(stack, change_set, snapshot: dict | None, failure: ResourceFailed) -> None:
    """Step of ExecuteChangeSet, when a resource failed. AWS: ExecuteChangeSet has returned;
    the change set is EXECUTE_FAILED and the stack rolls back to ROLLBACK_COMPLETE (create)
    or UPDATE_ROLLBACK_COMPLETE (update), as failing_resources_roll_back describes. moto let
    the error escape its CloudFormationBackend.execute_change_set (HTTP 500) and left the
    stack *_IN_PROGRESS. Run by cloudformation_execution.execute_change_set_as_aws.
    Upstream: not reported."""
    change_set.execution_status = "EXECUTE_FAILED"
    if change_set.change_set_type == "UPDATE":
        _roll_back_update(stack, snapshot, failure)
    else:
        _roll_back_create(stack, failure)
