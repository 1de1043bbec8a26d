"""Botocore failures become one actionable line with the right exit code; cli.main is the
boundary for whatever escapes, and a bug is an internal error, not a failed stage."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
    WaiterError,
)
from botocore.stub import Stubber

from pipeline import cli
from pipeline.aws.cloudformation import ChangeSet, CloudFormation
from pipeline.aws.errors import translate
from pipeline.aws.s3 import S3
from pipeline.errors import INTERNAL_ERROR, ConfigError, PipelineError
from pipeline.stages.build import image_uri

URL = "http://127.0.0.1:9/"


def client_error(code: str, operation: str = "DescribeStacks") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} happened"}}, operation)


@pytest.mark.parametrize(
    ("exc", "exit_code", "says"),
    [
        (NoCredentialsError(), 2, "no AWS credentials found; set AWS_ACCESS_KEY_ID"),
        (
            PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            2,
            "missing: AWS_SECRET_ACCESS_KEY",
        ),
        (NoRegionError(), 2, "set AWS_DEFAULT_REGION"),
        (
            EndpointConnectionError(endpoint_url=URL),
            2,
            f"cannot reach {URL}; check AWS_ENDPOINT_URL",
        ),
        (ConnectTimeoutError(endpoint_url=URL), 2, f"cannot reach {URL}"),
        (client_error("ExpiredToken"), 2, "credentials have expired (ExpiredToken); refresh"),
        (client_error("InvalidClientTokenId"), 2, "AWS rejected the credentials"),
        (client_error("UnrecognizedClientException"), 2, "AWS rejected the credentials"),
        (client_error("AccessDenied"), 2, "access denied to cloudformation:DescribeStacks"),
        (
            WaiterError(
                name="StackCreateComplete",
                reason="error",
                last_response={"Error": {"Code": "ExpiredTokenException", "Message": "expired"}},
            ),
            2,
            "credentials have expired",
        ),
        (ReadTimeoutError(endpoint_url=URL), 1, "was lost mid-call"),
        (client_error("Throttling"), 1, "DescribeStacks failed (Throttling)"),
    ],
)
def test_botocore_failures_translate_to_one_line_with_their_exit_code(exc, exit_code, says):
    error = translate(exc, "cloudformation")
    assert error.exit_code == exit_code
    assert says in str(error)
    assert "\n" not in str(error) and str(error).startswith("cloudformation: ")


def stubbed(service: str):
    client = boto3.client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_expired_credentials_in_a_wrapper_exit_two_keeping_the_code():
    client, stub = stubbed("cloudformation")
    stub.add_client_error("describe_stacks", "ExpiredToken", "The security token expired")
    with stub, pytest.raises(ConfigError, match="have expired") as raised:
        CloudFormation(client).status("diabetes-dev")
    assert raised.value.exit_code == 2 and raised.value.code == "ExpiredToken"


def test_access_denied_on_a_head_names_the_setting_and_exits_two():
    client, stub = stubbed("s3")
    stub.add_client_error("head_object", "AccessDenied", "Access Denied")
    with stub, pytest.raises(ConfigError) as raised:
        S3(client).probe("s3://bucket/data.csv", "[data] path")
    assert str(raised.value).startswith("[data] path: s3://bucket/data.csv cannot be read: ")
    assert "access denied to s3:HeadObject" in str(raised.value)


def unreachable(service: str):
    """A real client whose every request fails to connect, at once (no retries)."""
    once = Config(retries={"mode": "standard", "max_attempts": 1})
    client = boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        endpoint_url=URL,
        config=once,
    )

    def refuse(**_):
        raise EndpointConnectionError(endpoint_url=URL)

    client.meta.events.register("before-send", refuse)
    return client


def test_an_unreachable_endpoint_in_paginators_and_waiters_exits_two():
    cfn = CloudFormation(unreachable("cloudformation"))
    for call in (
        lambda: cfn.live_stacks(("CREATE_COMPLETE",)),
        lambda: cfn.delete("s"),
        lambda: S3(unreachable("s3")).keys("bucket", "releases/"),
    ):
        with pytest.raises(ConfigError, match=f"cannot reach {URL}"):
            call()


class DyingClient:
    """CloudFormation that accepts the change set, then stops answering (a sandbox killed)."""

    def __init__(self, events=()):
        self.events, self.executed = list(events), False

    def describe_stack_events(self, StackName):  # noqa: N803 (boto3's names)
        if self.executed:
            raise EndpointConnectionError(endpoint_url=URL)
        return {"StackEvents": self.events}

    def execute_change_set(self, ChangeSetName):  # noqa: N803
        self.executed = True
        return {}


def test_a_connection_lost_after_executing_is_a_failed_stage_not_a_config_error():
    cfn = CloudFormation(DyingClient())
    with pytest.raises(PipelineError) as raised:
        cfn.execute(ChangeSet("arn:cs", "diabetes-dev", "UPDATE", (), False), sleep=lambda _: 0)
    assert not isinstance(raised.value, ConfigError) and raised.value.exit_code == 1
    assert str(raised.value).startswith(
        "stack diabetes-dev: lost track of the UPDATE after "
        f"executing its change set (cloudformation: cannot "
        f"reach {URL};"
    )
    assert "\n" not in str(raised.value) and "--wait" in str(raised.value)


def event(n: int, status: str, resource: str = "Endpoint") -> dict:
    return {
        "EventId": f"e{n}",
        "LogicalResourceId": resource,
        "ResourceStatus": status,
        "ResourceStatusReason": f"reason {n}",
    }


def test_failures_list_only_the_events_after_the_operation_started():
    history = [event(2, "UPDATE_FAILED"), event(1, "CREATE_FAILED", "Model")]  # newest first
    now = [
        event(5, "UPDATE_ROLLBACK_COMPLETE", "diabetes-dev"),
        event(4, "UPDATE_FAILED"),
        event(3, "UPDATE_FAILED", "Model"),
        *history,
    ]
    cfn = CloudFormation(DyingClient(now))
    assert cfn.failures("diabetes-dev", {"e1", "e2"}) == ["Model: reason 3", "Endpoint: reason 4"]


def test_a_bug_is_an_internal_error_with_its_traceback(monkeypatch, capsys):
    def bug(*_):
        return 1 / 0

    monkeypatch.setattr(image_uri, "run", bug)
    assert cli.main(["image-uri", "--region", "eu-west-1"]) == INTERNAL_ERROR == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "return 1 / 0" in err
    assert err.splitlines()[-1].startswith(
        "error: image-uri: internal error (ZeroDivisionError: division by zero): a bug in the "
        "pipeline"
    )


def test_a_botocore_error_escaping_a_stage_is_still_one_line(monkeypatch, capsys):
    def escaped(*_):
        raise NoCredentialsError()

    monkeypatch.setattr(image_uri, "run", escaped)
    assert cli.main(["image-uri", "--region", "eu-west-1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: image-uri: no AWS credentials found") and err.count("\n") == 1
