"""Command-line interface: one subcommand per stage.

The only module that prints summaries and decides exit codes: 0 success, 1 a stage failed,
2 bad usage or configuration (nothing was changed). Nothing imports this module.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from pipeline.errors import PipelineError
from pipeline.settings import Settings


def _train(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import train

    result = train.run(settings)
    model, base = result.metrics["model"], result.metrics["baseline"]
    print(f"{'metric':<8}{'model':>12}{'baseline':>12}")
    for key in ("rmse", "mae", "r2"):
        print(f"{key:<8}{model[key]:>12.4f}{base[key]:>12.4f}")
    print(f"quality gate: passed ({settings.quality_gate_file})")
    print(f"wrote {result.model_file} (sha256 {result.model_sha256})")
    print(f"wrote {settings.metrics_file}")


def _package(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import package

    result = package.run(settings)
    artifact = result.manifest["artifact"]
    print(f"wrote {result.artifact} ({artifact['size']} bytes)")
    print(f"sha256  {artifact['sha256']}")
    print(f"s3 key  {artifact['s3_key']}")
    image = result.manifest["serving_image"]
    print(f"image   {image['repository']}:{image['tag']}")
    if result.manifest["git"]["dirty"]:
        print(
            "warning: the git work tree has uncommitted changes; the manifest's commit "
            "does not fully describe this build",
            file=sys.stderr,
        )
    print(f"wrote {result.manifest_file}")


def _image_uri(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import image_uri

    print(image_uri.run(settings, args.region))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Take the scikit-learn model from training to a SageMaker endpoint.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    p = sub.add_parser(
        "train",
        help="train, evaluate and gate the model",
        description="Train LinearRegression on scikit-learn's diabetes data, evaluate it on a "
        "fixed held-out split against a mean baseline, and apply the quality gate in "
        "model/quality-gate.toml. Writes build/model.joblib and build/metrics.json; a failing "
        "gate exits 1 and writes no model. Needs the pinned environment (pyproject.toml).",
    )
    p.set_defaults(handler=_train)

    p = sub.add_parser(
        "package",
        help="build build/model.tar.gz and build/manifest.json",
        description="Package build/model.joblib with model/inference.py into a reproducible "
        "build/model.tar.gz and write build/manifest.json (sha256, S3 key, serving image, "
        "versions, metrics, git commit, golden examples). Needs a passing `train` first; "
        "refuses models whose package versions the serving image cannot load.",
    )
    p.set_defaults(handler=_package)

    p = sub.add_parser(
        "image-uri",
        help="print the serving image URI for a region",
        description="Print the ECR URI of the serving image named in model/serving-image.toml "
        "for an AWS region.",
    )
    p.add_argument("--region", required=True, help="AWS region, e.g. eu-west-1")
    p.set_defaults(handler=_image_uri)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable = args.handler
    started = time.monotonic()
    try:
        handler(args, Settings.from_env())
    except PipelineError as exc:
        print(f"error: {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"error: {args.command}: interrupted", file=sys.stderr)
        return 1
    if args.command != "image-uri":
        print(f"{args.command}: done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0
