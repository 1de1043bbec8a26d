"""`pipeline bootstrap`: deploy infra/bootstrap.yaml in this account and print its outputs.

The outputs (artifact bucket and key, SageMaker execution role) are what later stages
resolve account-specific values from; they are never written into parameter files.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.aws.cloudformation import CloudFormation
from pipeline.errors import ConfigError
from pipeline.settings import Settings

CAPABILITIES = ("CAPABILITY_NAMED_IAM",)  # the execution role has a fixed name


def stack_name(project: str) -> str:
    return f"{project}-bootstrap"


def run(settings: Settings, account_role: str, environment_accounts: list[str],
        artifact_bucket: str, artifact_key: str, progress: Callable[[str], None],
        project: str | None = None) -> dict[str, str]:  # fmt: skip
    project = project or settings.project
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


def output(settings: Settings, key: str, cfn: CloudFormation | None = None) -> str:
    """One output of this account's bootstrap stack, or a ConfigError saying how to get it.
    The artifact bucket may instead come from PIPELINE_ARTIFACT_BUCKET (another account's)."""
    if key == "ArtifactBucketName" and settings.artifact_bucket:
        return settings.artifact_bucket
    name = stack_name(settings.project)
    stack = (cfn or CloudFormation()).stack(name)
    if stack is None:
        raise ConfigError(f"stack {name} does not exist in this account and region; run "
                          "`python -m pipeline bootstrap` first")  # fmt: skip
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if key not in outputs:
        raise ConfigError(f"stack {name} has no output {key} (status {stack['StackStatus']}); "
                          "redeploy it with `python -m pipeline bootstrap` and the account "
                          "role that creates it")  # fmt: skip
    return outputs[key]
