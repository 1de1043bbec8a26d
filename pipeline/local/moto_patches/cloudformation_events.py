"""CloudFormation corrections: per-resource stack events.

Owns: `Stack.__init__` (to know stacks by id), `parsing.parse_and_create_resource`,
`parsing.parse_and_update_resource` and `ResourceMap._delete_resource`
(moto.cloudformation), each wrapped to log the resource's *_IN_PROGRESS and *_COMPLETE
events; and the helpers the rollback logs its own events with (`event`, `stack_event`).
Must not: change what a resource's create, update or delete does, or catch its errors
(cloudformation_rollback.py does, and is applied after, around these wrappers).

AWS behaviour: CloudFormation User Guide, "View stack events"; API reference StackEvent and
DescribeStackEvents.
Upstream: not reported (getmoto/moto#653 added DescribeStackEvents with stack-level events
only, noting per-resource events as not done).
"""

from __future__ import annotations

import functools

# Stack id -> the stack, so that a resource map (which knows only the id) can log its events.
_STACKS: dict = {}


def event(stack, logical_id, resource_type, status, reason=None, physical_id="") -> None:
    from moto.cloudformation.models import Event

    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical_id,
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def stack_event(stack, status, reason=None) -> None:
    event(stack, stack.name, "AWS::CloudFormation::Stack", status, reason, stack.stack_id)


def _physical_id(resource) -> str:
    try:
        return str(getattr(resource, "physical_resource_id", "") or "")
    except Exception:  # some models compute it from state that may be gone
        return ""


def _resource_event(resources_map, logical_id, resource_json, status, resource=None) -> None:
    stack = _STACKS.get(resources_map.stack_id)
    if stack is not None:
        kind = resource_json.get("Type", "") if isinstance(resource_json, dict) else ""
        event(stack, logical_id, kind, status, None, _physical_id(resource))


def resources_log_their_events() -> None:
    """AWS: every resource a create, update or delete touches logs its own events between the
    stack's *_IN_PROGRESS and *_COMPLETE: CREATE_IN_PROGRESS then CREATE_COMPLETE for a new
    resource, UPDATE_IN_PROGRESS then UPDATE_COMPLETE for a changed one, DELETE_IN_PROGRESS
    then DELETE_COMPLETE for a removed one, each with its LogicalResourceId, ResourceType and
    PhysicalResourceId
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackEvent.html).
    moto logged stack-level events only. A failed update's rollback logs the events of what it
    puts back and deletes. (moto's UpdateStack diff can count an unchanged resource as
    modified, e.g. an SNS topic; it then logs UPDATE_* events too, and gets a new ARN.)

    Replaces (wraps): moto.cloudformation.models.Stack.__init__,
    moto.cloudformation.parsing.parse_and_create_resource, parse_and_update_resource and
    ResourceMap._delete_resource.
    Upstream: not reported (getmoto/moto#653 left per-resource events out)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Stack

    original_init = Stack.__init__

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        _STACKS[self.stack_id] = self

    Stack.__init__ = __init__

    def logged(original, verb):
        @functools.wraps(original)
        def wrapper(logical_id, resource_json, resources_map, *args, **kwargs):
            before = resources_map._parsed_resources.get(logical_id) if verb == "UPDATE" else None
            resource = original(logical_id, resource_json, resources_map, *args, **kwargs)
            if resource is not None:  # None: a resource whose Condition is false
                _resource_event(
                    resources_map, logical_id, resource_json, f"{verb}_IN_PROGRESS", before
                )
                _resource_event(
                    resources_map, logical_id, resource_json, f"{verb}_COMPLETE", resource
                )
            return resource

        return wrapper

    parsing.parse_and_create_resource = logged(parsing.parse_and_create_resource, "CREATE")
    parsing.parse_and_update_resource = logged(parsing.parse_and_update_resource, "UPDATE")

    original_delete = parsing.ResourceMap._delete_resource

    @functools.wraps(original_delete)
    def _delete_resource(self, parsed_resource, resource_json):
        original_delete(self, parsed_resource, resource_json)
        logical_id = getattr(parsed_resource, "logical_resource_id", "")
        _resource_event(self, logical_id, resource_json, "DELETE_IN_PROGRESS", parsed_resource)
        _resource_event(self, logical_id, resource_json, "DELETE_COMPLETE", parsed_resource)

    parsing.ResourceMap._delete_resource = _delete_resource
