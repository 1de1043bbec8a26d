"""CloudFormation corrections: how templates' conditions and list parameters are read.

Owns: `parsing.parse_condition` (moto.cloudformation.parsing) and `Stack.parameter_list`
(moto.cloudformation.models). Must not: change how resources are created or updated.

AWS behaviour: CloudFormation User Guide, "Condition functions" (Fn::Not/And/Or take
`Condition` references, short form `!Condition`), and "Parameters" (CommaDelimitedList);
API reference DescribeStacks (Parameter.ParameterValue, the string given).
Upstream: not reported (getmoto/moto#2451, short-form functions in YAML, is closed; the
`!Condition` form inside Fn::Not still reads as true in 5.2.5).
"""

from __future__ import annotations

import functools


def condition_references_in_conditions() -> None:
    """AWS: inside Fn::Not / Fn::And / Fn::Or, `!Condition Name` refers to another
    condition's value, so `IsRealTime: !Not [!Condition IsServerless]` is false for a
    serverless stack. moto's YAML loader turns the short form into {"Fn::Condition": ...},
    which its condition parser did not recognise: it read the dict as a true value, so the
    negation was always true and conditional resources appeared where they should not.
    (User Guide, "Condition functions", Fn::Not and Condition.)

    Replaces (wraps): moto.cloudformation.parsing.parse_condition.
    Upstream: not reported (getmoto/moto#2451, closed, is about short forms in general)."""
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


def list_parameters_reported_as_given() -> None:
    """AWS: DescribeStacks reports a CommaDelimitedList (or List<...>) parameter as the
    comma-separated string it was given ("a,b"; "" stays ""). moto reported the Python list
    it parsed the value into ("['a', 'b']", "['']"), so a value read back and given again
    (bootstrap keeping the existing stack's options) looked like a change. (API reference
    DescribeStacks, Parameter; User Guide "Parameters", CommaDelimitedList.)

    Replaces: moto.cloudformation.models.Stack.parameter_list (a property).
    Upstream: not reported."""
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
