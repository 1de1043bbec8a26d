"""The command-line parser: one subcommand per stage, each with its --help text.

What each command needs is declared with its subparser (`needs_project`, `report_time`
defaults), not by comparing command names elsewhere. The README's command reference is
generated from this parser (pipeline.cli.reference) and a test keeps them equal.
"""

from __future__ import annotations

import argparse

from pipeline.cli import commands
from pipeline.core import environments


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
        "model. Needs the pinned environment (pyproject.toml). With --on sagemaker the script "
        "runs as a SageMaker training job ([training] in pipeline.toml: instance type and "
        "count, volume, time limit, spot) in the scikit-learn image of the serving image's "
        "tag; it needs the bootstrap (artifact bucket, execution role) and AWS credentials, "
        "follows the job's status and logs, and stops the job on Ctrl-C.",
    )
    p.add_argument(
        "--on",
        choices=["local", "sagemaker"],
        help="where the script runs: this machine, or a SageMaker training job (default: "
        "[training] on in pipeline.toml, else local)",
    )
    p.set_defaults(handler=commands.train)

    p = sub.add_parser(
        "package",
        help="build build/model.tar.gz and build/manifest.json",
        description="Package build/model.joblib and build/signature.json with "
        "model/inference.py into a reproducible build/model.tar.gz and write "
        "build/manifest.json (sha256, S3 key, serving image, versions, metrics, signature, "
        "git commit, golden examples). Needs a passing `train` first; "
        "refuses models whose package versions the serving image cannot load.",
    )
    p.set_defaults(handler=commands.package)

    p = sub.add_parser(
        "image-uri",
        help="print the serving image URI for a region",
        description="Print the ECR URI of the serving image named in model/serving-image.toml "
        "for an AWS region.",
    )
    p.add_argument("--region", required=True, help="AWS region, e.g. eu-west-1")
    p.set_defaults(handler=commands.image_uri, needs_project=False, report_time=False)

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
        "--unsigned",
        action="store_true",
        help="serve a local build that has a manifest.json but no provenance.json (never "
        "uploaded, so never signed); without it such an artifact is refused",
    )
    p.add_argument(
        "--zygote",
        action="store_true",
        help="(used by the sandbox) import the serving libraries once, then fork a server "
        "per JSON request line on stdin",
    )
    p.set_defaults(handler=commands.serve, needs_project=False, report_time=False)

    p = sub.add_parser(
        "lint",
        help="lint the CloudFormation templates and validate the parameter files",
        description="Run cfn-lint (config: .cfnlintrc.yaml) and checkov (offline, in its own "
        "environment, created on first use under PIPELINE_TOOLS_DIR) on every template in "
        "infra/ and validate every infra/params/<env>.json against infra/endpoint.yaml's "
        "Parameters. Needs no AWS access. Exit 2 for invalid parameter files, 1 for linter "
        "findings. cfn-lint and checkov run at the same time; the result is kept in "
        "build/cache/lint.json (PIPELINE_CACHE_DIR) under a key of every input (templates, "
        "parameter files, the project config, the lint code, checkov's policies and pins, "
        "cfn-lint's and Python's versions; files named relative to the checkout, so a copy "
        "elsewhere has the same key), and a run with the same key takes it instead of "
        "linting again (shown as cached, with the key). Each linter's findings for each "
        "template are kept too, under that template's own key: after a template changes, "
        "cfn-lint and checkov run only on it.",
    )
    p.add_argument(
        "--no-cache", action="store_true", help="lint even if a result for these inputs is kept"
    )
    p.set_defaults(handler=commands.lint, report_time=False)

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
    p.set_defaults(handler=commands.upload)

    p = sub.add_parser(
        "register",
        help="register the uploaded build in the SageMaker Model Registry",
        description="Register the uploaded artifact of build/manifest.json as a new version "
        "of the model package group named after [model] name (created, tagged project, on "
        "first use): the serving image and ModelDataUrl, the content types of the signature, "
        "the RealTime instance types of the parameter files, the metrics (metrics.json beside "
        "the artifact), the digest, git commit, training job and signature digest; status "
        "PendingManualApproval. A digest already registered prints its version: nothing "
        "duplicates. Needs `upload` first.",
    )
    p.set_defaults(handler=commands.register)

    p = sub.add_parser(
        "registry",
        help="list, show, approve or reject versions in the Model Registry",
        description="`list [--status S]`: the versions of the project's model package group "
        "with status, digest, metrics and the environments each is released to. `show "
        "VERSION|DIGEST`: one version. `approve`/`reject VERSION|DIGEST --reason TEXT`: set "
        "its ModelApprovalStatus, recording who and why in ApprovalDescription; rejecting one "
        "that an environment serves warns and names the rollback. Every deploy, promotion and "
        "rollback consults the registry: prod takes only Approved versions, the other "
        "environments any registered version not Rejected. In the build account's registry "
        "(the account of the build's signing key), from any account.",
    )
    p.add_argument("action", choices=["list", "show", "approve", "reject"])
    p.add_argument(
        "reference",
        nargs="?",
        metavar="VERSION|DIGEST",
        help="a version number, or 8 to 64 hex characters of the artifact's sha256",
    )
    p.add_argument("--status", help="list: only Approved, Rejected or PendingManualApproval")
    p.add_argument("--reason", help="approve/reject: why (recorded with who)")
    p.set_defaults(handler=commands.registry)

    p = sub.add_parser(
        "test",
        help="taskcat template tests of infra/endpoint.yaml, one per environment",
        description="Run the tests of .taskcat.yml with taskcat (in its own environment, "
        "created on first use) against the account and region of the standard AWS "
        "variables. Each test uses its environment's parameter file plus the uploaded "
        "artifact, the serving image, the bootstrap role and a unique endpoint name; it "
        "passes when the stack is CREATE_COMPLETE, the endpoint InService, the outputs "
        "resolve and a golden example is predicted. Stacks are always deleted; leftovers "
        "are listed. Needs `bootstrap` and `upload` first. Report: build/taskcat/. A passing "
        "run is kept (build/cache/taskcat.json) under a key of every input (each test's "
        "template and parameters, the artifact's digest among them, the golden example, the "
        "account and region, .taskcat.yml, the project config, the test code, taskcat's pins "
        "and Python's version): a run with the same key reports it again, marked cached, and "
        "makes no stack. A failing run is never kept.",
    )
    p.add_argument("--digest", help="test this uploaded artifact (default: the local build)")
    p.add_argument(
        "--no-cache", action="store_true", help="run taskcat even if a passing run is kept"
    )
    p.set_defaults(handler=commands.template_test)

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
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for another deploy in progress instead of refusing",
    )
    p.set_defaults(handler=commands.deploy)

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
    p.add_argument(
        "--approve",
        action="store_true",
        help="approve the change to a protected environment (prod)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="stop after the preview, deleting the change set (no approval needed)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="promote despite the gate against the target (recorded)",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for another deploy in progress instead of refusing",
    )
    p.set_defaults(handler=commands.promote)

    p = sub.add_parser(
        "rollback",
        help="redeploy an environment's previous passing release",
        description="Deploy the newest release of ENV whose digest is not the one the stack "
        "serves now, with its recorded parameters; smoke it; record it as a rollback. A "
        "protected environment (prod) needs --approve, or a typed confirmation after the "
        "preview when run at a terminal.",
    )
    p.add_argument("--env", required=True)
    p.add_argument(
        "--approve",
        action="store_true",
        help="approve the rollback of a protected environment (prod)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="stop after the preview, deleting the change set"
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for another deploy in progress instead of refusing",
    )
    p.set_defaults(handler=commands.rollback)

    p = sub.add_parser(
        "all-green",
        help="fail unless every job in $NEEDS succeeded (the CI gate branch protection needs)",
        description="Reads NEEDS, the JSON of a workflow's `toJSON(needs)`, prints each job's "
        "result and exits 1 unless all are success (skipped and cancelled count as not).",
    )
    p.set_defaults(handler=commands.all_green, needs_project=False)

    p = sub.add_parser(
        "workflows",
        help="run .github/workflows ci.yml and release.yml locally with act (tox -e workflows)",
        description="Start and bootstrap the embedded sandbox, then run the workflows with "
        "act in host mode (no Docker), with offline stand-ins for setup-python, cache and "
        "configure-aws-credentials (the credentials stand-in exports the sandbox). Prints "
        "each job's result; exits 1 naming the failing workflow and job.",
    )
    p.add_argument(
        "--workflow",
        action="append",
        choices=["ci", "release"],
        help="run only these (default: ci, then release)",
    )
    p.add_argument("--release-file", help="a copy of release.yml to run instead (tests)")
    p.set_defaults(handler=commands.workflows, needs_project=False)

    p = sub.add_parser(
        "teardown",
        help="delete one environment's endpoint stack, after a typed confirmation",
        description="Delete stack <project>-<env> and wait. --confirm must repeat the "
        "environment's name. Artifacts, release records and the bootstrap stack are kept.",
    )
    p.add_argument("--env", required=True)
    p.add_argument("--confirm", required=True, help="the environment's name, typed again")
    p.add_argument("--dry-run", action="store_true", help="show the plan; delete nothing")
    p.set_defaults(handler=commands.teardown)

    p = sub.add_parser(
        "sweep",
        help="delete this project's stale stacks (for the sandbox account)",
        description="Delete this project's endpoint and taskcat stacks (never the bootstrap "
        "stack) not created or updated for --ttl-hours, and print them with the hourly cost "
        "saved, estimated from instance type and count (infra/instance-prices.toml).",
    )
    p.add_argument("--ttl-hours", type=float, required=True)
    p.add_argument("--dry-run", action="store_true", help="show the stacks it would delete")
    p.set_defaults(handler=commands.sweep)

    p = sub.add_parser(
        "smoke",
        help="send the manifest's golden examples to an environment's endpoint",
        description="Invoke the endpoint of stack <project>-<env> through the SageMaker "
        "Runtime API with the golden examples of the deployed artifact's manifest, in CSV "
        "and JSON; every prediction must match within the stated tolerance. Exit 1 names "
        "the example, the expected and the returned value.",
    )
    p.add_argument("--env", required=True)
    p.set_defaults(handler=commands.smoke)

    p = sub.add_parser(
        "monitor",
        help="compare what an endpoint received with what its model learned (drift)",
        description="Read the data captured by the endpoint of <project>-<env> in a window "
        "(capture/<project>/<env>/ of the artifact bucket), parse each request with the "
        "release's signature through the model's handler, and compare every input column "
        "and the predictions with the release's baseline (statistics.json beside the "
        "artifact): population stability index and Kolmogorov-Smirnov for numbers, PSI and "
        "unseen categories for strings, and the share of requests the handler refuses, "
        "against [monitor] of pipeline.toml. Prints a table (also to $GITHUB_STEP_SUMMARY) "
        "and writes build/monitor/<env>/report.html and report.json. Exit 1 on drift "
        "(constraint_violations.json, Model Monitor's shape); fewer rows than min_rows: "
        "verdict 'not enough data', exit 0.",
    )
    p.add_argument(
        "--env", required=True, choices=environments.NAMES, help="the environment watched"
    )
    p.add_argument(
        "--since", default="24h", help="30m, 24h, 7d back from now, or a UTC time (default 24h)"
    )
    p.add_argument("--until", default=None, help="the window's end (default: now)")
    p.set_defaults(handler=commands.monitor)

    p = sub.add_parser(
        "releases",
        help="print the latest release record of an environment (or all with --all)",
        description="Release records live in the artifact bucket under "
        "releases/<project>/<env>/, one per deploy whose smoke test passed, never overwritten.",
    )
    p.add_argument("--env", required=True)
    p.add_argument("--all", action="store_true", help="one line per release, oldest first")
    p.set_defaults(handler=commands.releases)

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
    p.add_argument(
        "--account-role",
        choices=["build", "env", "both"],
        default=None,
        help="default: the existing stack's, else both",
    )
    p.add_argument(
        "--environment-accounts",
        nargs="*",
        metavar="ACCOUNT_ID",
        default=None,
        help="(build) accounts whose execution roles and GitHub roles may use the "
        "artifacts (default: the existing stack's, else this account only)",
    )
    p.add_argument("--artifact-bucket", default=None, help="(env) the build account's bucket")
    p.add_argument("--artifact-key", default=None, help="(env) the build account's key ARN")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="show the plan (and the change set's preview); change nothing",
    )
    p.set_defaults(handler=commands.bootstrap, needs_project=False)

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
        "--stack-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep stacks *_IN_PROGRESS this long after ExecuteChangeSet (default 0: none)",
    )
    p.add_argument(
        "--warm-servers",
        action="store_true",
        help="start the model-server zygote (which imports the serving libraries) at once, "
        "so the first endpoint does not wait for it (deploy-local does)",
    )
    p.set_defaults(handler=commands.sandbox, needs_project=False, report_time=False)

    p = sub.add_parser(
        "deploy-local",
        help="run the pipeline end to end on this machine (what `tox -e deploy-local` runs)",
        description="Start the embedded sandbox; bootstrap; train, gate, package, upload, "
        "register; lint (run from the start, beside the stages before it), then taskcat; "
        "deploy dev and smoke it; promote to staging and to prod "
        "(approved locally, in the model registry and for the deploy) and smoke each; send "
        "prod two batches of traffic, test rows and a planted shift, and check them with "
        "monitor (sandbox only); print a summary table (also to $GITHUB_STEP_SUMMARY); stop "
        "the sandbox. Needs no AWS account and no Docker. A failing stage exits non-zero "
        "and names the stage. Results are reused when their inputs are unchanged (build/cache/, "
        "shown as cached with the key): a local training run (every file of the project "
        "folder, local data, the pipeline's code, the image's packages as installed; data in "
        "S3 or a training job is never reused), the packaged build (the trained model and "
        "files, the handler, the git state the manifest records; every output re-hashed), "
        "lint, and a passing taskcat run.",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="leave the sandbox running with the three endpoints, and print how to "
        "invoke them; stop it with `sandbox down` (same --config)",
    )
    p.add_argument(
        "--target",
        choices=["local", "aws"],
        default="local",
        help="aws: the same stages against the account of your credentials",
    )
    p.add_argument("--region", help="with --target aws: the region to deploy to")
    p.add_argument(
        "--train-on",
        choices=["local", "sagemaker"],
        help="where the train stage runs the script: this machine, or a SageMaker training "
        "job (which the sandbox runs for real); default: [training] on in pipeline.toml",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="train, package, lint and run taskcat even if results for the same inputs are kept "
        "(build/cache/)",
    )
    p.set_defaults(handler=commands.deploy_local)
    for subparser in sub.choices.values():
        # What a command needs is declared with it (set_defaults above): a model project
        # unless needs_project=False; a timing line unless report_time=False (its output is
        # read by programs, or it runs until stopped).
        needs_project = subparser.get_default("needs_project") is not False
        subparser.set_defaults(
            needs_project=needs_project,
            report_time=subparser.get_default("report_time") is not False,
        )
        subparser.add_argument(
            "--config",
            metavar="PATH",
            help="the model project's pipeline.toml (default ./pipeline.toml); relative paths "
            "in it resolve against its folder, and build outputs go to <its folder>/build"
            + ("" if needs_project else "; not needed by this command"),
        )
    return parser
