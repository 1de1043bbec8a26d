"""SageMaker corrections: what CloudFormation keeps of a SageMaker resource's properties.

Owns: `cloudformation_name_type` of FakeEndpoint, FakeEndpointConfig and Model, and
`FakeEndpoint.create_from_cloudformation_json` (moto.sagemaker.models). Must not: serve
endpoints or change their status (that is runtime_hooks.py, the local runtime's hook).

AWS behaviour: CloudFormation template reference, AWS::SageMaker::Endpoint (EndpointName,
DeploymentConfig), AWS::SageMaker::EndpointConfig (EndpointConfigName), AWS::SageMaker::Model
(ModelName); SageMaker API reference DescribeEndpoint (LastDeploymentConfig).
Upstream: not reported (CloudFormation support came with getmoto/moto#3863, without these
properties).
"""

from __future__ import annotations


def sagemaker_stack_properties_kept() -> None:
    """AWS: the Endpoint, EndpointConfig and Model take their names from the EndpointName,
    EndpointConfigName and ModelName properties when a template sets them, and the
    Endpoint's DeploymentConfig (blue/green policy, auto-rollback alarms) is stored and
    returned by DescribeEndpoint. moto ignored those name properties (generating names) and
    dropped DeploymentConfig. (CloudFormation template reference AWS::SageMaker::Endpoint,
    ::EndpointConfig, ::Model; SageMaker API reference DescribeEndpoint.)

    Replaces: cloudformation_name_type of moto.sagemaker.models.FakeEndpoint,
    FakeEndpointConfig and Model; wraps FakeEndpoint.create_from_cloudformation_json.
    Upstream: not reported."""
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
