"""Corrections to the emulator's CloudFormation, so that the sandbox behaves as AWS does.

moto's CloudFormation differs from AWS in ways the pipeline depends on (DESIGN.md, "Local
sandbox: known facts"). Each gap is corrected here, in one place, by a function whose
docstring names the AWS behaviour it restores; `apply()` installs them all in the emulator
process when the sandbox starts. Templates in infra/ never work around these gaps.

The corrections patch moto internals, so they are written against one exact moto version
(PINNED_MOTO_VERSION); a test fails when the installed version differs, so that every
correction is re-checked on upgrade.
"""

from __future__ import annotations

import functools
import json

PINNED_MOTO_VERSION = "5.2.5"

_applied = False


def outputs_after_change_sets() -> None:
    """AWS: after ExecuteChangeSet the stack's Outputs, Parameters and template are those of
    the change set. moto kept the Outputs (and parameters) of the stack as it was before:
    empty for a stack created by a change set, stale after an update."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    @functools.wraps(original)
    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.describe_change_set(change_set_name)
        original(self, change_set_name, stack_name)
        stack = self.stacks[change_set.stack_id]
        stack.parameters = dict(change_set.parameters)
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        for export in stack.exports:
            self.exports[export.name] = export

    CloudFormationBackend.execute_change_set = execute_change_set


def no_op_change_set_fails() -> None:
    """AWS: CreateChangeSet for an UPDATE that changes nothing succeeds, and the change set
    then has Status FAILED, ExecutionStatus UNAVAILABLE and StatusReason "The submitted
    information didn't contain changes. Submit different information to create a change
    set." moto instead rejected the call with "No updates are to be performed." (which is
    what AWS says for UpdateStack, where the check stays)."""
    from moto.cloudformation.responses import CloudFormationResponse

    original = CloudFormationResponse.create_change_set

    @functools.wraps(original)
    def create_change_set(self):
        self._validate_different_update = lambda *args, **kwargs: None  # this call only
        try:
            return original(self)
        finally:
            del self._validate_different_update

    CloudFormationResponse.create_change_set = create_change_set


# What a change to a resource's properties does to it on AWS, by type (from the resource
# type references' "Update requires" lines). Types not listed are reported as Conditional.
_REPLACED_ON_CHANGE = {"AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig"}
_UPDATED_IN_PLACE = {
    "AWS::SageMaker::Endpoint",
    "AWS::CloudWatch::Alarm",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
}


def _references(node) -> set[str]:
    """Logical ids and parameters a template fragment refers to (Ref, GetAtt, Sub)."""
    import re

    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) else str(value).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if isinstance(value, list):
                    found |= _references(value[1:])
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _replacement(resource_type: str) -> str:
    if resource_type in _REPLACED_ON_CHANGE:
        return "True"
    if resource_type in _UPDATED_IN_PLACE:
        return "False"
    return "Conditional"


def _propagate(resources: dict, modified: list[str]) -> list[str]:
    """Add the resources that refer to a replaced one: its new name or ARN reaches them, so
    AWS updates them too (an EndpointConfig naming a replaced Model, and so on)."""
    modified = list(modified)
    changed = True
    while changed:
        changed = False
        replaced = {n for n in modified if _replacement(resources[n]["Type"]) == "True"}
        for name, body in resources.items():
            if name not in modified and _references(body) & replaced:
                modified.append(name)
                changed = True
    return modified


def _active(resources: dict, conditions) -> set[str]:
    """Names of the resources whose Condition holds (or that have none)."""
    return {name for name, body in resources.items()
            if "Condition" not in body or conditions[body["Condition"]]}  # fmt: skip


def _conditions(change_set):
    """The change set template's conditions, evaluated with the change set's parameters."""
    from moto.cloudformation.parsing import ResourceMap

    stack = change_set.stack
    resources = ResourceMap(stack.stack_id, stack.name, change_set.parameters, {},
                            stack.region_name, stack.account_id, change_set.template_dict,
                            {})  # fmt: skip
    resources.load()
    return resources.lazy_condition_map


def parameter_changes_in_change_sets() -> None:
    """AWS: an UPDATE change set whose only difference is parameter values lists, as Modify,
    every resource that uses a changed parameter and every resource that refers to one of
    those that is replaced, each with Replacement True, False or Conditional; a resource whose
    Condition is false is not listed (it is Add or Remove when the condition flips). moto
    compared templates only, so such a change set listed no changes, never said
    Replacement, and listed resources its conditions leave out."""
    from moto.cloudformation.models import Change, ChangeSet

    def diff(self):
        resource_map = self.stack.resource_map
        by_action = resource_map.build_resource_diff(self.template_dict, self.parameters)
        new = self.template_dict.get("Resources", {})
        # Resources whose Condition is false exist on neither side: AWS lists a resource
        # as Add/Remove when its condition turns true/false, and never one that stays off.
        before = _active(resource_map._resource_json_map,
                         getattr(resource_map, "lazy_condition_map", {}))  # fmt: skip
        after = _active(new, _conditions(self))
        by_action = {
            "Add": [n for n in new if n in after and n not in before],
            "Modify": [n for n in by_action["Modify"] if n in before and n in after],
            "Remove": [n for n in resource_map._resource_json_map
                       if n in before and n not in after],
        }  # fmt: skip
        changes = []
        for action in ("Add", "Modify", "Remove"):
            for name in by_action[action]:
                body = new.get(name) or resource_map._resource_json_map[name]
                change = Change(action, name, body["Type"])
                if action == "Modify":
                    change.replacement = _replacement(body["Type"])
                changes.append(change)
        return changes

    ChangeSet.diff = diff


def replaced_resources_update_their_dependents() -> None:
    """AWS: when an update replaces a resource (a Model with a new ModelDataUrl gets a new
    name), resources that refer to it are updated to the replacement, so the EndpointConfig
    names the new Model and the Endpoint moves to the new EndpointConfig. moto replaced the
    Model and left the EndpointConfig and Endpoint pointing at the deleted one."""
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap.build_resource_diff

    @functools.wraps(original)
    def build_resource_diff(self, other_template, parameters=None):
        by_action = original(self, other_template, parameters)
        resources = other_template.get("Resources", {})
        existing = [
            n for n in _propagate(resources, by_action["Modify"]) if n in self._resource_json_map
        ]
        by_action["Modify"] = existing
        return by_action

    ResourceMap.build_resource_diff = build_resource_diff


# Resource type prefix -> moto backend holding those resources. A rollback restores these
# backends whole, from a copy taken before the update; resources of every other type are kept
# as the live objects (an SQS queue holds a lock, an S3 bucket its objects' contents: neither
# can or should be copied) and are rolled back one by one (_roll_back_resources, _clean_up).
_BACKENDS = {
    "AWS::SageMaker::": "sagemaker",
    "AWS::CloudWatch::": "cloudwatch",
    "AWS::ApplicationAutoScaling::": "applicationautoscaling",
}
# Stack id -> the stack, so that a resource map (which knows only the id) can log its events.
_STACKS: dict = {}


def _event(stack, logical_id, resource_type, status, reason=None, physical_id="") -> None:
    from moto.cloudformation.models import Event

    stack.events.append(
        Event(
            stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
            physical_resource_id=physical_id, resource_type=resource_type,
            resource_status=status, resource_status_reason=reason, resource_properties=None,
        )
    )  # fmt: skip


def _stack_event(stack, status, reason=None) -> None:
    _event(stack, stack.name, "AWS::CloudFormation::Stack", status, reason, stack.stack_id)


def _physical_id(resource) -> str:
    try:
        return str(getattr(resource, "physical_resource_id", "") or "")
    except Exception:  # some models compute it from state that may be gone
        return ""


def _resource_event(resources_map, logical_id, resource_json, status, resource=None) -> None:
    stack = _STACKS.get(resources_map.stack_id)
    if stack is not None:
        kind = resource_json.get("Type", "") if isinstance(resource_json, dict) else ""
        _event(stack, logical_id, kind, status, None, _physical_id(resource))


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
    modified, e.g. an SNS topic; it then logs UPDATE_* events too, and gets a new ARN.)"""
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
                _resource_event(resources_map, logical_id, resource_json, f"{verb}_IN_PROGRESS",
                                before)  # fmt: skip
                _resource_event(resources_map, logical_id, resource_json, f"{verb}_COMPLETE",
                                resource)  # fmt: skip
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
        for template in templates if isinstance(template, dict)
        for body in (template.get("Resources") or {}).values() if isinstance(body, dict)
    }  # fmt: skip


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
        name: resource for name, resource in resource_map._parsed_resources.items()
        if name in resource_map._resource_json_map and resource is not None
        and not isinstance(resource, str)
    }  # fmt: skip
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
                    name, body, restored, account_id=stack.account_id,
                    region_name=stack.region_name,
                )  # fmt: skip
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
    _event(stack, failure.logical_id, failure.resource_type, f"{verb}_IN_PROGRESS")
    _event(stack, failure.logical_id, failure.resource_type, f"{verb}_FAILED", failure.reason)
    listed = f"The following resource(s) failed to {verb.lower()}: [{failure.logical_id}]."
    _stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS", listed)
    failed = stack.resource_map
    _restore(stack, snapshot)
    _roll_back_resources(stack, failed, snapshot)
    _stack_event(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    _clean_up(failed, snapshot)
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    _stack_event(stack, stack.status)


def _roll_back_create(stack, failure: ResourceFailed) -> None:
    from moto.cloudformation.models import OutputMap

    _event(stack, failure.logical_id, failure.resource_type, "CREATE_IN_PROGRESS")
    _event(stack, failure.logical_id, failure.resource_type, "CREATE_FAILED", failure.reason)
    listed = f"The following resource(s) failed to create: [{failure.logical_id}]."
    _stack_event(stack, "ROLLBACK_IN_PROGRESS", f"{listed} Rollback requested by user.")
    stack.resource_map.delete()  # each deleted resource logs DELETE_IN_PROGRESS/_COMPLETE
    stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)
    stack.status = "ROLLBACK_COMPLETE"
    _stack_event(stack, stack.status)


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
    for a stack holding resources of any type: only the backends of _BACKENDS are copied."""
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

    original = CloudFormationBackend.execute_change_set

    @functools.wraps(original)
    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        updating = change_set.change_set_type == "UPDATE"
        snapshot = _snapshot(stack, change_set.template_dict) if updating else None
        try:
            original(self, change_set_name, stack_name)
        except ResourceFailed as failure:
            change_set.execution_status = "EXECUTE_FAILED"
            if updating:
                _roll_back_update(stack, snapshot, failure)
            else:
                _roll_back_create(stack, failure)

    CloudFormationBackend.execute_change_set = execute_change_set

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


def alarms_and_autoscaling_in_stacks() -> None:
    """AWS: AWS::CloudWatch::Alarm (Ref: the alarm name; GetAtt Arn),
    AWS::ApplicationAutoScaling::ScalableTarget (Ref: "ResourceId|ScalableDimension|
    ServiceNamespace") and ::ScalingPolicy (Ref and GetAtt Arn: the policy ARN) are created
    by the stack, visible through their own APIs, and resolvable in Refs and Outputs. moto
    has no CloudFormation support for them: they were skipped, and Outputs referring to them
    broke DescribeStacks."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends
    from moto.cloudformation import parsing
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core.common_models import CloudFormationModel

    class StackModel:
        """What the three types share: a type name, an optional Arn attribute, and updates
        that create the resource anew from the new properties. A mixin, because moto finds
        resource types among CloudFormationModel's direct subclasses only."""

        TYPE = ""

        @classmethod
        def cloudformation_type(cls):
            return cls.TYPE

        @classmethod
        def has_cfn_attr(cls, attr):
            return attr == "Arn" and "arn" in cls.__dict__

        def get_cfn_attribute(self, attr):
            return self.arn

        @classmethod
        def update_from_cloudformation_json(
            cls, original_resource, new_resource_name, cloudformation_json, account_id,
            region_name,
        ):  # fmt: skip
            cls.delete_from_cloudformation_json(
                original_resource.physical_resource_id, cloudformation_json, account_id,
                region_name,
            )  # fmt: skip
            return cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )

    class StackAlarm(StackModel, CloudFormationModel):
        TYPE = "AWS::CloudWatch::Alarm"

        def __init__(self, alarm):
            self.alarm = alarm

        @staticmethod
        def cloudformation_name_type():
            return "AlarmName"

        @property
        def physical_resource_id(self):
            return self.alarm.name

        @property
        def arn(self):
            return self.alarm.alarm_arn

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            props = cloudformation_json["Properties"]
            alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
                name=props.get("AlarmName") or resource_name,
                namespace=props.get("Namespace"),
                metric_name=props.get("MetricName"),
                comparison_operator=props["ComparisonOperator"],
                evaluation_periods=int(props["EvaluationPeriods"]),
                period=int(props.get("Period", 60)),
                threshold=float(props.get("Threshold", 0)),
                statistic=props.get("Statistic"),
                description=props.get("AlarmDescription"),
                dimensions=props.get("Dimensions", []),
                alarm_actions=props.get("AlarmActions", []),
                datapoints_to_alarm=props.get("DatapointsToAlarm"),
                extended_statistic=props.get("ExtendedStatistic"),
                unit=props.get("Unit"),
                treat_missing_data=props.get("TreatMissingData"),
            )
            return cls(alarm)

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name
        ):
            cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    def _target(props):
        """(namespace, resource id, dimension) of a scalable target or a policy's target."""
        if "ScalingTargetId" in props:  # the target's Ref: "ResourceId|Dimension|Namespace"
            resource_id, dimension, namespace = props["ScalingTargetId"].split("|")
            return namespace, resource_id, dimension
        return props["ServiceNamespace"], props["ResourceId"], props["ScalableDimension"]

    class StackScalableTarget(StackModel, CloudFormationModel):
        TYPE = "AWS::ApplicationAutoScaling::ScalableTarget"

        def __init__(self, namespace, resource_id, dimension):
            self.namespace, self.resource_id, self.dimension = namespace, resource_id, dimension

        @property
        def physical_resource_id(self):
            return f"{self.resource_id}|{self.dimension}|{self.namespace}"

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            props = cloudformation_json["Properties"]
            namespace, resource_id, dimension = _target(props)
            applicationautoscaling_backends[account_id][region_name].register_scalable_target(
                namespace=namespace, r_id=resource_id, dimension=dimension,
                min_capacity=int(props["MinCapacity"]), max_capacity=int(props["MaxCapacity"]),
                role_arn=props.get("RoleARN"), suspended_state=props.get("SuspendedState"),
            )  # fmt: skip
            return cls(namespace, resource_id, dimension)

        # Stack deletion calls delete() on the created object (moto would otherwise fall
        # back to the template's unresolved properties).
        def delete(self, account_id, region_name):
            backend = applicationautoscaling_backends[account_id][region_name]
            backend.deregister_scalable_target(self.namespace, self.resource_id, self.dimension)

    class StackScalingPolicy(StackModel, CloudFormationModel):
        TYPE = "AWS::ApplicationAutoScaling::ScalingPolicy"

        def __init__(self, policy):
            self.policy = policy

        @property
        def physical_resource_id(self):
            return self.policy.policy_arn

        @property
        def arn(self):
            return self.policy.policy_arn

        @classmethod
        def create_from_cloudformation_json(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        ):
            props = cloudformation_json["Properties"]
            namespace, resource_id, dimension = _target(props)
            policy = applicationautoscaling_backends[account_id][region_name].put_scaling_policy(
                policy_name=props["PolicyName"], service_namespace=namespace,
                resource_id=resource_id, scalable_dimension=dimension,
                policy_type=props.get("PolicyType"),
                policy_body=props.get("TargetTrackingScalingPolicyConfiguration")
                or props.get("StepScalingPolicyConfiguration"),
            )  # fmt: skip
            return cls(policy)

        def delete(self, account_id, region_name):
            policy = self.policy
            applicationautoscaling_backends[account_id][region_name].delete_scaling_policy(
                policy.policy_name, policy.service_namespace, policy.resource_id,
                policy.scalable_dimension,
            )  # fmt: skip

    # moto builds its type map once from CloudFormationModel's subclasses; rebuild it.
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def sagemaker_stack_properties_kept() -> None:
    """AWS: the Endpoint, EndpointConfig and Model take their names from the EndpointName,
    EndpointConfigName and ModelName properties when a template sets them, and the
    Endpoint's DeploymentConfig (blue/green policy, auto-rollback alarms) is stored and
    returned by DescribeEndpoint. moto ignored those name properties (generating names) and
    dropped DeploymentConfig."""
    from moto.cloudformation import parsing
    from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, Model

    for model, name_property in (
        (FakeEndpoint, "EndpointName"),
        (FakeEndpointConfig, "EndpointConfigName"),
        (Model, "ModelName"),
    ):
        model.cloudformation_name_type = staticmethod(lambda name=name_property: name)

    original = FakeEndpoint.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, *args, **kw):
        endpoint = original(cls, resource_name, cloudformation_json, *args, **kw)
        deployment_config = cloudformation_json["Properties"].get("DeploymentConfig")
        if deployment_config is not None:
            endpoint.deployment_config = deployment_config  # DescribeEndpoint returns it
        return endpoint

    FakeEndpoint.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def condition_references_in_conditions() -> None:
    """AWS: inside Fn::Not / Fn::And / Fn::Or, `!Condition Name` refers to another
    condition's value, so `IsRealTime: !Not [!Condition IsServerless]` is false for a
    serverless stack. moto's YAML loader turns the short form into {"Fn::Condition": ...},
    which its condition parser did not recognise: it read the dict as a true value, so the
    negation was always true and conditional resources appeared where they should not."""
    from moto.cloudformation import parsing

    original = parsing.parse_condition

    def normalise(node):
        if isinstance(node, dict):
            if set(node) == {"Fn::Condition"}:
                return {"Condition": node["Fn::Condition"]}
            return {key: normalise(value) for key, value in node.items()}
        if isinstance(node, list):
            return [normalise(item) for item in node]
        return node

    @functools.wraps(original)
    def parse_condition(condition, resources_map, condition_map):
        return original(normalise(condition), resources_map, condition_map)

    parsing.parse_condition = parse_condition


def kms_key_tags_from_templates() -> None:
    """AWS: AWS::KMS::Key takes Tags as [{Key, Value}], like every other resource type.
    moto passed them to its KMS tagger, which expects the KMS API's {TagKey, TagValue}, so
    a tagged key failed to create with KeyError 'TagKey'."""
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, *args, **kw):
        properties = cloudformation_json.get("Properties", {})
        if properties.get("Tags"):
            tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties["Tags"]]
            properties = {**properties, "Tags": tags}
            cloudformation_json = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, cloudformation_json, *args, **kw)

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def stack_operations_take_time(delay_seconds: float) -> None:
    """AWS: ExecuteChangeSet returns while the stack is still CREATE_IN_PROGRESS or
    UPDATE_IN_PROGRESS, and it stays so for as long as its resources take. moto finished
    within the call. With a delay set, the sandbox keeps the stack *_IN_PROGRESS for that
    many seconds and then carries the change set out, so waiters and "another deploy is
    running" refusals can be exercised. Default: no delay."""
    import threading

    from moto.cloudformation.models import CloudFormationBackend

    if delay_seconds <= 0:
        return
    original = CloudFormationBackend.execute_change_set

    @functools.wraps(original)
    def execute_change_set(self, change_set_name, stack_name=None):
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        stack.status = f"{change_set.change_set_type}_IN_PROGRESS"
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        timer = threading.Timer(delay_seconds, original, (self, change_set_name, stack_name))
        timer.daemon = True
        timer.start()

    CloudFormationBackend.execute_change_set = execute_change_set


def head_object_reports_composite_checksums() -> None:
    """AWS: HeadObject with checksum mode on a multipart object returns the composite
    checksum as "<base64>-<number of parts>" (as GetObject does) with x-amz-checksum-type
    COMPOSITE. moto's HeadObject dropped the part count, so a composite checksum could not be
    told from a full-object one (and never matched one computed the way S3 does)."""
    from moto.s3.responses import S3Response

    original = S3Response.head_object

    @functools.wraps(original)
    def head_object(self, bucket_name, query, key_name, headers):
        status, response_headers, body = original(self, bucket_name, query, key_name, headers)
        version_id = query.get("versionId", [None])[0]
        if status == 200 and headers.get("x-amz-checksum-mode") == "ENABLED":
            key = self.backend.head_object(bucket_name, key_name, version_id=version_id)
            if key is not None and key.checksum_algorithm and key.checksum_type == "COMPOSITE":
                name = f"x-amz-checksum-{key.checksum_algorithm.lower()}"
                response_headers[name] = f"{key.checksum_value}-{key.checksum_parts}"
                response_headers["x-amz-checksum-type"] = "COMPOSITE"
        return status, response_headers, body

    S3Response.head_object = head_object


def list_parameters_reported_as_given() -> None:
    """AWS: DescribeStacks reports a CommaDelimitedList (or List<...>) parameter as the
    comma-separated string it was given ("a,b"; "" stays ""). moto reported the Python list
    it parsed the value into ("['a', 'b']", "['']"), so a value read back and given again
    (bootstrap keeping the existing stack's options) looked like a change."""
    from moto.cloudformation.models import Stack

    original = Stack.parameter_list.fget

    def parameter_list(self):
        listed = original(self)
        resolved = self.resource_map.resolved_parameters
        for parameter in listed:
            value = resolved.get(parameter["ParameterKey"])
            if isinstance(value, list) and parameter["ParameterValue"] != "****":
                parameter["ParameterValue"] = ",".join(str(v) for v in value)
        return listed

    Stack.parameter_list = property(parameter_list)


def kms_key_spec_and_usage_from_templates() -> None:
    """AWS: AWS::KMS::Key creates the key its KeySpec and KeyUsage name (an ECC_NIST_P256
    SIGN_VERIFY key signs and verifies;
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html).
    moto's Key.create_from_cloudformation_json always made a SYMMETRIC_DEFAULT
    ENCRYPT_DECRYPT key, so Sign on the bootstrap's signing key failed. It also kept the
    KeyPolicy as the template's mapping where KMS keeps a JSON document, so DescribeKey of
    any template key answered HTTP 500 (moto's policy check json.loads the policy)."""
    from moto.kms.models import Key, kms_backends

    original = Key.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id,
                                        region_name, **kw):  # fmt: skip
        properties = cloudformation_json.get("Properties", {})
        if isinstance(properties.get("KeyPolicy"), dict):
            properties = {**properties, "KeyPolicy": json.dumps(properties["KeyPolicy"])}
            cloudformation_json = {**cloudformation_json, "Properties": properties}
        spec = properties.get("KeySpec", "SYMMETRIC_DEFAULT")
        usage = properties.get("KeyUsage", "ENCRYPT_DECRYPT")
        if (spec, usage) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"):
            return original(cls, resource_name, cloudformation_json, account_id, region_name,
                            **kw)  # fmt: skip
        tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])]
        key = kms_backends[account_id][region_name].create_key(
            policy=properties["KeyPolicy"], key_usage=usage, key_spec=spec,
            description=properties.get("Description"), tags=tags,
        )  # fmt: skip
        key.enabled = properties.get("Enabled", True)
        return key

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


CORRECTIONS = (
    outputs_after_change_sets,
    no_op_change_set_fails,
    parameter_changes_in_change_sets,
    replaced_resources_update_their_dependents,
    resources_log_their_events,
    failing_resources_roll_back,  # wraps the execute_change_set of outputs_after_change_sets
    alarms_and_autoscaling_in_stacks,
    sagemaker_stack_properties_kept,
    kms_key_tags_from_templates,
    kms_key_spec_and_usage_from_templates,  # after: wraps its create_from_cloudformation_json
    condition_references_in_conditions,
    head_object_reports_composite_checksums,
    list_parameters_reported_as_given,
)


def apply(stack_delay_seconds: float = 0.0) -> None:
    """Install every correction (idempotent). Refuses an emulator it was not written for."""
    global _applied
    if _applied:
        return
    import moto

    if moto.__version__ != PINNED_MOTO_VERSION:
        raise RuntimeError(
            f"moto {moto.__version__} is installed but the CloudFormation corrections were "
            f"written for {PINNED_MOTO_VERSION}; install moto=={PINNED_MOTO_VERSION}"
        )
    for correction in CORRECTIONS:
        correction()
    stack_operations_take_time(stack_delay_seconds)  # outermost: wraps all of the above
    _applied = True
