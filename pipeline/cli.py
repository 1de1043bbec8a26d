"""Command-line interface: one subcommand per stage.

The only module that prints summaries and decides exit codes: 0 success, 1 a stage failed,
2 bad usage or configuration (nothing was changed), 3 an internal error (a bug: printed with
its traceback). `main` is the one error boundary. Nothing imports this module.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import INTERNAL_ERROR, ConfigError, PipelineError
from pipeline.settings import Settings


def _metrics_table(metrics: dict) -> str:
    names = sorted(metrics["model"])
    rows = [(n, f"{metrics['model'][n]:.4f}", f"{metrics['baseline'].get(n, float('nan')):.4f}")
            for n in names]  # fmt: skip
    return _markdown_table(("metric", "model", "baseline"), rows)


def _train(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import train

    result = train.run(settings, lambda message: print(message, flush=True))
    print(_metrics_table(result.metrics))
    print(f"quality gate: passed ([gate] of {settings.config.config_file})")
    print(
        f"signature: {len(result.signature['inputs'])} inputs ("
        + ", ".join(f"{c['name']}: {c['type']}" for c in result.signature["inputs"][:8])
        + (", ..." if len(result.signature["inputs"]) > 8 else "")
        + ")"
    )
    print(f"wrote {result.model_file} (sha256 {result.model_sha256})")
    print(f"wrote {settings.metrics_file}, {settings.signature_file}")


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


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import serve

    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )

    def ready(port: int) -> None:
        print(f"listening on http://{args.host}:{port}", flush=True)

    if args.zygote:
        serve.zygote()
        return
    serve.run(settings, Path(args.artifact), args.host, args.port, ready, args.unsigned)


def _sandbox(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.local.sandbox import shell_form
    from pipeline.stages import sandbox

    if args.action == "down":
        print(sandbox.down(settings))
        return

    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )

    def ready(env: dict[str, str]) -> None:
        print(
            f"sandbox ready at {env['AWS_ENDPOINT_URL']}, "
            f"runtime at {env['AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME']}",
            flush=True,
        )
        if args.print_env:
            print(shell_form(env), flush=True)
        else:
            print("export these to reach it (or run with --print-env for shell form):")
            for key, value in env.items():
                print(f"  {key}={value}")
            print("stop it with Ctrl-C or `python -m pipeline sandbox down`", flush=True)

    sandbox.up(settings, args.port, args.region, ready, args.stack_delay)


def _lint(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.errors import ConfigError
    from pipeline.stages import lint

    results = lint.run(settings, lambda message: print(message, flush=True))
    for result in results:
        for finding in result.findings:
            print(f"{result.tool}: {finding}")
    print("| tool | findings | result |\n|---|---:|---|")
    for result in results:
        print(f"| {result.tool} | {len(result.findings)} | {'pass' if result.passed else 'FAIL'} |")
    failed = [r for r in results if not r.passed]
    if any(r.tool == "parameter files" for r in failed):
        raise ConfigError("parameter files are invalid (see above); nothing was sent to AWS")
    if failed:
        raise PipelineError(f"{', '.join(r.tool for r in failed)} reported findings (see above)")


class ProgressBar:
    """Bytes sent so far, on stderr: a redrawn bar on a terminal, else a line per 10%."""

    def __init__(self, label: str, total: int, stream=sys.stderr):
        self.label, self.total, self.stream = label, max(total, 1), stream
        self.done, self.started, self.last_decile = 0, time.monotonic(), -1
        self.tty = stream.isatty()

    def __call__(self, count: int) -> None:
        self.done += count
        fraction = min(self.done / self.total, 1.0)
        rate = self.done / max(time.monotonic() - self.started, 1e-9) / 1e6
        text = (f"{self.label} [{'#' * int(fraction * 30):<30}] {fraction:6.1%} "
                f"{self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB {rate:.1f} MB/s")  # fmt: skip
        if self.tty:
            self.stream.write("\r" + text + ("\n" if self.done >= self.total else ""))
        elif int(fraction * 10) > self.last_decile:
            self.last_decile = int(fraction * 10)
            self.stream.write(text + "\n")
        self.stream.flush()


def _upload(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import upload

    size = settings.artifact_file.stat().st_size if settings.artifact_file.exists() else 0
    bar = ProgressBar("upload", size)
    result = upload.run(settings, args.bucket, bar, lambda message: print(message, flush=True))
    if result.uploaded:
        rate = result.size / max(result.seconds, 1e-9) / 1e6
        print(f"uploaded {result.size} bytes in {result.seconds:.2f} s ({rate:.1f} MB/s); "
              "S3's SHA-256 checksum matches")  # fmt: skip
    else:
        print("already uploaded: the same bytes are at the key (S3's checksum matches); skipped")
    print(f"manifest: {result.manifest_note}")
    print(f"provenance: {result.provenance_note}")
    print(result.uri)
    _write_job_outputs({"digest": result.uri.rsplit("/", 2)[-2], "uri": result.uri})


def _write_job_outputs(values: dict[str, str]) -> None:
    """Step outputs for GitHub Actions ($GITHUB_OUTPUT), when running there."""
    output_file = os.environ.get("GITHUB_OUTPUT")
    if output_file:
        with open(output_file, "a", encoding="utf-8") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in values.items())


def _all_green(args: argparse.Namespace, settings: Settings) -> None:
    import json

    raw = os.environ.get("NEEDS")
    if not raw:
        raise ConfigError("set NEEDS to the workflow's `toJSON(needs)`")
    try:
        needs = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"NEEDS is not JSON: {exc}") from None
    if not needs:
        raise ConfigError("NEEDS lists no jobs: a check of nothing cannot fail")
    failed = {job: value.get("result") for job, value in needs.items()
              if value.get("result") != "success"}  # fmt: skip
    for job, value in sorted(needs.items()):
        print(f"{job}: {value.get('result')}")
    if failed:
        raise PipelineError(f"not all green: {', '.join(f'{j} {r}' for j, r in failed.items())}")


def _test(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import template_tests

    report = template_tests.run(settings, lambda message: print(message, flush=True), args.digest)
    rows = [("test", "stack", "endpoint", "checks", "result")]
    for r in report.results:
        failed = [f"{check}: {problem}" for check, problem in r.checks.items() if problem != "ok"]
        rows.append((r.test, r.stack or "-", r.endpoint, "; ".join(failed) or
                     ", ".join(r.checks), "pass" if r.passed else "FAIL"))  # fmt: skip
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows[:1] + [
        ("---",) * 5] + rows[1:])  # fmt: skip
    print(table)
    _write_step_summary(f"### taskcat template tests\n\n{table}\n")
    print(f"taskcat: {report.seconds:.1f} s; report {report.report_file}")
    if report.leftovers:
        print("NOT deleted (delete these by hand):\n  " + "\n  ".join(report.leftovers))
    if not report.passed:
        raise PipelineError(report.error or "template tests failed (see the table above)")


def _markdown_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _show_preview(result) -> None:
    from pipeline.stages import deploy

    change_set = result.change_set
    title = f"change set for {result.stack} ({change_set.kind}, digest {result.digest[:12]})"
    if change_set.no_changes:
        body = "no changes"
    else:
        body = _markdown_table(("resource", "type", "action", "replaced"),
                               deploy.preview(change_set))  # fmt: skip
    print(f"{title}:\n{body}", flush=True)
    _write_step_summary(f"### {title}\n\n{body}\n\n")


def _report_deploy(result) -> None:
    for note in result.notes:
        print(note)
    if result.outputs:
        print("outputs:")
        for key, value in sorted(result.outputs.items()):
            print(f"  {key} = {value}")
    if result.smoke:
        print(f"smoke: {result.smoke.endpoint}: {result.smoke.detail}")
    if result.release_key:
        print(f"release recorded: {result.release_key}")
    elif result.dry_run:
        print("dry run: the change set was deleted; nothing was deployed")


def _deploy(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import deploy

    result = deploy.run(
        settings, args.env, args.digest, args.dry_run, args.wait,
        progress=lambda message: print(message, flush=True), show_preview=_show_preview,
    )  # fmt: skip
    _report_deploy(result)


def _approval(args: argparse.Namespace):
    """--approve, else a confirmation typed at a terminal after the preview, else None."""
    if args.approve:
        return lambda result: True
    if not sys.stdin.isatty():
        return None

    def confirm(result) -> bool:
        answer = input(f"deploy this change set to {result.stack}? type 'yes' to approve: ")
        return answer.strip() == "yes"

    return confirm


def _promote(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.core import environments
    from pipeline.stages import promote

    approve = _approval(args) if environments.get(args.to).protected else None
    result = promote.run(
        settings, args.source, args.to, args.digest, args.force, approve,
        progress=lambda message: print(message, flush=True), show_preview=_show_preview,
        wait=args.wait, dry_run=args.dry_run,
    )  # fmt: skip
    _report_deploy(result)


def _rollback(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.core import environments
    from pipeline.stages import rollback

    approve = _approval(args) if environments.get(args.env).protected else None
    result = rollback.run(settings, args.env, progress=lambda m: print(m, flush=True),
                          show_preview=_show_preview, wait=args.wait, approve=approve,
                          dry_run=args.dry_run)  # fmt: skip
    _report_deploy(result)


def _workflows(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import workflows

    names = tuple(args.workflow or ("ci", "release"))
    runs = workflows.run(settings, lambda m: print(m, flush=True), names,
                         Path(args.release_file) if args.release_file else None)  # fmt: skip
    table = workflows.summary(runs)
    print(table)
    print("note: GitHub's prod approval (required reviewers) has no act equivalent; the prod "
          "job's --approve stands for it in this run")  # fmt: skip
    _write_step_summary(f"### workflows under act\n\n{table}\n")
    failed = workflows.failure(runs)
    if failed:
        raise failed


def _teardown(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import teardown

    print(teardown.run_teardown(settings, args.env, args.confirm, lambda m: print(m, flush=True)))


def _sweep(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import teardown

    swept = teardown.run_sweep(settings, args.ttl_hours, progress=lambda m: print(m, flush=True))
    rows = [(s.stack, f"{s.age_hours:.1f}", f"{s.hourly_cost:.3f}", s.detail) for s in swept]
    table = _markdown_table(("stack", "age (h)", "saved ($/h)", "detail"), rows)
    total = sum(s.hourly_cost for s in swept)
    text = f"{table}\ndeleted {len(swept)} stack(s); estimated saving ${total:.3f}/h"
    print(text)
    _write_step_summary(f"### sweep (older than {args.ttl_hours:g} h)\n\n{text}\n")


def _smoke(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import smoke

    result = smoke.run(settings, args.env)
    print(f"smoke: {result.endpoint}: {result.detail}")


def _releases(args: argparse.Namespace, settings: Settings) -> None:
    import json

    from pipeline.stages import releases

    if args.all:
        for record in releases.history(settings, args.env):
            print(f"{record['time']}  {record['digest']}  {record['kind']}  {record['actor']}")
    else:
        print(json.dumps(releases.latest(settings, args.env), indent=2))


def _bootstrap(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import bootstrap

    outputs = bootstrap.run(
        settings, args.account_role, args.environment_accounts, args.artifact_bucket,
        args.artifact_key, lambda message: print(message, flush=True),
    )  # fmt: skip
    for key, value in sorted(outputs.items()):
        print(f"{key}={value}")


def _summary_table(steps) -> str:
    """Markdown table: readable in a terminal and rendered by $GITHUB_STEP_SUMMARY."""
    lines = ["| stage | time | result | detail |", "|---|---:|---|---|"]
    for step in steps:
        lines.append(f"| {step.name} | {step.seconds:.1f}s | {step.status} | {step.detail} |")
    return "\n".join(lines)


def _write_step_summary(markdown: str) -> None:
    """Append to the GitHub Actions job summary, when running there."""
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write(markdown)


def _print_summary(steps) -> None:
    table = _summary_table(steps)
    print(table)
    _write_step_summary("## deploy-local\n\n" + table + "\n")


def _deploy_local(args: argparse.Namespace, settings: Settings) -> None:
    from pipeline.stages import deploy_local

    def progress(message: str) -> None:
        print(message, flush=True)

    try:
        result = deploy_local.run(settings, progress, args.keep, args.target, args.region)
    except deploy_local.DeployLocalFailed as failed:
        _print_summary(failed.steps)
        raise
    _print_summary(result.steps)
    endpoints = ", ".join(f"{env}: {name}" for env, name in result.endpoints.items())
    print(f"digest {result.digest}; endpoints {endpoints}")
    if result.sandbox_env:
        import shlex

        from pipeline.core.signature import csv_cell
        from pipeline.local.sandbox import shell_form

        body = ",".join(csv_cell(v) for v in result.example)  # one golden row, as CSV
        script = ("import boto3; print(boto3.client('sagemaker-runtime').invoke_endpoint("
                  f"EndpointName={result.endpoints['prod']!r}, ContentType='text/csv', "
                  f"Body={body!r})['Body'].read().decode())")  # fmt: skip
        print(
            "\nThe sandbox is still running, serving the three endpoints. In another shell:\n"
            f"{shell_form(result.sandbox_env)}\n"
            f"aws sagemaker-runtime invoke-endpoint --endpoint-name {result.endpoints['prod']} "
            f"--content-type text/csv --body {shlex.quote(body)} --cli-binary-format "
            "raw-in-base64-out /dev/stdout\n"
            f"python -c {shlex.quote(script)}\n"
            f"Stop it with: python -m pipeline sandbox down --config {settings.config.config_file}"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Take the scikit-learn model from training to a SageMaker endpoint.",
        epilog="Exit codes: 0 success, 1 a stage failed, 2 bad usage or configuration "
        "(credentials, region and endpoint included; nothing changed), 3 an internal error "
        "(a bug, printed with its traceback).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    p = sub.add_parser(
        "train",
        help="train, evaluate and gate the model",
        description="Run the project's training script ([model] entry_point) in SageMaker "
        "script mode on its data ([data]: the train channel, and the test file or a seeded "
        "split), evaluate the model it writes on the test split against a baseline, apply "
        "[gate], and derive the model's signature. Writes build/model.joblib, "
        "build/metrics.json and build/signature.json; a failing gate exits 1 and writes no "
        "model. Needs the pinned environment (pyproject.toml).",
    )
    p.set_defaults(handler=_train)

    p = sub.add_parser(
        "package",
        help="build build/model.tar.gz and build/manifest.json",
        description="Package build/model.joblib and build/signature.json with "
        "model/inference.py into a reproducible build/model.tar.gz and write "
        "build/manifest.json (sha256, S3 key, serving image, versions, metrics, signature, "
        "git commit, golden examples). Needs a passing `train` first; "
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

    p = sub.add_parser(
        "serve",
        help="serve an artifact locally with the SageMaker container contract",
        description="Serve a model.tar.gz as the SageMaker scikit-learn image does: GET /ping "
        "and POST /invocations, on 127.0.0.1. Honours SAGEMAKER_PROGRAM, "
        "SAGEMAKER_MODEL_SERVER_WORKERS, SAGEMAKER_MODEL_SERVER_TIMEOUT (default 60 s) and "
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT. A model file is code: with a manifest.json "
        "beside the artifact, its provenance.json (the build's signature) is verified with "
        "the bootstrap's signing key first (AWS access needed), else it is refused unless "
        "--unsigned. Extraction stops at PIPELINE_MAX_MODEL_BYTES (default 2 GiB). Prints "
        "'listening on URL' once bound; runs until interrupted (Ctrl-C or SIGTERM).",
    )
    p.add_argument("--artifact", default="build/model.tar.gz", help="the model.tar.gz to serve")
    p.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--unsigned", action="store_true",
        help="serve a local build that has a manifest.json but no provenance.json (never "
        "uploaded, so never signed); without it such an artifact is refused",
    )  # fmt: skip
    p.add_argument(
        "--zygote", action="store_true",
        help="(used by the sandbox) import the serving libraries once, then fork a server "
        "per JSON request line on stdin",
    )  # fmt: skip
    p.set_defaults(handler=_serve)

    p = sub.add_parser(
        "lint",
        help="lint the CloudFormation templates and validate the parameter files",
        description="Run cfn-lint (config: .cfnlintrc.yaml) and checkov (offline, in its own "
        "environment, created on first use under PIPELINE_TOOLS_DIR) on every template in "
        "infra/ and validate every infra/params/<env>.json against infra/endpoint.yaml's "
        "Parameters. Needs no AWS access. Exit 2 for invalid parameter files, 1 for linter "
        "findings.",
    )
    p.set_defaults(handler=_lint)

    p = sub.add_parser(
        "upload",
        help="upload build/model.tar.gz and its manifest to the artifact bucket",
        description="Check build/model.tar.gz against build/manifest.json, upload both under "
        "the manifest's content-addressed key (multipart, bounded memory, progress on "
        "stderr), then check the object against the SHA-256 checksum S3 computed. The same "
        "bytes already there are skipped; different bytes at the key are refused (exit 1). "
        "The bucket is this account's bootstrap output ArtifactBucketName unless --bucket "
        "is given. Prints the S3 URI.",
    )
    p.add_argument("--bucket", help="artifact bucket (default: from the bootstrap stack)")
    p.set_defaults(handler=_upload)

    p = sub.add_parser(
        "test",
        help="taskcat template tests of infra/endpoint.yaml, one per environment",
        description="Run the tests of .taskcat.yml with taskcat (in its own environment, "
        "created on first use) against the account and region of the standard AWS "
        "variables. Each test uses its environment's parameter file plus the uploaded "
        "artifact, the serving image, the bootstrap role and a unique endpoint name; it "
        "passes when the stack is CREATE_COMPLETE, the endpoint InService, the outputs "
        "resolve and a golden example is predicted. Stacks are always deleted; leftovers "
        "are listed. Needs `bootstrap` and `upload` first. Report: build/taskcat/.",
    )
    p.add_argument("--digest", help="test this uploaded artifact (default: the local build)")
    p.set_defaults(handler=_test)

    p = sub.add_parser(
        "deploy",
        help="deploy infra/endpoint.yaml to one environment through a change set",
        description="Validate the parameter files (exit 2, no AWS call, if any is bad); "
        "resolve the bucket and execution role from the bootstrap stack; check the artifact "
        "(--digest, else build/manifest.json) in the bucket, bytes included; create a change "
        "set for stack <project>-<env> with every parameter explicit; print the preview "
        "(also to $GITHUB_STEP_SUMMARY); execute, wait, print the outputs; smoke the "
        "endpoint; record the release under releases/<project>/<env>/. A stack in "
        "ROLLBACK_COMPLETE is deleted and created again; one with another deploy in progress "
        "is refused unless --wait. A protected environment (prod) is refused, dry runs "
        "included: it takes only promotions (`promote`).",
    )
    p.add_argument("--env", required=True, help="environment: infra/params/<env>.json")
    p.add_argument("--digest", help="sha256 of an uploaded artifact (default: the local one)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="stop after the preview, deleting the change set and any new stack",
    )
    p.add_argument("--wait", action="store_true",
                   help="wait for another deploy in progress instead of refusing")  # fmt: skip
    p.set_defaults(handler=_deploy)

    p = sub.add_parser(
        "promote",
        help="deploy the source environment's released artifact to the next environment",
        description="Promote exactly a digest the source environment released (its smoke "
        "passed there): --digest D, refused unless the source released D, else the "
        "source's latest release. Only dev → staging → prod. The candidate's metrics must "
        "not be worse than the target's released model beyond [promotion] of pipeline.toml "
        "(--force overrides; the release records it). Then it deploys with the target's "
        "parameter file, like `deploy` (S3 re-check, preview, smoke, release). prod needs "
        "--approve, or a typed confirmation after the preview when run at a terminal.",
    )
    p.add_argument("--from", dest="source", required=True, help="source environment")
    p.add_argument("--to", required=True, help="target environment")
    p.add_argument("--digest", help="the released digest to promote (CI always passes it)")
    p.add_argument("--approve", action="store_true",
                   help="approve the change to a protected environment (prod)")  # fmt: skip
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="stop after the preview, deleting the change set (no approval needed)",
    )
    p.add_argument("--force", action="store_true",
                   help="promote despite the gate against the target (recorded)")  # fmt: skip
    p.add_argument("--wait", action="store_true",
                   help="wait for another deploy in progress instead of refusing")  # fmt: skip
    p.set_defaults(handler=_promote)

    p = sub.add_parser(
        "rollback",
        help="redeploy an environment's previous passing release",
        description="Deploy the newest release of ENV whose digest is not the one the stack "
        "serves now, with its recorded parameters; smoke it; record it as a rollback. A "
        "protected environment (prod) needs --approve, or a typed confirmation after the "
        "preview when run at a terminal.",
    )
    p.add_argument("--env", required=True)
    p.add_argument("--approve", action="store_true",
                   help="approve the rollback of a protected environment (prod)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true",
                   help="stop after the preview, deleting the change set")  # fmt: skip
    p.add_argument("--wait", action="store_true",
                   help="wait for another deploy in progress instead of refusing")  # fmt: skip
    p.set_defaults(handler=_rollback)

    p = sub.add_parser(
        "all-green",
        help="fail unless every job in $NEEDS succeeded (the CI gate branch protection needs)",
        description="Reads NEEDS, the JSON of a workflow's `toJSON(needs)`, prints each job's "
        "result and exits 1 unless all are success (skipped and cancelled count as not).",
    )
    p.set_defaults(handler=_all_green)

    p = sub.add_parser(
        "workflows",
        help="run .github/workflows ci.yml and release.yml locally with act (tox -e workflows)",
        description="Start and bootstrap the embedded sandbox, then run the workflows with "
        "act in host mode (no Docker), with offline stand-ins for setup-python, cache and "
        "configure-aws-credentials (the credentials stand-in exports the sandbox). Prints "
        "each job's result; exits 1 naming the failing workflow and job.",
    )
    p.add_argument("--workflow", action="append", choices=["ci", "release"],
                   help="run only these (default: ci, then release)")  # fmt: skip
    p.add_argument("--release-file", help="a copy of release.yml to run instead (tests)")
    p.set_defaults(handler=_workflows)

    p = sub.add_parser(
        "teardown",
        help="delete one environment's endpoint stack, after a typed confirmation",
        description="Delete stack <project>-<env> and wait. --confirm must repeat the "
        "environment's name. Artifacts, release records and the bootstrap stack are kept.",
    )
    p.add_argument("--env", required=True)
    p.add_argument("--confirm", required=True, help="the environment's name, typed again")
    p.set_defaults(handler=_teardown)

    p = sub.add_parser(
        "sweep",
        help="delete this project's stale stacks (for the sandbox account)",
        description="Delete this project's endpoint and taskcat stacks (never the bootstrap "
        "stack) not created or updated for --ttl-hours, and print them with the hourly cost "
        "saved, estimated from instance type and count (infra/instance-prices.toml).",
    )
    p.add_argument("--ttl-hours", type=float, required=True)
    p.set_defaults(handler=_sweep)

    p = sub.add_parser(
        "smoke",
        help="send the manifest's golden examples to an environment's endpoint",
        description="Invoke the endpoint of stack <project>-<env> through the SageMaker "
        "Runtime API with the golden examples of the deployed artifact's manifest, in CSV "
        "and JSON; every prediction must match within the stated tolerance. Exit 1 names "
        "the example, the expected and the returned value.",
    )
    p.add_argument("--env", required=True)
    p.set_defaults(handler=_smoke)

    p = sub.add_parser(
        "releases",
        help="print the latest release record of an environment (or all with --all)",
        description="Release records live in the artifact bucket under "
        "releases/<project>/<env>/, one per deploy whose smoke test passed, never overwritten.",
    )
    p.add_argument("--env", required=True)
    p.add_argument("--all", action="store_true", help="one line per release, oldest first")
    p.set_defaults(handler=_releases)

    p = sub.add_parser(
        "bootstrap",
        help="deploy infra/bootstrap.yaml in this account and print its outputs",
        description="Deploy the once-per-account stack that every project shares (stack "
        "sagemaker-pipeline-bootstrap): in the build account the artifact bucket and its KMS "
        "key, in an environment account the SageMaker execution role (`both` for one account "
        "doing both). An option not given keeps the existing stack's value (else the "
        "default), so bootstrapping an account again, for another project, changes nothing. "
        "Uses the standard AWS credentials and AWS_ENDPOINT_URL; waits, then prints the "
        "outputs later stages resolve values from.",
    )
    p.add_argument("--account-role", choices=["build", "env", "both"], default=None,
                   help="default: the existing stack's, else both")  # fmt: skip
    p.add_argument("--environment-accounts", nargs="*", metavar="ACCOUNT_ID", default=None,
                   help="(build) accounts whose execution roles and GitHub roles may use the "
                   "artifacts (default: the existing stack's, else this account only)")  # fmt: skip
    p.add_argument("--artifact-bucket", default=None, help="(env) the build account's bucket")
    p.add_argument("--artifact-key", default=None, help="(env) the build account's key ARN")
    p.set_defaults(handler=_bootstrap)

    p = sub.add_parser(
        "sandbox",
        help="start or stop the embedded AWS sandbox (emulator)",
        description="`up` starts the AWS emulator (moto, with CloudFormation corrected to "
        "behave as AWS does) on 127.0.0.1 and runs until stopped; it prints the environment "
        "(AWS_ENDPOINT_URL, region, dummy credentials) that reaches it. `down` stops the "
        "sandbox recorded in build/sandbox.json (PIPELINE_SANDBOX_STATE).",
    )
    p.add_argument("action", choices=["up", "down"])
    p.add_argument("--port", type=int, default=0, help="port for `up` (default: a free one)")
    p.add_argument("--region", default="us-east-1", help="region to print (default us-east-1)")
    p.add_argument(
        "--print-env", action="store_true", help="print the environment as shell `export` lines"
    )
    p.add_argument(
        "--stack-delay", type=float, default=0.0, metavar="SECONDS",
        help="keep stacks *_IN_PROGRESS this long after ExecuteChangeSet (default 0: none)",
    )  # fmt: skip
    p.set_defaults(handler=_sandbox)

    p = sub.add_parser(
        "deploy-local",
        help="run the pipeline end to end on this machine (what `tox -e deploy-local` runs)",
        description="Start the embedded sandbox; bootstrap; train, gate, package, upload; "
        "lint, then taskcat; deploy dev and smoke it; promote to staging and to prod (approved "
        "locally) and smoke each; print a summary table (also to $GITHUB_STEP_SUMMARY); stop "
        "the sandbox. Needs no AWS account and no Docker. A failing stage exits non-zero "
        "and names the stage.",
    )
    p.add_argument("--keep", action="store_true",
                   help="leave the sandbox running with the three endpoints, and print how to "
                   "invoke them; stop it with `sandbox down` (same --config)")  # fmt: skip
    p.add_argument("--target", choices=["local", "aws"], default="local",
                   help="aws: the same stages against the account of your credentials")  # fmt: skip
    p.add_argument("--region", help="with --target aws: the region to deploy to")
    p.set_defaults(handler=_deploy_local)
    for command, subparser in sub.choices.items():
        subparser.add_argument(
            "--config", metavar="PATH",
            help="the model project's pipeline.toml (default ./pipeline.toml); relative paths "
            "in it resolve against its folder, and build outputs go to <its folder>/build"
            + ("" if command not in NO_PROJECT else "; not needed by this command"),
        )  # fmt: skip
    return parser


# Commands that run without a model project (they still accept --config).
NO_PROJECT = frozenset({"image-uri", "serve", "sandbox", "all-green", "workflows", "bootstrap"})


def _unexpected(command: str, exc: Exception) -> int:
    """The last line of defence. A botocore failure that escaped the AWS wrappers is still
    one line (exit 2 for credentials, region, endpoint; 1 otherwise); anything else is a bug:
    its traceback, then one line, exit 3 (never 1, which says a stage failed)."""
    botocore = sys.modules.get("botocore.exceptions")  # loaded if botocore raised it
    if botocore and isinstance(exc, botocore.BotoCoreError | botocore.ClientError):
        from pipeline.aws.errors import translate

        error = translate(exc)
        print(f"error: {command}: {error}", file=sys.stderr)
        return error.exit_code
    import traceback

    traceback.print_exc(file=sys.stderr)
    print(f"error: {command}: internal error ({type(exc).__name__}: {exc}): a bug in the "
          "pipeline, not in its input; please report it with the traceback above (exit "
          f"{INTERNAL_ERROR})", file=sys.stderr)  # fmt: skip
    return INTERNAL_ERROR


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable = args.handler
    started = time.monotonic()
    try:
        settings = Settings.from_env(config=Path(args.config) if args.config else None,
                                     need_project=args.command not in NO_PROJECT)  # fmt: skip
        handler(args, settings)
    except PipelineError as exc:
        print(f"error: {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"error: {args.command}: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:
        return _unexpected(args.command, exc)
    if args.command not in ("image-uri", "serve", "sandbox", "lint"):
        print(f"{args.command}: done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0
