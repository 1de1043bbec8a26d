"""SageMaker corrections: what CloudFormation keeps of a SageMaker resource's properties, and
what DescribeEndpoint says of an endpoint's data capture.

Owns: `cloudformation_name_type` of FakeEndpoint, FakeEndpointConfig and Model,
`FakeEndpoint.create_from_cloudformation_json` (moto.sagemaker.models), and the answers of
DescribeEndpoint and DescribeEndpointConfig (moto.sagemaker.responses). Must not: serve
endpoints, change their status or capture data (that is runtime_hooks.py, the local
runtime's hook, and pipeline/local/capture.py).

AWS behaviour: CloudFormation template reference, AWS::SageMaker::Endpoint (EndpointName,
DeploymentConfig), AWS::SageMaker::EndpointConfig (EndpointConfigName), AWS::SageMaker::Model
(ModelName); SageMaker API reference DescribeEndpoint (LastDeploymentConfig,
DataCaptureConfig: a DataCaptureConfigSummary), DescribeEndpointConfig (DataCaptureConfig).
Upstream: not reported (CloudFormation support came with getmoto/moto#3863, without these
properties).
"""

from __future__ import annotations

import functools
from typing import Any


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


def data_capture_described_as_aws() -> None:
    """AWS: DescribeEndpoint's DataCaptureConfig is a DataCaptureConfigSummary: EnableCapture,
    CaptureStatus (Started | Stopped: "Whether data capture is currently functional"),
    CurrentSamplingPercentage, DestinationS3Uri and KmsKeyId; an endpoint or endpoint config
    without a DataCaptureConfig is described without one (SageMaker API reference,
    DescribeEndpoint, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html;
    DataCaptureConfigSummary,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataCaptureConfigSummary.html;
    DescribeEndpointConfig, where DataCaptureConfig is optional). moto returned the endpoint
    config's DataCaptureConfig from DescribeEndpoint as it was given (boto3 then shows no
    CaptureStatus and no CurrentSamplingPercentage), and an empty DataCaptureConfig from
    both calls when there was none. KmsKeyId, listed as required but with no documented
    value for a config without a key, is left out then.

    Replaces (wraps): moto.sagemaker.responses.SageMakerResponse.describe_endpoint and
    describe_endpoint_config (the answers only: moto's create_endpoint reads the config's
    DataCaptureConfig as its backend describes it).
    Upstream: not reported."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.responses import SageMakerResponse

    def summary(given: dict[str, Any]) -> dict[str, Any]:
        enabled = given.get("EnableCapture", True)  # "defaults to enabled"
        if isinstance(enabled, str):  # a template's "true"/"false"
            enabled = enabled.strip().lower() == "true"
        found = {
            "EnableCapture": bool(enabled),
            "CaptureStatus": "Started" if enabled else "Stopped",
            "CurrentSamplingPercentage": int(given.get("InitialSamplingPercentage", 0)),
            "DestinationS3Uri": given.get("DestinationS3Uri", ""),
        }
        if given.get("KmsKeyId"):
            found["KmsKeyId"] = given["KmsKeyId"]
        return found

    describe_endpoint = SageMakerResponse.describe_endpoint
    describe_endpoint_config = SageMakerResponse.describe_endpoint_config

    @functools.wraps(describe_endpoint)
    def endpoint(self: Any) -> Any:
        response = dict(describe_endpoint(self).result)
        given = response.pop("DataCaptureConfig", None)
        if given:
            response["DataCaptureConfig"] = summary(given)
        return ActionResult(response)

    @functools.wraps(describe_endpoint_config)
    def endpoint_config(self: Any) -> Any:
        response = dict(describe_endpoint_config(self).result)
        if not response.get("DataCaptureConfig"):
            response.pop("DataCaptureConfig", None)
        return ActionResult(response)

    SageMakerResponse.describe_endpoint = endpoint
    SageMakerResponse.describe_endpoint_config = endpoint_config
