"""CloudFormation corrections: how templates' conditions and list parameters are read.

Owns: `parsing.parse_condition` (moto.cloudformation.parsing) and `Stack.parameter_list`
(moto.cloudformation.models). Must not: change how resources are created or updated.

AWS behaviour: CloudFormation User Guide, "Condition functions" (Fn::Not/And/Or take
`Condition` references, short form `!Condition`; Fn::Equals compares strings), and
"Parameters" (CommaDelimitedList; Number parameters become strings where referenced);
API reference DescribeStacks (Parameter.ParameterValue, the string given).
Upstream: not reported (getmoto/moto#2451, short-form functions in YAML, is closed; the
`!Condition` form inside Fn::Not still reads as true in 5.2.5).
"""

from __future__ import annotations

import functools
from typing import Any


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


def number_parameters_compared_as_strings() -> None:
    """AWS: a Number parameter is validated as a number, but "when you use the parameter
    elsewhere in your template (for example, by using the Ref intrinsic function), the
    parameter value becomes a string" (User Guide, "CloudFormation template Parameters
    syntax", Type Number), so `!Equals [!Ref CaptureSamplingPercent, "0"]` holds for 0.
    moto turned Number parameters into Python numbers and compared 0 with "0": never equal,
    so a condition on a Number parameter was always false (endpoint.yaml's CaptureData was
    true at 0 %).

    Replaces (wraps, after condition_references_in_conditions):
    moto.cloudformation.parsing.parse_condition, for Fn::Equals; numbers are compared in
    their Python string form (a Number given as "1.50" compares as "1.5": integers are exact).
    Upstream: not reported."""
    from moto.cloudformation import parsing

    original = parsing.parse_condition

    def as_string(value: object) -> object:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        return value

    @functools.wraps(original)
    def parse_condition(condition: Any, resources_map: Any, condition_map: Any) -> Any:
        if isinstance(condition, dict) and list(condition) == ["Fn::Equals"]:
            values = []
            for value in condition["Fn::Equals"]:
                if isinstance(value, dict) and "Condition" in value:
                    values.append(condition_map[value["Condition"]])
                else:
                    values.append(as_string(parsing.clean_json(value, resources_map)))
            first, second = values
            if isinstance(second, bool):  # moto's own reading of a boolean literal
                return str(first).lower() == str(second).lower()
            return first == second
        return original(condition, resources_map, condition_map)

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
