"""One function per subcommand: call the stage with the context, render its result.

Each takes the parsed arguments and the command's Context and returns nothing; a failure is
a raised PipelineError (or subclass), which `pipeline.cli.main` maps to its exit code. The
rules live in the stages and in core; here is only what is shown, and how.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli.render import Job, ProgressBar, Table
from pipeline.cli.ui import TerminalUI
from pipeline.errors import ConfigError, PipelineError
from pipeline.shared.context import Context

if TYPE_CHECKING:
    from pipeline.shared.deploying import DeployResult
    from pipeline.stages.release.registry import Listed
    from pipeline.stages.workstation.deploy_local import StepResult


def _show(ctx: Context, table: Table) -> None:
    ui = ctx.ui
    if isinstance(ui, TerminalUI):
        ui.show(table)
    else:
        ui.table(table.title or "", table.header, table.rows)


def _log_to_stderr() -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )


def train(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.build import train as stage

    settings = ctx.settings
    result = stage.run(ctx, on=args.on)
    metrics = result.metrics
    job = metrics.get("training_job")
    if job:
        print(
            f"training job: {job['name']} ({job['arn']}), {job['instance_count']} x "
            f"{job['instance_type']}, billable {job['billable_seconds']}s"
        )
    rows = [
        (n, f"{metrics['model'][n]:.4f}", f"{metrics['baseline'].get(n, float('nan')):.4f}")
        for n in sorted(metrics["model"])
    ]
    _show(ctx, Table.of(("metric", "model", "baseline"), rows, right=(1, 2)))
    print(f"quality gate: passed ([gate] of {settings.config.config_file})")
    inputs = result.signature["inputs"]
    shown = ", ".join(f"{c['name']}: {c['type']}" for c in inputs[:8])
    print(f"signature: {len(inputs)} inputs ({shown}{', ...' if len(inputs) > 8 else ''})")
    print(f"wrote {result.model_file} (sha256 {result.model_sha256})")
    print(f"wrote {settings.metrics_file}, {settings.signature_file}")


def package(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.build import package as stage

    result = stage.run(ctx)
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


def image_uri(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.build import image_uri as stage

    print(stage.run(ctx, args.region))


def serve(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.workstation import serve as stage

    _log_to_stderr()
    if args.zygote:
        stage.zygote()
        return

    def ready(port: int) -> None:
        print(f"listening on http://{args.host}:{port}", flush=True)

    stage.run(ctx, Path(args.artifact), args.host, args.port, ready, args.unsigned)


def sandbox(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.local.sandbox import shell_form
    from pipeline.stages.workstation import sandbox as stage

    if args.action == "down":
        print(stage.down(ctx))
        return
    _log_to_stderr()

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

    stage.up(ctx, args.port, args.region, ready, args.stack_delay, args.warm_servers)


def lint(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.verify import lint as stage

    linted = stage.run(ctx, use_cache=not args.no_cache)
    results = linted.tools
    for result in results:
        for finding in result.findings:
            print(f"{result.tool}: {finding}")
    rows = [(r.tool, len(r.findings), "pass" if r.passed else "FAIL") for r in results]
    _show(ctx, Table.of(("tool", "findings", "result"), rows, right=(1,)))
    if linted.cached:
        print(f"cached: the result for inputs {linted.cache_key[:12]} (--no-cache lints again)")
    for result in results:
        if result.reused:
            names = ", ".join(Path(t).name for t in result.reused)
            kept = f"kept findings of unchanged templates: {names}"
            print(f"{result.tool}: {kept} (--no-cache lints them)")
    failed = [r for r in results if not r.passed]
    if any(r.configuration for r in failed):
        raise ConfigError("parameter files are invalid (see above); nothing was sent to AWS")
    if failed:
        raise PipelineError(f"{', '.join(r.tool for r in failed)} reported findings (see above)")


def upload(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.build import upload as stage

    settings = ctx.settings
    size = settings.artifact_file.stat().st_size if settings.artifact_file.exists() else 0
    result = stage.run(ctx, args.bucket, ProgressBar("upload", size))
    if result.uploaded:
        rate = result.size / max(result.seconds, 1e-9) / 1e6
        print(
            f"uploaded {result.size} bytes in {result.seconds:.2f} s ({rate:.1f} MB/s); "
            "S3's SHA-256 checksum matches"
        )
    else:
        print("already uploaded: the same bytes are at the key (S3's checksum matches); skipped")
    print(f"manifest: {result.manifest_note}")
    print(f"provenance: {result.provenance_note}")
    print(result.uri)
    Job().outputs({"digest": result.uri.rsplit("/", 2)[-2], "uri": result.uri})


def register(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.build import register as stage

    result = stage.run(ctx)
    version = result.version
    what = "registered" if result.created else "already registered"
    print(f"{what}: version {version.number} of {result.group} ({version.status})")
    print(f"metrics: {result.metrics_uri}")
    print(version.arn)
    Job().outputs({"model_package_arn": version.arn, "model_version": str(version.number)})


def _registry_table(ctx: Context, entries: Sequence[Listed]) -> None:
    rows = [
        (
            entry.version.number,
            entry.version.status,
            (entry.version.digest or "?")[:12],
            f"{entry.version.created:%Y-%m-%d %H:%M}" if entry.version.created else "?",
            ", ".join(f"{k} {v:.4g}" for k, v in sorted(entry.metrics.items())) or "-",
            ", ".join(entry.released_to) or "-",
        )
        for entry in entries
    ]
    header = ("version", "status", "digest", "created", "metrics", "released to")
    _show(ctx, Table.of(header, rows, right=(0,)))


def registry(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.release import registry as stage

    if args.action == "list":
        if args.reference:
            raise ConfigError("registry list takes no VERSION|DIGEST (use `registry show`)")
        entries = stage.listing(ctx, args.status)
        if not entries:
            print(f"no versions registered in {ctx.settings.model_name} (run `pipeline register`)")
            return
        _registry_table(ctx, entries)
        return
    if not args.reference:
        raise ConfigError(f"registry {args.action} needs VERSION|DIGEST")
    if args.action == "show":
        entry = stage.show(ctx, args.reference)
    else:
        if not args.reason:
            raise ConfigError(f"registry {args.action} needs --reason TEXT (recorded with who)")
        entry = stage.decide(ctx, args.action, args.reference, args.reason)
    _registry_table(ctx, [entry])
    version = entry.version
    print(f"arn: {version.arn}")
    print(f"approval: {version.description or '(none recorded)'}")
    for key, value in sorted(version.metadata.items()):
        print(f"{key}: {value}")
    Job().outputs(
        {
            "digest": version.digest or "",
            "model_version": str(version.number),
            "model_package_arn": version.arn,
            "model_status": version.status,
        }
    )


def all_green(args: argparse.Namespace, ctx: Context) -> None:
    raw = os.environ.get("NEEDS")
    if not raw:
        raise ConfigError("set NEEDS to the workflow's `toJSON(needs)`")
    try:
        needs = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"NEEDS is not JSON: {exc}") from None
    if not needs:
        raise ConfigError("NEEDS lists no jobs: a check of nothing cannot fail")
    failed = {
        job: value.get("result") for job, value in needs.items() if value.get("result") != "success"
    }
    for job, value in sorted(needs.items()):
        print(f"{job}: {value.get('result')}")
    if failed:
        raise PipelineError(f"not all green: {', '.join(f'{j} {r}' for j, r in failed.items())}")


def template_test(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.verify import template_tests as stage

    report = stage.run(ctx, args.digest, use_cache=not args.no_cache)
    rows = []
    for r in report.results:
        failed = [f"{check}: {problem}" for check, problem in r.checks.items() if problem != "ok"]
        checks = "; ".join(failed) or ", ".join(r.checks)
        rows.append((r.test, r.stack or "-", r.endpoint, checks, "pass" if r.passed else "FAIL"))
    header = ("test", "stack", "endpoint", "checks", "result")
    _show(ctx, Table.of(header, rows, "taskcat template tests"))
    if report.cached:
        print(f"cached: the passing run for inputs {report.cache_key[:12]} (--no-cache runs again)")
    print(f"taskcat: {report.seconds:.1f} s; report {report.report_file}")
    if report.leftovers:
        print("NOT deleted (delete these by hand):\n  " + "\n  ".join(report.leftovers))
    if not report.passed:
        raise PipelineError(report.error or "template tests failed (see the table above)")


def _report_deploy(result: DeployResult) -> None:
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


def deploy(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.release import deploy as stage

    _report_deploy(stage.run(ctx, args.env, args.digest, dry_run=args.dry_run, wait=args.wait))


def promote(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.release import promote as stage

    result = stage.run(
        ctx,
        args.source,
        args.to,
        args.digest,
        force=args.force,
        dry_run=args.dry_run,
        wait=args.wait,
    )
    _report_deploy(result)


def rollback(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.release import rollback as stage

    _report_deploy(stage.run(ctx, args.env, dry_run=args.dry_run, wait=args.wait))


def workflows(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.workstation import workflows as stage

    names = tuple(args.workflow or ("ci", "release"))
    release_file = Path(args.release_file) if args.release_file else None
    runs = stage.run(ctx, names, release_file)
    _show(ctx, Table.of(("workflow", "job", "result"), stage.rows(runs), "workflows under act"))
    print(
        "note: GitHub's prod approval (required reviewers) has no act equivalent; the prod "
        "job's --approve stands for it in this run"
    )
    failed = stage.failure(runs)
    if failed:
        raise failed


def teardown(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.operate import teardown as stage

    print(stage.run_teardown(ctx, args.env, args.confirm, dry_run=args.dry_run).message)


def sweep(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.operate import teardown as stage

    result = stage.run_sweep(ctx, args.ttl_hours, dry_run=args.dry_run)
    rows = [(s.stack, f"{s.age_hours:.1f}", f"{s.hourly_cost:.3f}", s.detail) for s in result.swept]
    title = f"sweep (older than {args.ttl_hours:g} h)" + (", dry run" if result.dry_run else "")
    header = ("stack", "age (h)", "saved ($/h)", "detail")
    _show(ctx, Table.of(header, rows, title, right=(1, 2)))
    total = sum(s.hourly_cost for s in result.swept)
    verb = "would delete" if result.dry_run else "deleted"
    print(f"{verb} {len(result.swept)} stack(s); estimated saving ${total:.3f}/h")


def smoke(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.release import smoke as stage

    result = stage.run(ctx, args.env)
    print(f"smoke: {result.endpoint}: {result.detail}")


def _figure(value: object) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def monitor(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.errors import DriftDetected
    from pipeline.shared import monitor_report
    from pipeline.stages.operate import monitor as stage

    result = stage.run(ctx, args.env, args.since, args.until)
    report = result.report
    rows = [
        (column["name"], entry["statistic"], _figure(entry["value"]), entry["threshold"],
         entry["verdict"])
        for column in report["columns"]
        for entry in column["statistics"]
    ] + [
        ("(requests)", entry["statistic"], _figure(entry["value"]), entry["threshold"],
         entry["verdict"])
        for entry in report["checks"]
    ]  # fmt: skip
    header = ("column", "statistic", "value", "threshold", "verdict")
    _show(ctx, Table.of(header, rows, title=f"drift of {report['endpoint']}"))
    for note in report.get("notes", []):
        print(f"note: {note}")
    print(
        f"{report['verdict']}: {report['rows']} row(s) in {report['requests']} request(s) "
        f"({report['refused']} refused) from {report['window']['since']} to "
        f"{report['window']['until']}"
    )
    print(f"report: {result.html}")
    Job().summary(monitor_report.markdown(report))
    if result.violations is not None:
        drifted = [c["name"] for c in report["columns"] if c["verdict"] == "drift"]
        drifted += [c["statistic"] for c in report["checks"] if c["verdict"] == "drift"]
        raise DriftDetected(
            f"{args.env}: drift in {', '.join(drifted)}; violations: {result.violations}"
        )


def releases(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.release import releases as stage

    result = stage.run(ctx, args.env, every=args.all)
    if args.all:
        for record in result.records:
            print(f"{record['time']}  {record['digest']}  {record['kind']}  {record['actor']}")
    else:
        print(json.dumps(result.records[-1], indent=2))


def bootstrap(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.account import bootstrap as stage

    outputs = stage.run(
        ctx,
        args.account_role,
        args.environment_accounts,
        args.artifact_bucket,
        args.artifact_key,
        dry_run=args.dry_run,
    )
    for key, value in sorted(outputs.items()):
        print(f"{key}={value}")


def _deploy_local_summary(ctx: Context, steps: Sequence[StepResult]) -> None:
    rows = [(s.name, f"{s.seconds:.1f}s", s.status, s.detail) for s in steps]
    _show(ctx, Table.of(("stage", "time", "result", "detail"), rows, "deploy-local", right=(1,)))


def deploy_local(args: argparse.Namespace, ctx: Context) -> None:
    from pipeline.stages.workstation import deploy_local as stage

    settings = ctx.settings
    try:
        result = stage.run(
            ctx, args.keep, args.target, args.region, args.train_on, use_cache=not args.no_cache
        )
    except stage.DeployLocalFailed as failed:
        _deploy_local_summary(ctx, failed.steps)
        raise
    _deploy_local_summary(ctx, result.steps)
    if result.registry:
        print(f"model registry ({ctx.settings.model_name}):")
        _registry_table(ctx, result.registry)
    endpoints = ", ".join(f"{env}: {name}" for env, name in result.endpoints.items())
    print(f"digest {result.digest}; endpoints {endpoints}")
    if result.sandbox_env is not None:
        from pipeline.core.signature import csv_cell
        from pipeline.local.sandbox import shell_form

        body = ",".join(csv_cell(v) for v in result.example)  # one golden row, as CSV
        script = (
            "import boto3; print(boto3.client('sagemaker-runtime').invoke_endpoint("
            f"EndpointName={result.endpoints['prod']!r}, ContentType='text/csv', "
            f"Body={body!r})['Body'].read().decode())"
        )
        print(
            "\nThe sandbox is still running, serving the three endpoints. In another shell:\n"
            f"{shell_form(result.sandbox_env)}\n"
            f"aws sagemaker-runtime invoke-endpoint --endpoint-name {result.endpoints['prod']} "
            f"--content-type text/csv --body {shlex.quote(body)} --cli-binary-format "
            "raw-in-base64-out /dev/stdout\n"
            f"python -c {shlex.quote(script)}\n"
            f"Stop it with: python -m pipeline sandbox down --config {settings.config.config_file}"
        )
