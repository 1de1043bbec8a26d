"""pipeline.aws.identity against botocore's Stubber: the account id from STS, and the region
from the standard chain."""

from __future__ import annotations

import pytest

from pipeline.aws import identity
from pipeline.aws.errors import AwsConfigError, AwsError
from pipeline.errors import ConfigError
from tests.unit.aws_stubs import stubbed


def test_account_id_is_the_callers_account():
    with stubbed("sts") as (client, stub):
        stub.add_response(
            "get_caller_identity",
            {
                "Account": "123456789012",
                "Arn": "arn:aws:iam::123456789012:user/ci",
                "UserId": "AIDA",
            },
            {},
        )
        assert identity.account_id(client) == "123456789012"


def test_account_id_rejected_credentials_is_a_config_error():
    with stubbed("sts") as (client, stub):
        stub.add_client_error("get_caller_identity", "InvalidClientTokenId", "invalid", 403)
        with pytest.raises(AwsConfigError, match="AWS rejected the credentials"):
            identity.account_id(client)


def test_account_id_other_failure_says_what_could_not_be_done():
    with stubbed("sts") as (client, stub):
        stub.add_client_error("get_caller_identity", "ServiceUnavailable", "try later", 503)
        with pytest.raises(
            AwsError,
            match=r"could not identify the AWS account "
            r"\(sts:GetCallerIdentity\)",
        ) as raised:
            identity.account_id(client)
    assert not isinstance(raised.value, ConfigError)


@pytest.fixture
def no_aws_config(monkeypatch, tmp_path):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def test_region_from_the_environment_is_used(no_aws_config, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    assert identity.region() == "eu-west-3"


def test_region_unset_is_a_config_error(no_aws_config):
    with pytest.raises(ConfigError, match="no AWS region configured; set AWS_DEFAULT_REGION"):
        identity.region()
