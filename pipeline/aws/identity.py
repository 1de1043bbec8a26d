"""Who and where the pipeline runs as: account id (STS) and region (the standard chain)."""

from __future__ import annotations

import boto3
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.aws.errors import AwsError, configuration_problem, new_client
from pipeline.errors import ConfigError


def region() -> str:
    name: str | None = boto3.session.Session().region_name
    if not name:
        raise ConfigError("no AWS region configured; set AWS_DEFAULT_REGION (or AWS_REGION)")
    return name


def account_id(client: BaseClient | None = None) -> str:
    try:
        account: str = (client or new_client("sts")).get_caller_identity()["Account"]
        return account
    except (ClientError, BotoCoreError) as exc:
        if problem := configuration_problem(exc, "sts"):
            raise problem from None
        raise AwsError(
            f"could not identify the AWS account (sts:GetCallerIdentity): {exc}; "
            "check the credentials"
        ) from None
