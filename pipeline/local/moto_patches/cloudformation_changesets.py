"""CloudFormation corrections: what change sets list, and what a stack takes from one.

Owns: `CloudFormationResponse.create_change_set` (no-op change sets),
`ChangeSet.diff` (parameter-only changes, Replacement, conditions) and
`ResourceMap.build_resource_diff` (dependents of replaced resources), and the step
`outputs_after_change_sets` that cloudformation_execution.py runs after a change set was
carried out. Must not: replace `CloudFormationBackend.execute_change_set` (only
cloudformation_execution.py does, once), or roll anything back.

AWS behaviour: CloudFormation User Guide, "Update CloudFormation stacks using change sets";
API reference CreateChangeSet, DescribeChangeSet (Changes, ResourceChange.Replacement),
ExecuteChangeSet; the resource type references' "Update requires" lines.
Upstream: see each correction.
"""

from __future__ import annotations

import functools
import re


def no_op_change_set_fails() -> None:
    """AWS: CreateChangeSet for an UPDATE that changes nothing succeeds, and the change set
    then has Status FAILED, ExecutionStatus UNAVAILABLE and StatusReason "The submitted
    information didn't contain changes. Submit different information to create a change
    set." moto instead rejected the call with "No updates are to be performed." (which is
    what AWS says for UpdateStack, where the check stays). (API reference CreateChangeSet;
    User Guide "Update CloudFormation stacks using change sets".)

    Replaces (wraps): moto.cloudformation.responses.CloudFormationResponse.create_change_set,
    skipping its _validate_different_update for that call only.
    Upstream: getmoto/moto#4923 (closed) made a no-op change set FAILED for an unchanged
    template; with parameters given, 5.2.5 still rejects the call: not reported."""
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
    return {
        name
        for name, body in resources.items()
        if "Condition" not in body or conditions[body["Condition"]]
    }


def _conditions(change_set):
    """The change set template's conditions, evaluated with the change set's parameters."""
    from moto.cloudformation.parsing import ResourceMap

    stack = change_set.stack
    resources = ResourceMap(
        stack.stack_id,
        stack.name,
        change_set.parameters,
        {},
        stack.region_name,
        stack.account_id,
        change_set.template_dict,
        {},
    )
    resources.load()
    return resources.lazy_condition_map


def parameter_changes_in_change_sets() -> None:
    """AWS: an UPDATE change set whose only difference is parameter values lists, as Modify,
    every resource that uses a changed parameter and every resource that refers to one of
    those that is replaced, each with Replacement True, False or Conditional; a resource whose
    Condition is false is not listed (it is Add or Remove when the condition flips). moto
    compared templates only, so such a change set listed no changes, never said
    Replacement, and listed resources its conditions leave out. (API reference
    DescribeChangeSet, ResourceChange: Action, Replacement.)

    Replaces: moto.cloudformation.models.ChangeSet.diff.
    Upstream: not reported (getmoto/moto#9077, closed, fixed parameters in UPDATE change
    sets, not the Changes they list)."""
    from moto.cloudformation.models import Change, ChangeSet

    def diff(self):
        resource_map = self.stack.resource_map
        by_action = resource_map.build_resource_diff(self.template_dict, self.parameters)
        new = self.template_dict.get("Resources", {})
        # Resources whose Condition is false exist on neither side: AWS lists a resource
        # as Add/Remove when its condition turns true/false, and never one that stays off.
        before = _active(
            resource_map._resource_json_map, getattr(resource_map, "lazy_condition_map", {})
        )
        after = _active(new, _conditions(self))
        by_action = {
            "Add": [n for n in new if n in after and n not in before],
            "Modify": [n for n in by_action["Modify"] if n in before and n in after],
            "Remove": [
                n for n in resource_map._resource_json_map if n in before and n not in after
            ],
        }
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
    Model and left the EndpointConfig and Endpoint pointing at the deleted one. (User Guide,
    "Update behaviors of stack resources".)

    Replaces (wraps): moto.cloudformation.parsing.ResourceMap.build_resource_diff.
    Upstream: not reported."""
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


def outputs_after_change_sets(backend, change_set) -> None:
    """AWS: after ExecuteChangeSet the stack's Outputs, Parameters and template are those of
    the change set (API reference ExecuteChangeSet, DescribeStacks). moto kept the Outputs
    (and parameters) of the stack as it was before: empty for a stack created by a change
    set, stale after an update.

    A step of ExecuteChangeSet, run by cloudformation_execution.execute_change_set_as_aws
    after moto's CloudFormationBackend.execute_change_set succeeded (it used to wrap it).
    Upstream: not reported (getmoto/moto#3032, closed, was about DescribeChangeSet's fields,
    not the stack's Outputs after execution)."""
    stack = backend.stacks[change_set.stack_id]
    stack.parameters = dict(change_set.parameters)
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()
    for export in stack.exports:
        backend.exports[export.name] = export


def tags_after_change_sets(backend, change_set) -> None:
    """AWS: the Tags of CreateChangeSet are "key-value pairs to associate with this stack"
    (API reference CreateChangeSet, Tags); once the change set is executed, DescribeStacks
    shows them. moto kept the tags the stack had before an UPDATE change set (it sets them
    only when it creates the stack), so a stack's `model-digest` tag went stale.

    A step of ExecuteChangeSet, run by cloudformation_execution.execute_change_set_as_aws
    after moto's CloudFormationBackend.execute_change_set succeeded.
    Upstream: not reported."""
    if change_set.tags is not None:
        backend.stacks[change_set.stack_id].tags = dict(change_set.tags)
