"""infra/endpoint.yaml deployed on the sandbox in each environment's configuration."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"


@pytest.fixture(scope="module")
def aws(built, shared_sandbox):
    manifest = json.loads(built.manifest_file.read_text())
    options = {
        "endpoint_url": shared_sandbox.url,
        "region_name": shared_sandbox.region,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    s3 = boto3.client("s3", **options)
    s3.create_bucket(Bucket="endpoint-stack-artifacts")
    key = manifest["artifact"]["s3_key"]
    s3.upload_file(str(built.artifact_file), "endpoint-stack-artifacts", key)
    filled = {  # what the deploy engine fills from the manifest and bootstrap outputs
        "ModelData": f"s3://endpoint-stack-artifacts/{key}",
        "ImageURI": IMAGE,
        "RoleARN": "arn:aws:iam::123456789012:role/sagemaker-execution",
        "ModelDigest": manifest["artifact"]["sha256"],
        "ProjectName": "diabetes",
    }
    return {
        "cfn": boto3.client("cloudformation", **options),
        "sagemaker": boto3.client("sagemaker", **options),
        "autoscaling": boto3.client("application-autoscaling", **options),
        "filled": filled,
    }


def deploy(aws, env: str, stack: str | None = None, **overrides: str) -> dict:
    document = json.loads((ROOT / "infra" / "params" / f"{env}.json").read_text())
    stack = stack or f"diabetes-{env}"
    values = {
        **document["Parameters"],
        **aws["filled"],
        "EndpointName": stack.replace("diabetes", "test"),
        **overrides,
    }
    created = aws["cfn"].create_change_set(
        StackName=stack,
        ChangeSetName="deploy",
        ChangeSetType="CREATE",
        TemplateBody=(ROOT / "infra" / "endpoint.yaml").read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        Tags=[{"Key": k, "Value": v} for k, v in document["Tags"].items()],
    )
    aws["cfn"].execute_change_set(ChangeSetName=created["Id"])
    described = aws["cfn"].describe_stacks(StackName=stack)["Stacks"][0]
    failures = [
        e.get("ResourceStatusReason")
        for e in aws["cfn"].describe_stack_events(StackName=stack)["StackEvents"]
        if e["ResourceStatus"].endswith("_FAILED")
    ]
    assert described["StackStatus"] == "CREATE_COMPLETE", failures
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


def test_dev_deploys_serverless_without_canary_or_autoscaling(aws):
    outputs = deploy(aws, "dev")
    assert set(outputs) == {"EndpointName", "ModelName", "EndpointConfigName", "ModelData"}
    assert outputs["EndpointName"] == "test-dev"
    config = aws["sagemaker"].describe_endpoint_config(
        EndpointConfigName=outputs["EndpointConfigName"]
    )
    variant = config["ProductionVariants"][0]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    endpoint = aws["sagemaker"].describe_endpoint(EndpointName="test-dev")
    assert endpoint["EndpointStatus"] == "InService"
    assert "LastDeploymentConfig" not in endpoint, endpoint.get("LastDeploymentConfig")
    assert "DataCaptureConfig" not in config and "DataCaptureConfig" not in endpoint


def test_a_serverless_endpoint_gets_no_data_capture_whatever_its_sampling(aws):
    """SageMaker does not support data capture on Serverless endpoints: dev's type with
    CaptureSamplingPercent 100 still has none; RealTime with 0 has none either."""
    for env, stack, endpoint_type in (
        ("dev", "diabetes-dev-capturing", "Serverless"),
        ("staging", "diabetes-staging-not-capturing", "RealTime"),
    ):
        percent = "100" if endpoint_type == "Serverless" else "0"
        outputs = deploy(aws, env, stack, CaptureSamplingPercent=percent)
        config = aws["sagemaker"].describe_endpoint_config(
            EndpointConfigName=outputs["EndpointConfigName"]
        )
        assert "DataCaptureConfig" not in config, (endpoint_type, config["DataCaptureConfig"])
        endpoint = aws["sagemaker"].describe_endpoint(EndpointName=outputs["EndpointName"])
        assert "DataCaptureConfig" not in endpoint, endpoint_type


def test_prod_deploys_real_time_with_canary_and_autoscaling(aws):
    outputs = deploy(aws, "prod")
    endpoint = aws["sagemaker"].describe_endpoint(EndpointName=outputs["EndpointName"])
    rollback = endpoint["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert {a["AlarmName"] for a in rollback} == {"diabetes-prod-5xx", "diabetes-prod-latency"}
    routing = endpoint["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert routing["TrafficRoutingConfiguration"]["Type"] == "CANARY"
    config = aws["sagemaker"].describe_endpoint_config(
        EndpointConfigName=outputs["EndpointConfigName"]
    )
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    targets = aws["autoscaling"].describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=["endpoint/test-prod/variant/AllTraffic"]
    )
    assert [
        (t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets["ScalableTargets"]
    ] == [("endpoint/test-prod/variant/AllTraffic", 2, 6)]
    # prod captures CaptureSamplingPercent of its requests into the artifact bucket's
    # capture/<project>/<env>, encrypted with the stack's key
    key = aws["cfn"].describe_stack_resource(
        StackName="diabetes-prod", LogicalResourceId="VolumeKey"
    )
    key_id = key["StackResourceDetail"]["PhysicalResourceId"].rsplit("/", 1)[-1]
    assert config["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 20,
        "DestinationS3Uri": "s3://endpoint-stack-artifacts/capture/diabetes/prod",
        "KmsKeyId": f"arn:aws:kms:us-east-1:123456789012:key/{key_id}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }
    assert endpoint["DataCaptureConfig"] == {  # DescribeEndpoint's summary of it
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 20,
        "DestinationS3Uri": "s3://endpoint-stack-artifacts/capture/diabetes/prod",
        "KmsKeyId": f"arn:aws:kms:us-east-1:123456789012:key/{key_id}",
    }
