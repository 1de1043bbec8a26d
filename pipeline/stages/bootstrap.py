"""`pipeline bootstrap`: deploy infra/bootstrap.yaml in this account and print its outputs.

The outputs (artifact bucket and key, SageMaker execution role) are what later stages
resolve account-specific values from; they are never written into parameter files.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.aws.cloudformation import CloudFormation
from pipeline.settings import Settings

CAPABILITIES = ("CAPABILITY_NAMED_IAM",)  # the execution role has a fixed name


def stack_name(project: str) -> str:
    return f"{project}-bootstrap"


def run(settings: Settings, account_role: str, environment_accounts: list[str],
        artifact_bucket: str, artifact_key: str, progress: Callable[[str], None],
        project: str = "diabetes") -> dict[str, str]:  # fmt: skip
    template = (settings.infra_dir / "bootstrap.yaml").read_text()
    parameters = {
        "ProjectName": project,
        "AccountRole": account_role,
        "EnvironmentAccountIds": ",".join(environment_accounts),
        "ArtifactBucketName": artifact_bucket,
        "ArtifactKeyArn": artifact_key,
    }
    cfn = CloudFormation(progress=progress)
    progress(f"deploying {stack_name(project)} (AccountRole {account_role})")
    return cfn.deploy(stack_name(project), template, parameters, CAPABILITIES)
