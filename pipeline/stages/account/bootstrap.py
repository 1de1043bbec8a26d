"""`pipeline bootstrap`: deploy infra/bootstrap.yaml in this account and print its outputs.

One bootstrap per account serves every project: its stack, artifact bucket, key and
SageMaker execution role are named after BOOTSTRAP_NAMESPACE, never after a project, so a
second project's `pipeline bootstrap` finds the stack as it is and changes nothing.

The outputs (artifact bucket and key, SageMaker execution role) are what later stages
resolve account-specific values from; they are never written into parameter files.
"""

from __future__ import annotations

from pipeline.core import plan as plans
from pipeline.errors import ConfigError
from pipeline.settings import BOOTSTRAP_NAMESPACE, BOOTSTRAP_STACK
from pipeline.shared import deploying
from pipeline.shared import params as params_files
from pipeline.shared.account import bootstrap_stack_name as stack_name
from pipeline.shared.context import Context
from pipeline.shared.executor import executor

CAPABILITIES = ("CAPABILITY_NAMED_IAM",)  # the execution role has a fixed name
# The account-level namespace of the bootstrap's names (template parameter Namespace):
# stack <ns>-bootstrap, bucket <ns>-artifacts-<account>-<region>, role
# <ns>-sagemaker-execution. infra/github-oidc.yaml's BootstrapNamespace must match it.


DEFAULTS = {
    "AccountRole": "both",
    "EnvironmentAccountIds": "",
    "ArtifactBucketName": "",
    "ArtifactKeyArn": "",
    "TrainingPrefix": "training",  # [training] output_prefix must match it
}


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
    if chosen["AccountRole"] == "env" and not (
        chosen["ArtifactBucketName"] and chosen["ArtifactKeyArn"]
    ):
        raise ConfigError(
            "--account-role env needs --artifact-bucket and --artifact-key "
            "(the build account's bootstrap outputs)"
        )
    return chosen


def run(
    ctx: Context,
    account_role: str | None = None,
    environment_accounts: list[str] | None = None,
    artifact_bucket: str | None = None,
    artifact_key: str | None = None,
    *,
    dry_run: bool = False,
) -> dict[str, str]:
    """Deploy this account's bootstrap stack, the same for every project. An option left
    None keeps the existing stack's value, so bootstrapping again (for another project)
    plans nothing. Returns the stack's outputs (empty for a dry run of a new stack)."""
    template_file = ctx.settings.infra_dir / "bootstrap.yaml"
    template = template_file.read_text()
    given = {
        "AccountRole": account_role,
        "EnvironmentAccountIds": None
        if environment_accounts is None
        else ",".join(environment_accounts),
        "ArtifactBucketName": artifact_bucket,
        "ArtifactKeyArn": artifact_key,
    }
    # every parameter explicit, as for every stack: one not chosen takes the template default
    defaults = {
        key: str(spec["Default"])
        for key, spec in params_files.template_parameters(ctx.settings, template_file).items()
        if "Default" in spec
    }
    chosen = {**defaults, **parameters(given, ctx.cfn.stack(stack_name()))}
    state = deploying.stack_state(ctx, stack_name())
    inputs = plans.StackInputs(stack_name(), template, chosen, dict(state.tags), CAPABILITIES)
    plan = plans.stack_plan(inputs, state)
    what = "no changes" if plan.kind == plans.NOTHING else plan.kind
    ctx.ui.progress(f"{stack_name()}: {what} (AccountRole {chosen['AccountRole']})")
    outcome = executor(ctx, dry_run).run(plan)
    ctx.cache.pop(BOOTSTRAP_STACK, None)  # its outputs may have changed
    return outcome.outputs or ctx.cfn.outputs(stack_name())
