"""`pipeline bootstrap`: deploy infra/bootstrap.yaml in this account and print its outputs.

One bootstrap per account serves every project: its stack, artifact bucket, key and
SageMaker execution role are named after BOOTSTRAP_NAMESPACE, never after a project, so a
second project's `pipeline bootstrap` finds the stack as it is and changes nothing.

The outputs (artifact bucket and key, SageMaker execution role) are what later stages
resolve account-specific values from; they are never written into parameter files.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.aws.cloudformation import CloudFormation
from pipeline.errors import ConfigError
from pipeline.settings import BOOTSTRAP_NAMESPACE, Settings

CAPABILITIES = ("CAPABILITY_NAMED_IAM",)  # the execution role has a fixed name
# The account-level namespace of the bootstrap's names (template parameter Namespace):
# stack <ns>-bootstrap, bucket <ns>-artifacts-<account>-<region>, role
# <ns>-sagemaker-execution. infra/github-oidc.yaml's BootstrapNamespace must match it.


def stack_name() -> str:
    return f"{BOOTSTRAP_NAMESPACE}-bootstrap"


DEFAULTS = {"AccountRole": "both", "EnvironmentAccountIds": "", "ArtifactBucketName": "",
            "ArtifactKeyArn": ""}  # fmt: skip


def parameters(given: dict[str, str | None], existing: dict | None) -> dict[str, str]:
    """The stack's parameters: each one given, else the existing stack's value (another
    project bootstrapped the account: leave it as it is), else the template's default."""
    previous = {}
    if existing and existing.get("StackStatus") != "ROLLBACK_COMPLETE":
        previous = {p["ParameterKey"]: p["ParameterValue"] for p in existing.get("Parameters", [])}
    chosen = {"Namespace": BOOTSTRAP_NAMESPACE}
    for key, default in DEFAULTS.items():
        value = given.get(key)
        chosen[key] = value if value is not None else previous.get(key, default)
    if chosen["AccountRole"] == "env" and not (chosen["ArtifactBucketName"]
                                               and chosen["ArtifactKeyArn"]):  # fmt: skip
        raise ConfigError("--account-role env needs --artifact-bucket and --artifact-key "
                          "(the build account's bootstrap outputs)")  # fmt: skip
    return chosen


def run(settings: Settings, account_role: str | None = None,
        environment_accounts: list[str] | None = None, artifact_bucket: str | None = None,
        artifact_key: str | None = None,
        progress: Callable[[str], None] = lambda _: None) -> dict[str, str]:  # fmt: skip
    """Deploy this account's bootstrap stack, the same for every project. An option left
    None keeps the existing stack's value, so bootstrapping again (for another project)
    executes nothing."""
    template = (settings.infra_dir / "bootstrap.yaml").read_text()
    cfn = CloudFormation(progress=progress)
    given = {
        "AccountRole": account_role,
        "EnvironmentAccountIds": None if environment_accounts is None
        else ",".join(environment_accounts),
        "ArtifactBucketName": artifact_bucket,
        "ArtifactKeyArn": artifact_key,
    }  # fmt: skip
    chosen = parameters(given, cfn.stack(stack_name()))
    progress(f"deploying {stack_name()} (AccountRole {chosen['AccountRole']})")
    return cfn.deploy(stack_name(), template, chosen, CAPABILITIES)


def output(settings: Settings, key: str, cfn: CloudFormation | None = None) -> str:
    """One output of this account's bootstrap stack, or a ConfigError saying how to get it.
    The artifact bucket may instead come from PIPELINE_ARTIFACT_BUCKET (another account's).
    The stack is the account's, not the project's: settings only supply that override."""
    if key == "ArtifactBucketName" and settings.artifact_bucket:
        return settings.artifact_bucket
    if key == "SigningKeyArn" and settings.signing_key:
        return settings.signing_key
    name = stack_name()
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
