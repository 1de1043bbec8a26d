"""`pipeline deploy --env ENV [--digest D] [--dry-run] [--wait]`: the endpoint stack, done right.

Steps: validate every parameter file (no AWS call before that); resolve the bucket and the
execution role from this account's bootstrap outputs; take the artifact (digest D, else the
local manifest's) and check it in the bucket, bytes included; create a change set of
infra/endpoint.yaml for stack <project>-<env> with every template parameter explicit; show
the preview; execute and wait; smoke the endpoint; record the release.

Outcomes: no changes (success, nothing touched); a stack in ROLLBACK_COMPLETE is deleted and
created again; a stack another deploy is working on is refused (or waited for with
--wait); a failed create/update reports the failing resources and leaves the previous
endpoint serving; a failed smoke records nothing. --dry-run stops after the preview and
leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.aws import identity
from pipeline.aws.cloudformation import ChangeSet, CloudFormation
from pipeline.aws.errors import NotFound
from pipeline.aws.kms import Kms
from pipeline.aws.s3 import S3
from pipeline.core import environments, provenance
from pipeline.core import manifest as manifest_core
from pipeline.core import releases as releases_core
from pipeline.core.params import PIPELINE_FILLED, PIPELINE_TAGS, stack_parameters
from pipeline.errors import ConfigError, PipelineError
from pipeline.settings import Settings
from pipeline.stages import bootstrap, environment, image_uri, lint, releases, smoke
from pipeline.stages.config import read_json


@dataclass(frozen=True)
class Artifact:
    digest: str
    bucket: str
    key: str
    manifest_key: str
    manifest: dict

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass
class DeployResult:
    environment: str
    stack: str
    digest: str
    change_set: ChangeSet | None = None
    recreated: bool = False
    dry_run: bool = False
    outputs: dict[str, str] = field(default_factory=dict)
    smoke: smoke.SmokeResult | None = None
    release_key: str | None = None
    notes: list[str] = field(default_factory=list)


def checked_environment(settings: Settings, name: str) -> dict:
    """The environment's parameter file, after validating all of them (ConfigError, exit 2)."""
    files = {p.stem for p in settings.params_dir.glob("*.json")}
    if name not in files:
        raise ConfigError(f"no parameter file {settings.params_dir / (name + '.json')}; "
                          f"environments: {', '.join(sorted(files)) or 'none'}")  # fmt: skip
    documents, problems = lint.load_params(settings)
    if problems:
        raise ConfigError("parameter files are invalid; nothing was sent to AWS:\n  "
                          + "\n  ".join(map(str, problems)))  # fmt: skip
    return documents[name]


def artifact(settings: Settings, s3: S3, bucket: str, digest: str | None) -> Artifact:
    """The artifact to deploy, checked in the bucket: present, and its bytes hash to it."""
    if digest is None:
        digest = read_json(settings.manifest_file, "python -m pipeline package")["artifact"][
            "sha256"
        ]
    if not releases_core.is_digest(digest):
        raise ConfigError(f"--digest {digest!r} is not a sha256 hex digest (64 hex characters)")
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
    verify_provenance(settings, s3, bucket, key.rsplit("/", 1)[0], digest, manifest_bytes)
    actual = s3.sha256(bucket, key)
    if actual != digest:
        raise PipelineError(
            f"s3://{bucket}/{key} has sha256 {actual}, not {digest}: the artifact was "
            "changed after upload. Refusing to deploy it."
        )
    if manifest.get("artifact", {}).get("sha256") != digest:
        described = manifest.get("artifact", {}).get("sha256")
        raise PipelineError(f"s3://{bucket}/{manifest_key} describes {described}, not {digest}")
    return Artifact(digest, bucket, key, manifest_key, manifest)


def verify_provenance(settings: Settings, s3: S3, bucket: str, prefix: str, digest: str,
                      manifest_bytes: bytes) -> None:  # fmt: skip
    """The build's signature of this digest and manifest, checked with the bootstrap's
    signing key, before the artifact is trusted (ProvenanceError names the digest)."""
    where = f"s3://{bucket}/{prefix}/{provenance.FILE}"
    trusted = bootstrap.output(settings, "SigningKeyArn")
    try:
        document = json.loads(s3.read(bucket, f"{prefix}/{provenance.FILE}"))
    except NotFound:
        raise provenance.ProvenanceError(
            f"artifact {digest} is not trusted: {where} does not exist (the build never "
            "signed it). Nothing was deployed; upload it with `python -m pipeline upload`, "
            "which signs it as the build role"
        ) from None
    except ValueError:
        document = None
    message, signature = provenance.check(
        document, digest=digest, manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        trusted_key=trusted, where=where,
    )  # fmt: skip
    if not Kms().verify(trusted, message, signature, provenance.ALGORITHM):
        raise provenance.ProvenanceError(
            f"artifact {digest} is not trusted: the signature in {where} does not verify with "
            f"the build's signing key {trusted}. Nothing was deployed."
        )


def _commit(settings: Settings) -> str:
    """The pipeline checkout's commit, or "unknown" outside a git work tree."""
    try:
        return environment.git_state(settings.project_dir)["commit"]
    except ConfigError:
        return "unknown"


def preview(change_set: ChangeSet) -> list[tuple[str, str, str, str]]:
    """(resource, type, action, replaced) rows of a change set."""
    replaced = {"True": "yes", "False": "no", "Conditional": "maybe", "": "-"}
    return [(c.logical_id, c.resource_type, c.action, replaced.get(c.replacement, c.replacement))
            for c in change_set.changes]  # fmt: skip


def run(settings: Settings, env_name: str, digest: str | None = None, dry_run: bool = False,
        wait: bool = False, progress: Callable[[str], None] = lambda _: None,
        show_preview: Callable[[DeployResult], None] = lambda _: None,
        approve: Callable[[DeployResult], bool] | None = None, kind: str = "deploy",
        extra_record: dict | None = None, sleep: Callable[[float], None] = time.sleep,
        parameters_override: dict[str, str] | None = None) -> DeployResult:  # fmt: skip
    """Deploy; `parameters_override` (a rollback's recorded parameters) replaces the file's.
    `kind` is who calls: `deploy` never changes a protected environment; promote and
    rollback check their own rules first, and the engine itself never changes a protected
    stack without an approval (exit 2 before any AWS call)."""
    if kind == "deploy":
        environments.check_deploy(env_name)
    if environments.get(env_name).protected and approve is None and not dry_run:
        raise ConfigError(f"{env_name} is protected: changing it needs an approval. Nothing "
                          "was sent.")  # fmt: skip
    env_file = checked_environment(settings, env_name)
    template_parameters = lint.template_parameters(settings)
    cfn, s3 = CloudFormation(progress=progress), S3()
    bucket = bootstrap.output(settings, "ArtifactBucketName", cfn)
    role = bootstrap.output(settings, "SageMakerExecutionRoleArn", cfn)
    chosen = artifact(settings, s3, bucket, digest)
    filled = {
        "ModelData": chosen.uri,
        "ModelDigest": chosen.digest,
        "ImageURI": image_uri.run(settings, identity.region()),
        "RoleARN": role,
        "ProjectName": settings.project,
    }
    assert set(filled) == PIPELINE_FILLED
    parameters = stack_parameters(template_parameters, env_file["Parameters"], filled)
    if parameters_override is not None:
        unknown = set(parameters_override) - set(template_parameters)
        if unknown:
            raise ConfigError(f"recorded parameters {sorted(unknown)} are not in the template "
                              f"{settings.endpoint_template} any more; deploy instead")  # fmt: skip
        parameters = stack_parameters(template_parameters, parameters_override, {})
        if parameters["ModelDigest"] != chosen.digest:
            raise ConfigError(f"recorded parameters are for {parameters['ModelDigest']}, "
                              f"not {chosen.digest}")  # fmt: skip
    stack = smoke.stack_name(settings, env_name)
    result = DeployResult(env_name, stack, chosen.digest, dry_run=dry_run)
    if wait:
        cfn.wait_until_settled(stack, sleep)
    if cfn.status(stack) == "ROLLBACK_COMPLETE":
        if dry_run:
            result.notes.append(f"{stack} is ROLLBACK_COMPLETE (a failed first create); a "
                                "deploy deletes it and creates it again")  # fmt: skip
            return result
        progress(f"{stack}: deleting the leftover failed create (ROLLBACK_COMPLETE)")
        cfn.delete(stack)
        result.recreated = True
        result.notes.append(f"deleted {stack}, left in ROLLBACK_COMPLETE by a failed create, "
                            "and created it again")  # fmt: skip
    template = settings.endpoint_template.read_text()
    tags = {**env_file.get("Tags", {}), "project": settings.project,
            "model-digest": chosen.digest}  # fmt: skip
    assert set(PIPELINE_TAGS) <= set(tags)
    result.change_set = cfn.create_change_set(stack, template, parameters, tags=tags)
    show_preview(result)
    if result.change_set.no_changes or dry_run:
        cfn.discard(result.change_set)
        if result.change_set.no_changes:
            result.notes.append("no changes: the stack already runs this artifact with "
                                "these parameters; nothing was touched")  # fmt: skip
        return result
    if approve is not None and not approve(result):
        cfn.discard(result.change_set)
        raise PipelineError(f"{stack}: not approved; the change set was deleted and nothing "
                            "was deployed")  # fmt: skip
    result.outputs = cfn.execute(result.change_set, sleep=sleep)
    progress(f"{stack}: smoke test of {result.outputs.get('EndpointName')}")
    try:
        result.smoke = smoke.check(result.outputs["EndpointName"], chosen.manifest)
    except smoke.SmokeFailed as exc:
        raise smoke.SmokeFailed(
            f"{exc}\nNo release was recorded. {stack} now serves {chosen.digest}, which is not "
            f"a release: deploy a fixed artifact, or `python -m pipeline rollback --env "
            f"{env_name}` to the last release"
        ) from None
    record = releases_core.record(
        project=settings.project, environment=env_name, digest=chosen.digest,
        artifact_key=chosen.key, manifest_key=chosen.manifest_key, parameters=parameters,
        outputs=result.outputs, commit=_commit(settings),
        when=releases.now(), actor=releases.actor(), kind=kind, extra=extra_record,
    )  # fmt: skip
    result.release_key = releases.write(s3, bucket, record)
    return result
