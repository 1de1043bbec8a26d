"""CloudFormation corrections: resource types moto has no CloudFormation model for.

Owns: the models of AWS::CloudWatch::Alarm, AWS::ApplicationAutoScaling::ScalableTarget and
AWS::ApplicationAutoScaling::ScalingPolicy, backed by moto's own CloudWatch and Application
Auto Scaling backends, so that what a stack creates is visible through those services' APIs.
Must not: be imported outside `moto_patches.apply()`. moto finds resource types among
CloudFormationModel's subclasses, so defining these classes (importing this module) is what
adds them to moto; `alarms_and_autoscaling_in_stacks()` then clears moto's cached type maps.
Tests of unpatched moto (tests/unit/test_moto_canaries.py) check that it was never imported.

AWS behaviour: CloudFormation template reference AWS::CloudWatch::Alarm (Ref: the alarm
name; GetAtt Arn), AWS::ApplicationAutoScaling::ScalableTarget (Ref:
"ResourceId|ScalableDimension|ServiceNamespace") and ::ScalingPolicy (Ref and GetAtt Arn:
the policy ARN).
Upstream: not reported (moto 5.2.5 lists none of the three as CloudFormation resources).
"""

from __future__ import annotations

from moto.applicationautoscaling.models import applicationautoscaling_backends
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
        cls,
        original_resource,
        new_resource_name,
        cloudformation_json,
        account_id,
        region_name,
    ):
        cls.delete_from_cloudformation_json(
            original_resource.physical_resource_id,
            cloudformation_json,
            account_id,
            region_name,
        )
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
            namespace=namespace,
            r_id=resource_id,
            dimension=dimension,
            min_capacity=int(props["MinCapacity"]),
            max_capacity=int(props["MaxCapacity"]),
            role_arn=props.get("RoleARN"),
            suspended_state=props.get("SuspendedState"),
        )
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
            policy_name=props["PolicyName"],
            service_namespace=namespace,
            resource_id=resource_id,
            scalable_dimension=dimension,
            policy_type=props.get("PolicyType"),
            policy_body=props.get("TargetTrackingScalingPolicyConfiguration")
            or props.get("StepScalingPolicyConfiguration"),
        )
        return cls(policy)

    def delete(self, account_id, region_name):
        policy = self.policy
        applicationautoscaling_backends[account_id][region_name].delete_scaling_policy(
            policy.policy_name,
            policy.service_namespace,
            policy.resource_id,
            policy.scalable_dimension,
        )


def alarms_and_autoscaling_in_stacks() -> None:
    """AWS: AWS::CloudWatch::Alarm, AWS::ApplicationAutoScaling::ScalableTarget and
    ::ScalingPolicy are created by the stack, visible through their own APIs, and resolvable
    in Refs and Outputs. moto has no CloudFormation support for them: they were skipped, and
    Outputs referring to them broke DescribeStacks.

    Replaces: nothing of moto's; adds StackAlarm, StackScalableTarget and StackScalingPolicy
    (defined above, at import) to moto.cloudformation.parsing's model maps, whose caches
    (get_model_list, get_model_map, get_name_type_map) it clears.
    Upstream: not reported."""
    from moto.cloudformation import parsing

    # moto builds its type map once from CloudFormationModel's subclasses; rebuild it.
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
