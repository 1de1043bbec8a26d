"""The SageMaker Model Registry, decided from data alone: what a build registers (the
CreateModelPackage request), how a version is read back, what approval and rejection write,
and which versions an environment may take.

Every build is a version in the model package group named after `[model] name`. A version
carries the artifact (InferenceSpecification: the serving image and ModelDataUrl, the
content types the signature admits, the instance types of the parameter files), the
metrics (ModelMetrics.ModelQuality.Statistics: the metrics JSON beside the artifact) and
its provenance (CustomerMetadataProperties: digest, git commit, training job, signature
digest). It starts as PendingManualApproval; prod takes only Approved versions, the other
environments any version not Rejected.

Facts (SageMaker API Reference: CreateModelPackage, UpdateModelPackage,
ModelPackageStatusDetails; Developer Guide "Update the Approval Status of a Model"):
ModelApprovalStatus is Approved | Rejected | PendingManualApproval; ApprovalDescription is
at most 1,024 characters; CustomerMetadataProperties keys at most 128 and values at most 256
characters of letters, digits, spaces and `_.:/=+-@` only (no parentheses, commas...), at
most 50 entries.

Standard library and pipeline.errors only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from pipeline.errors import ConfigError

APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"
STATUSES = (APPROVED, REJECTED, PENDING)
MAX_DESCRIPTION = 1024
MAX_METADATA_VALUE = 256
CSV, JSON, NPY = "text/csv", "application/json", "application/x-npy"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_DIGEST_PREFIX = re.compile(r"^[0-9a-f]{8,64}$")
_VERSION = re.compile(r"^[1-9][0-9]{0,6}$")  # 7 digits at most: 8 are a digest prefix

# CustomerMetadataProperties keys
DIGEST, GIT_COMMIT, TRAINING_JOB, SIGNATURE = "digest", "git-commit", "training-job", "signature"


@dataclass(frozen=True)
class Version:
    """One model package of the group, as DescribeModelPackage answers."""

    group: str
    number: int
    arn: str
    status: str
    digest: str | None
    created: Any  # datetime
    description: str
    metadata: dict[str, str] = field(default_factory=dict)
    metrics_uri: str | None = None
    model_data_url: str | None = None


def content_types(signature: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Request and response MIME types the packaged handler (model/inference.py) takes for
    this signature: CSV and JSON always; .npy only when every input (requests) and the
    prediction (responses: regression) is a number."""
    numeric = all(column.get("type") == "number" for column in signature.get("inputs", []))
    requests = [CSV, JSON, *([NPY] if numeric else [])]
    responses = [JSON, CSV, *([NPY] if signature.get("task") == "regression" else [])]
    return requests, responses


def metadata(manifest: Mapping[str, Any]) -> dict[str, str]:
    """CustomerMetadataProperties of a build: what ties the version to its artifact."""
    job = manifest.get("training_job") or {}
    values = {
        DIGEST: manifest["artifact"]["sha256"],
        GIT_COMMIT: manifest.get("git", {}).get("commit") or "unknown",
        TRAINING_JOB: job.get("arn") or "none",  # trained by `pipeline train` itself
        SIGNATURE: manifest.get("signature_sha256") or "unknown",
    }
    return {key: value[:MAX_METADATA_VALUE] for key, value in values.items()}


def package_request(
    *,
    group: str,
    manifest: Mapping[str, Any],
    image: str,
    model_data_url: str,
    metrics_uri: str,
    instance_types: Iterable[str],
) -> dict[str, Any]:
    """The CreateModelPackage parameters registering a build as a new version."""
    requests, responses = content_types(manifest["signature"])
    request: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "ModelPackageDescription": (
            f"{manifest['model_name']} {manifest['artifact']['sha256'][:12]} "
            f"(git {str(manifest.get('git', {}).get('commit') or 'unknown')[:12]})"
        ),
        "InferenceSpecification": {
            "Containers": [{"Image": image, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": requests,
            "SupportedResponseMIMETypes": responses,
        },
        "ModelMetrics": {
            "ModelQuality": {"Statistics": {"ContentType": JSON, "S3Uri": metrics_uri}}
        },
        "CustomerMetadataProperties": metadata(manifest),
        "ModelApprovalStatus": PENDING,
    }
    types = sorted(set(instance_types))
    if types:  # Serverless-only environments name none
        request["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"] = types
    return request


def quality(manifest: dict[str, Any]) -> dict[str, Any]:
    """The metrics registered with the version: the manifest's, with the data files by name
    (not the building machine's paths), so every build of the same artifact writes the same
    metrics.json."""
    metrics = dict(manifest["metrics"])
    data = dict(metrics.get("data") or {})
    for split in ("train", "test"):
        if isinstance(data.get(split), str):
            data[split] = PurePosixPath(data[split]).name
    metrics["data"] = data
    return metrics


def version_from(answer: Mapping[str, Any]) -> Version:
    """A Version from a DescribeModelPackage answer."""
    properties = dict(answer.get("CustomerMetadataProperties") or {})
    containers = (answer.get("InferenceSpecification") or {}).get("Containers") or [{}]
    statistics = ((answer.get("ModelMetrics") or {}).get("ModelQuality") or {}).get(
        "Statistics"
    ) or {}
    return Version(
        group=str(answer.get("ModelPackageGroupName", "")),
        number=int(answer.get("ModelPackageVersion") or 0),
        arn=str(answer["ModelPackageArn"]),
        status=str(answer.get("ModelApprovalStatus", PENDING)),
        digest=properties.get(DIGEST),
        created=answer.get("CreationTime"),
        description=str(answer.get("ApprovalDescription") or ""),
        metadata=properties,
        metrics_uri=statistics.get("S3Uri"),
        model_data_url=containers[0].get("ModelDataUrl"),
    )


def decision(action: str, reason: str, who: str) -> tuple[str, str]:
    """(ModelApprovalStatus, ApprovalDescription) of `approve` or `reject`: who and why."""
    status = {"approve": APPROVED, "reject": REJECTED}[action]
    reason = " ".join(reason.split())
    if not reason:
        raise ConfigError(f"{action} needs --reason TEXT: the registry records who and why")
    text = f"{status} by {who}: {reason}"
    if len(text) > MAX_DESCRIPTION:
        raise ConfigError(
            f"--reason is too long: ApprovalDescription takes {MAX_DESCRIPTION} characters "
            f"and this one would be {len(text)}"
        )
    return status, text


def parse_reference(text: str) -> tuple[str, str]:
    """A version as the CLI takes it: ("version", "3") or ("digest", hex prefix, 8-64)."""
    text = text.strip().lower()
    if _VERSION.match(text):
        return "version", text
    if _DIGEST_PREFIX.match(text):
        return "digest", text
    raise ConfigError(
        f"{text!r} is neither a version number (1 to 7 digits) nor an artifact digest (8 to "
        "64 hex characters of the sha256)"
    )


def pick(versions: Iterable[Version], reference: str, group: str) -> Version:
    """The one version a reference names; ConfigError when none or several do."""
    kind, value = parse_reference(reference)
    if kind == "version":
        found = [v for v in versions if v.number == int(value)]
    else:
        found = [v for v in versions if v.digest and v.digest.startswith(value)]
    if not found:
        raise ConfigError(
            f"model package group {group} has no version {reference!r}; "
            "`python -m pipeline registry list` shows them"
        )
    if len(found) > 1:
        numbers = ", ".join(str(v.number) for v in found)
        raise ConfigError(
            f"{reference!r} matches versions {numbers} of {group}; give more of the digest"
        )
    return found[0]


def refusal(environment: str, version: Version, protected: bool) -> str | None:
    """Why `environment` may not take `version` (None: it may). A protected environment
    takes only Approved versions; every other environment any version not Rejected."""
    if version.status == REJECTED:
        return (
            f"version {version.number} of {version.group} ({(version.digest or '?')[:12]}) is "
            f"Rejected in the model registry ({version.description or 'no reason recorded'}); "
            f"{environment} does not take rejected models"
        )
    if protected and version.status != APPROVED:
        return (
            f"version {version.number} of {version.group} ({(version.digest or '?')[:12]}) is "
            f"{version.status}, and {environment} takes only Approved versions; approve it "
            f"with `python -m pipeline registry approve {version.number} --reason TEXT`"
        )
    return None


def is_digest(text: str) -> bool:
    return bool(_DIGEST.match(text))


_KEY_ARN = re.compile(r"^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):key/[A-Za-z0-9-]+$")


@dataclass(frozen=True)
class Home:
    """Where the registry is: the build account's (the account and region of its signing
    key, which every deploy already resolves to verify provenance)."""

    partition: str
    region: str
    account: str

    def _arn(self, resource: str) -> str:
        return f"arn:{self.partition}:sagemaker:{self.region}:{self.account}:{resource}"

    def group_arn(self, group: str) -> str:
        return self._arn(f"model-package-group/{group}")

    def versions_arn(self, group: str) -> str:
        """Every version of the group (model-package/<group>/<n>)."""
        return self._arn(f"model-package/{group}/*")


def home(signing_key_arn: str) -> Home:
    """The registry's account and region, from the build account's signing key ARN."""
    found = _KEY_ARN.match(signing_key_arn)
    if not found:
        raise ValueError(f"{signing_key_arn!r} is not a KMS key ARN")
    return Home(partition=found.group(1), region=found.group(2), account=found.group(3))


def group_policy(
    where: Home, group: str, project: str, accounts: Iterable[str]
) -> dict[str, Any] | None:
    """The model package group's resource policy (PutModelPackageGroupPolicy) admitting the
    project's GitHub roles of the environment accounts other than the build account: read
    the group and its versions (every deploy role consults the registry), and the prod
    deploy role alone may approve or reject (only to Approved or Rejected). None when no
    other account is listed: same-account access is the roles' own IAM policies'.

    Shape from the Developer Guide, "Cross-account discoverability"
    (model-registry-ram-discover.html): DescribeModelPackageGroup on the group ARN,
    DescribeModelPackage and ListModelPackages on `model-package/<group>/*`. The principals
    are narrowed as bootstrap.yaml's bucket policy narrows them: a role named
    `<project>-github-*` carrying the tag project=<project>."""
    others = sorted({a for a in accounts if a and a != where.account})
    if not others:
        return None
    p = where.partition
    roots = [f"arn:{p}:iam::{a}:root" for a in others]
    github_roles = [f"arn:{p}:iam::{a}:role/{project}-github-*" for a in others]
    prod_roles = [f"arn:{p}:iam::{a}:role/{project}-github-deploy-prod" for a in others]
    project_tag = {"aws:PrincipalTag/project": project}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnvironmentAccountsRead",
                "Effect": "Allow",
                "Principal": {"AWS": roots},
                "Action": [
                    "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:ListModelPackages",
                ],
                "Resource": [where.group_arn(group), where.versions_arn(group)],
                "Condition": {
                    "ArnLike": {"aws:PrincipalArn": github_roles},
                    "StringEquals": project_tag,
                },
            },
            {
                "Sid": "ProdDeployRoleDecides",
                "Effect": "Allow",
                "Principal": {"AWS": roots},
                "Action": "sagemaker:UpdateModelPackage",
                "Resource": where.versions_arn(group),
                "Condition": {
                    "ArnLike": {"aws:PrincipalArn": prod_roles},
                    "StringEquals": {
                        **project_tag,
                        "aws:PrincipalTag/environment": "prod",
                        "sagemaker:ModelApprovalStatus": [APPROVED, REJECTED],
                    },
                },
            },
        ],
    }
