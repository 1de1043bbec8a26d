"""A deploy's inputs, resolved once for every caller, and the release flow built on them.

`environment_file` validates every parameter file before any AWS call (exit 2);
`account_inputs` reads the bucket, the execution role and the serving image for this
account and region; `artifact` checks the chosen digest in the bucket (present, signed by
the build, bytes hashing to it); `filled_parameters` is what the pipeline itself puts into
every stack: deploy, promote, rollback and taskcat (pipeline test) all resolve through
here, so the same fault gets the same message everywhere.

`release` turns resolved inputs and the stack's current state into a plan
(pipeline.core.plan) and hands it to an executor: the real one (execute, smoke, record the
release) or, for --dry-run, the display-only one. Promote and rollback call it after their
own rules; they pass nothing through `deploy`.

Must not import any stage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pipeline.aws import identity
from pipeline.aws.cloudformation import ChangeSet
from pipeline.aws.errors import NotFound
from pipeline.core import environments, provenance
from pipeline.core import manifest as manifest_core
from pipeline.core import plan as plans
from pipeline.core import releases as releases_core
from pipeline.core.params import PIPELINE_FILLED, PIPELINE_TAGS, stack_parameters
from pipeline.errors import ConfigError, PipelineError
from pipeline.settings import Settings
from pipeline.shared import account, config, environment, records, registry, smoking
from pipeline.shared import params as params_files
from pipeline.shared.context import Context
from pipeline.shared.executor import Outcome, executor


@dataclass(frozen=True)
class Artifact:
    digest: str
    bucket: str
    key: str
    manifest_key: str
    manifest: dict[str, Any]

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class AccountInputs:
    bucket: str
    role: str
    image: str


@dataclass(frozen=True)
class DeployInputs:
    environment: str
    artifact: Artifact
    stack: plans.StackInputs


@dataclass
class DeployResult:
    environment: str
    stack: str
    digest: str
    plan: plans.Plan | None = None
    change_set: ChangeSet | None = None
    recreated: bool = False
    dry_run: bool = False
    outputs: dict[str, str] = field(default_factory=dict)
    smoke: smoking.SmokeResult | None = None
    release_key: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def no_changes(self) -> bool:
        return (self.plan is not None and self.plan.kind == plans.NOTHING) or bool(
            self.change_set and self.change_set.no_changes
        )


def environment_file(settings: Settings, name: str) -> dict[str, Any]:
    """The environment's parameter file, after validating all of them (ConfigError, exit 2)."""
    files = {p.stem for p in settings.params_dir.glob("*.json")}
    if name not in files:
        raise ConfigError(
            f"no parameter file {settings.params_dir / (name + '.json')}; "
            f"environments: {', '.join(sorted(files)) or 'none'}"
        )
    documents, problems = params_files.load_params(settings)
    if problems:
        raise ConfigError(
            "parameter files are invalid; nothing was sent to AWS:\n  "
            + "\n  ".join(map(str, problems))
        )
    return documents[name]


def require_approval(ctx: Context, environment_name: str, dry_run: bool) -> None:
    """No path changes a protected stack without an approval: refused (exit 2) before any
    AWS call when none can be given. A dry run changes nothing and needs none."""
    if environments.get(environment_name).protected and not dry_run and not ctx.ui.can_confirm:
        raise ConfigError(
            f"{environment_name} is protected: changing it needs an approval "
            "(--approve, or a confirmation typed at a terminal). Nothing was "
            "sent."
        )


def account_inputs(ctx: Context) -> AccountInputs:
    settings = ctx.settings
    return AccountInputs(
        bucket=account.output_for(ctx, "ArtifactBucketName"),
        role=account.output_for(ctx, "SageMakerExecutionRoleArn"),
        image=config.load_serving_image(settings).uri(identity.region()),
    )


def filled_parameters(settings: Settings, chosen: Artifact, where: AccountInputs) -> dict[str, str]:
    """The parameters the pipeline fills in every stack (refused in parameter files)."""
    filled = {
        "ModelData": chosen.uri,
        "ModelDigest": chosen.digest,
        "ImageURI": where.image,
        "RoleARN": where.role,
        "ProjectName": settings.project,
    }
    assert set(filled) == PIPELINE_FILLED
    return filled


def local_digest(settings: Settings) -> str:
    manifest = config.read_json(settings.manifest_file, "python -m pipeline package")
    return str(manifest["artifact"]["sha256"])


def check_digest(digest: str | None) -> None:
    """A digest given on the command line is a sha256 hex digest (ConfigError, exit 2)."""
    if digest is not None and not releases_core.is_digest(digest):
        raise ConfigError(f"--digest {digest!r} is not a sha256 hex digest (64 hex characters)")


def artifact(ctx: Context, bucket: str, digest: str | None) -> Artifact:
    """The artifact to deploy, checked in the bucket: present, signed by the build, and its
    bytes hash to its digest."""
    chosen = signed(ctx, bucket, digest)
    actual = ctx.s3.sha256(bucket, chosen.key)
    if actual != chosen.digest:
        raise PipelineError(
            f"s3://{bucket}/{chosen.key} has sha256 {actual}, not {chosen.digest}: the artifact "
            "was changed after upload. Refusing to deploy it."
        )
    return chosen


def signed(ctx: Context, bucket: str, digest: str | None) -> Artifact:
    """The artifact's manifest, trusted: the artifact is in the bucket, the build's signature
    covers this digest and these manifest bytes, and the manifest describes the digest. The
    artifact's own bytes are not read (`artifact` re-hashes them, for what will serve them)."""
    settings, s3 = ctx.settings, ctx.s3
    if digest is None:
        digest = local_digest(settings)
    check_digest(digest)
    key = manifest_core.s3_key(settings.model_name, digest)
    manifest_key = key.rsplit("/", 1)[0] + "/manifest.json"
    if s3.head(bucket, key) is None:
        raise ConfigError(
            f"digest {digest} is not in the artifact bucket (s3://{bucket}/{key} does not "
            "exist); upload it first (`python -m pipeline upload`) or choose a released "
            "digest (`python -m pipeline releases --env E`)"
        )
    try:
        manifest_bytes = s3.read(bucket, manifest_key)
        manifest = json.loads(manifest_bytes)
    except (PipelineError, ValueError):
        raise ConfigError(
            f"s3://{bucket}/{manifest_key} is missing or unreadable; upload the "
            "artifact with its manifest (`python -m pipeline upload`)"
        ) from None
    verify_provenance(ctx, bucket, key.rsplit("/", 1)[0], digest, manifest_bytes)
    if manifest.get("artifact", {}).get("sha256") != digest:
        described = manifest.get("artifact", {}).get("sha256")
        raise PipelineError(f"s3://{bucket}/{manifest_key} describes {described}, not {digest}")
    return Artifact(digest, bucket, key, manifest_key, manifest)


def verify_provenance(
    ctx: Context, bucket: str, prefix: str, digest: str, manifest_bytes: bytes
) -> None:
    """The build's signature of this digest and manifest, checked with the bootstrap's
    signing key, before the artifact is trusted (ProvenanceError names the digest)."""
    where = f"s3://{bucket}/{prefix}/{provenance.FILE}"
    trusted = account.output_for(ctx, "SigningKeyArn")
    try:
        document = json.loads(ctx.s3.read(bucket, f"{prefix}/{provenance.FILE}"))
    except NotFound:
        raise provenance.ProvenanceError(
            f"artifact {digest} is not trusted: {where} does not exist (the build never "
            "signed it). Nothing was deployed; upload it with `python -m pipeline upload`, "
            "which signs it as the build role"
        ) from None
    except ValueError:
        document = None
    message, signature = provenance.check(
        document,
        digest=digest,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        trusted_key=trusted,
        where=where,
    )
    if not ctx.kms.verify(trusted, message, signature, provenance.ALGORITHM):
        raise provenance.ProvenanceError(
            f"artifact {digest} is not trusted: the signature in {where} does not verify with "
            f"the build's signing key {trusted}. Nothing was deployed."
        )


def resolve(
    ctx: Context,
    environment_name: str,
    digest: str | None,
    recorded_parameters: dict[str, str] | None = None,
) -> DeployInputs:
    """Everything a deploy of `digest` to the environment sends: parameter file validated
    (exit 2 before any AWS call), account inputs, artifact checked, every parameter filled.
    `recorded_parameters` (a rollback's release record) replace the file's."""
    settings = ctx.settings
    env_file = environment_file(settings, environment_name)
    template_parameters = params_files.template_parameters(settings)
    check_digest(digest)  # before any AWS call
    where = account_inputs(ctx)
    chosen = artifact(ctx, where.bucket, digest)
    parameters = stack_parameters(
        template_parameters, env_file["Parameters"], filled_parameters(settings, chosen, where)
    )
    if recorded_parameters is not None:
        unknown = set(recorded_parameters) - set(template_parameters)
        if unknown:
            raise ConfigError(
                f"recorded parameters {sorted(unknown)} are not in the template "
                f"{settings.endpoint_template} any more; deploy instead"
            )
        parameters = stack_parameters(template_parameters, recorded_parameters, {})
        if parameters["ModelDigest"] != chosen.digest:
            raise ConfigError(
                f"recorded parameters are for {parameters['ModelDigest']}, not {chosen.digest}"
            )
    tags = {**env_file.get("Tags", {}), "project": settings.project, "model-digest": chosen.digest}
    assert set(PIPELINE_TAGS) <= set(tags)
    stack = plans.StackInputs(
        account.stack_name(settings, environment_name),
        settings.endpoint_template.read_text(),
        parameters,
        tags,
    )
    return DeployInputs(environment_name, chosen, stack)


def stack_state(ctx: Context, name: str, with_template: bool = True) -> plans.StackState:
    """Read what is there: status, parameters, tags (and the template, when it may matter)."""
    stack = ctx.cfn.stack(name)
    if stack is None:
        return plans.StackState(name)
    status = stack["StackStatus"]
    settled = status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    return plans.StackState(
        name,
        status,
        {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        {t["Key"]: t["Value"] for t in stack.get("Tags", [])},
        ctx.cfn.template(name) if with_template and settled else None,
    )


def _commit(settings: Settings) -> str:
    """The pipeline checkout's commit, or "unknown" outside a git work tree."""
    try:
        return str(environment.git_state(settings.project_dir)["commit"])
    except ConfigError:
        return "unknown"


def release(
    ctx: Context,
    inputs: DeployInputs,
    *,
    kind: str,
    extra: dict[str, Any] | None = None,
    dry_run: bool = False,
    wait: bool = False,
) -> DeployResult:
    """Plan the stack change and carry it out (or, dry_run, only show it): execute, smoke the
    endpoint, record the release of kind `kind` (deploy | promote | rollback)."""
    settings, env_name = ctx.settings, inputs.environment
    name, chosen = inputs.stack.stack, inputs.artifact
    require_approval(ctx, env_name, dry_run)
    # the model's approval, in the registry: before anything is sent to CloudFormation
    version, not_yet = registry.gate(ctx, env_name, chosen.digest)
    if not_yet and not dry_run:
        raise ConfigError(f"{not_yet}. Nothing was sent to CloudFormation.")
    if version is not None:
        extra = {**(extra or {}), "model_package_arn": version.arn, "model_version": version.number}
    if wait:
        ctx.cfn.wait_until_settled(name, ctx.sleep)
    protected = environments.get(env_name).protected
    plan = plans.stack_plan(
        inputs.stack, stack_state(ctx, name), approval=protected, smoke=True, record=True
    )
    result = DeployResult(env_name, name, chosen.digest, plan=plan, dry_run=dry_run)

    def smoke(step: plans.Step, outcome: Outcome) -> None:
        endpoint = outcome.outputs["EndpointName"]
        ctx.ui.progress(f"{name}: smoke test of {endpoint}")
        try:
            result.smoke = smoking.check(endpoint, chosen.manifest)
        except smoking.SmokeFailed as exc:
            raise smoking.SmokeFailed(
                f"{exc}\nNo release was recorded. {name} now serves {chosen.digest}, which is "
                f"not a release: deploy a fixed artifact, or `python -m pipeline rollback "
                f"--env {env_name}` to the last release"
            ) from None

    def record(step: plans.Step, outcome: Outcome) -> None:
        entry = releases_core.record(
            project=settings.project,
            environment=env_name,
            digest=chosen.digest,
            artifact_key=chosen.key,
            manifest_key=chosen.manifest_key,
            parameters=dict(inputs.stack.parameters),
            outputs=outcome.outputs,
            commit=_commit(settings),
            when=records.now(),
            actor=records.actor(),
            kind=kind,
            extra=extra,
        )
        result.release_key = records.write(ctx.s3, chosen.bucket, entry)

    handlers = {plans.SMOKE: smoke, plans.RECORD_RELEASE: record}
    outcome = executor(ctx, dry_run, handlers).run(plan)
    result.change_set, result.outputs = outcome.change_set, outcome.outputs
    result.recreated = plans.DELETE_STACK in outcome.done
    result.notes = outcome.notes
    if dry_run:
        result.notes.append(
            "dry run: nothing was deployed (any change set made for the preview was deleted)"
        )
        if not_yet:
            result.notes.append(f"not deployable as it stands: {not_yet}")
    return result
