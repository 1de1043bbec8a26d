"""pipeline.aws.sagemaker against botocore's Stubber: describing endpoints (NotFound for a
missing one) and invoking them (the model's error passed on with its code)."""

from __future__ import annotations

import pytest

from pipeline.aws.errors import AwsError, NotFound
from pipeline.aws.sagemaker import Endpoint, SageMaker, SageMakerRuntime
from tests.unit.aws_stubs import WHEN, body, stubbed

NAME = "diabetes-dev"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{NAME}"


def test_describe_endpoint_returns_status_config_and_variants():
    answer = {
        "EndpointName": NAME,
        "EndpointArn": ARN,
        "EndpointConfigName": f"{NAME}-c1",
        "EndpointStatus": "Failed",
        "FailureReason": "ping failed",
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
        "ProductionVariants": [{"VariantName": "AllTraffic"}, {"VariantName": "B"}],
    }
    with stubbed("sagemaker") as (client, stub):
        stub.add_response("describe_endpoint", answer, {"EndpointName": NAME})
        endpoint = SageMaker(client).describe_endpoint(NAME)
    assert endpoint == Endpoint(NAME, "Failed", f"{NAME}-c1", ("AllTraffic", "B"), "ping failed")


def test_describe_endpoint_missing_is_not_found():
    with stubbed("sagemaker") as (client, stub):
        stub.add_client_error(
            "describe_endpoint", "ValidationException", f'Could not find endpoint "{ARN}".'
        )
        with pytest.raises(NotFound, match="Could not find endpoint") as raised:
            SageMaker(client).describe_endpoint(NAME)
    assert raised.value.code == "ValidationException"


def test_describe_endpoint_other_validation_error_is_an_aws_error():
    with stubbed("sagemaker") as (client, stub):
        stub.add_client_error("describe_endpoint", "ValidationException", "name too long")
        with pytest.raises(AwsError, match="name too long") as raised:
            SageMaker(client).describe_endpoint(NAME)
    assert not isinstance(raised.value, NotFound)


def test_invoke_returns_the_body():
    with stubbed("sagemaker-runtime") as (client, stub):
        stub.add_response(
            "invoke_endpoint",
            {"Body": body(b"[151.0]")},
            {
                "EndpointName": NAME,
                "Body": "1,2,3",
                "ContentType": "text/csv",
                "Accept": "application/json",
            },
        )
        assert SageMakerRuntime(client).invoke(NAME, "1,2,3", "text/csv") == b"[151.0]"


def test_invoke_model_error_names_the_endpoint_and_code():
    with stubbed("sagemaker-runtime") as (client, stub):
        stub.add_client_error(
            "invoke_endpoint", "ModelError", "Received client error (415) from primary", 424
        )
        with pytest.raises(AwsError) as raised:
            SageMakerRuntime(client).invoke(NAME, b"x", "text/plain")
    assert str(raised.value) == (
        f"InvokeEndpoint {NAME}: ModelError: Received client error (415) from primary"
    )
    assert raised.value.code == "ModelError"
