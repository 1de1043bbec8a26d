"""`pipeline register`: the uploaded build as a new version of the project's model package
group in the SageMaker Model Registry (pipeline.core.registry decides the request).

The group is `[model] name`, created on first use and tagged `project`. The version points
at the uploaded artifact (`models/<name>/<sha256>/model.tar.gz`, which must be there with the
manifest's size), carries the metrics (`metrics.json`, written beside the artifact and named
in ModelMetrics.ModelQuality.Statistics) and starts PendingManualApproval. A digest that is
already registered returns that version: nothing duplicates. Where the bootstrap lists
environment accounts other than this one, the group gets the resource policy that lets
their deploy roles read it and prod's decide (pipeline.core.registry.group_policy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pipeline.core import registry as core
from pipeline.errors import ConfigError
from pipeline.shared import account, config, objects, params, registry
from pipeline.shared.context import Context


@dataclass(frozen=True)
class RegisterResult:
    group: str
    version: core.Version
    created: bool  # False: this digest was registered already
    group_created: bool
    metrics_uri: str
    shared: str | None = None  # the resource policy put for the environment accounts


def instance_types(ctx: Context) -> list[str]:
    """The InstanceType of every environment whose parameter file serves RealTime."""
    documents, problems = params.load_params(ctx.settings)
    if problems:
        raise ConfigError(
            "parameter files are invalid; nothing was registered:\n  "
            + "\n  ".join(map(str, problems))
        )
    return sorted(
        {
            str(doc["Parameters"]["InstanceType"])
            for doc in documents.values()
            if doc["Parameters"].get("EndpointType", "RealTime") == "RealTime"
            and "InstanceType" in doc["Parameters"]
        }
    )


def run(ctx: Context) -> RegisterResult:
    from pipeline.aws import identity

    settings, progress = ctx.settings, ctx.ui.progress
    manifest = config.read_json(settings.manifest_file, "python -m pipeline package")
    digest, key = manifest["artifact"]["sha256"], manifest["artifact"]["s3_key"]
    types = instance_types(ctx)
    bucket = account.output_for(ctx, "ArtifactBucketName")
    uploaded = ctx.s3.head(bucket, key)
    if uploaded is None or uploaded.size != manifest["artifact"]["size"]:
        raise ConfigError(
            f"s3://{bucket}/{key} is not the uploaded artifact of {settings.manifest_file}; "
            "run `python -m pipeline upload` first"
        )
    group = registry.group_name(settings)
    group_created = False
    if not ctx.sagemaker.model_package_group_exists(group):
        ctx.sagemaker.create_model_package_group(
            group,
            f"{settings.project}: builds of {settings.model_name} (sagemaker-cfn-pipeline)",
            {"project": settings.project},
        )
        group_created = True
        progress(f"created model package group {group}")
    # the environment accounts' deploy roles read it (and prod's decides) across accounts
    accounts = account.parameter_for(ctx, "EnvironmentAccountIds").split(",")
    shared = registry.share(ctx, [a.strip() for a in accounts])
    if shared:
        progress(shared)
    metrics_key = key.rsplit("/", 1)[0] + "/metrics.json"
    metrics_uri = f"s3://{bucket}/{metrics_key}"
    existing = None if group_created else registry.find(ctx, digest)
    if existing is not None:
        return RegisterResult(group, existing, False, group_created, metrics_uri, shared)
    metrics_file = settings.build_dir / "model-quality.json"
    metrics_file.write_text(json.dumps(core.quality(manifest), indent=2, sort_keys=True) + "\n")
    try:
        objects.put(
            ctx.s3, bucket, metrics_key, metrics_file, objects.scan(metrics_file), lambda _: None
        )
    except objects.DifferentObject:
        # the same artifact, registered from another build of it: its metrics describe it
        progress(f"kept the existing {metrics_uri}")
    request = core.package_request(
        group=group,
        manifest=manifest,
        image=config.load_serving_image(settings).uri(identity.region()),
        model_data_url=f"s3://{bucket}/{key}",
        metrics_uri=metrics_uri,
        instance_types=types,
    )
    arn = ctx.sagemaker.create_model_package(request)
    version = core.version_from(ctx.sagemaker.describe_model_package(arn))
    return RegisterResult(group, version, True, group_created, metrics_uri, shared)
