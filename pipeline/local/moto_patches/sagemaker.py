"""SageMaker corrections: what CloudFormation keeps of a SageMaker resource's properties, and
what DescribeEndpoint says of an endpoint's data capture.

Owns: `cloudformation_name_type` of FakeEndpoint, FakeEndpointConfig and Model,
`FakeEndpoint.create_from_cloudformation_json` and `FakeEndpoint.response_object`
(moto.sagemaker.models). Must not: serve endpoints, change their status or capture data
(that is runtime_hooks.py, the local runtime's hook, and pipeline/local/capture.py).

AWS behaviour: CloudFormation template reference, AWS::SageMaker::Endpoint (EndpointName,
DeploymentConfig), AWS::SageMaker::EndpointConfig (EndpointConfigName), AWS::SageMaker::Model
(ModelName); SageMaker API reference DescribeEndpoint (LastDeploymentConfig,
DataCaptureConfig: a DataCaptureConfigSummary).
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


def describe_endpoint_reports_data_capture_as_a_summary() -> None:
    """AWS: DescribeEndpoint's DataCaptureConfig is a DataCaptureConfigSummary: EnableCapture,
    CaptureStatus (Started | Stopped: "Whether data capture is currently functional"),
    CurrentSamplingPercentage, DestinationS3Uri and KmsKeyId, all required; an endpoint whose
    config has no DataCaptureConfig has none (SageMaker API reference, DescribeEndpoint,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html, and
    DataCaptureConfigSummary,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataCaptureConfigSummary.html).
    moto returned the endpoint config's DataCaptureConfig as it was given (so boto3 showed no
    CaptureStatus and no CurrentSamplingPercentage) and an empty one for an endpoint without
    capture. KmsKeyId, required but with no documented value for a config without one, is
    left out then.

    Replaces (wraps): moto.sagemaker.models.FakeEndpoint.response_object.
    Upstream: not reported."""
    from moto.sagemaker.models import FakeEndpoint

    original = FakeEndpoint.response_object.fget

    def response_object(self):
        response = original(self)
        given = response.pop("DataCaptureConfig", None)
        if given:
            enabled = given.get("EnableCapture", True)  # "defaults to enabled"
            if isinstance(enabled, str):  # a template's "true"/"false"
                enabled = enabled.strip().lower() == "true"
            summary = {
                "EnableCapture": bool(enabled),
                "CaptureStatus": "Started" if enabled else "Stopped",
                "CurrentSamplingPercentage": int(given.get("InitialSamplingPercentage", 0)),
                "DestinationS3Uri": given.get("DestinationS3Uri", ""),
            }
            if given.get("KmsKeyId"):
                summary["KmsKeyId"] = given["KmsKeyId"]
            response["DataCaptureConfig"] = summary
        return response

    FakeEndpoint.response_object = property(response_object)
