"""`pipeline test`: taskcat template tests of infra/endpoint.yaml, one per environment.

taskcat runs in its own environment (pipeline/tools/) through its Python API, driven by
pipeline/tools/taskcat_driver.py, against whatever the standard AWS variables point at: the
sandbox account in CI, the embedded sandbox locally. Each test's parameters are its
environment's file plus what is injected here: the uploaded artifact (ModelData,
ModelDigest), the serving image for the region, the bootstrap stack's execution role, and a
unique EndpointName. Beyond CREATE_COMPLETE, each test checks the endpoint is InService,
the outputs resolve, and a golden example comes back with the expected prediction. The
stacks are deleted whatever happens; anything not deleted is reported.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from pipeline import tools
from pipeline.aws import identity
from pipeline.aws.cloudformation import CloudFormation
from pipeline.aws.sagemaker import SageMaker, SageMakerRuntime
from pipeline.core import golden
from pipeline.errors import ConfigError
from pipeline.local.processes import ManagedProcess
from pipeline.settings import Settings
from pipeline.shared import deploying, results_cache
from pipeline.shared import params as params_files
from pipeline.shared.context import Context

DRIVER = Path(tools.__file__).resolve().parent / "taskcat_driver.py"
TEMPLATE = "templates/endpoint.yaml"  # inside the staged project that taskcat syncs
OUTPUTS = ("EndpointName", "ModelName", "EndpointConfigName", "ModelData")
CREATED = re.compile(r'^\{"event": "(created|failed)"')
CLEANED = re.compile(r'^\{"event": "cleaned"')


@dataclass
class TestResult:
    test: str
    endpoint: str
    stack: str = ""
    checks: dict[str, str] = field(default_factory=dict)  # check -> "ok" or the problem

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(v == "ok" for v in self.checks.values())


@dataclass
class TestReport:
    results: list[TestResult]
    leftovers: list[str]
    error: str | None
    seconds: float
    report_file: Path
    cache_key: str = ""  # the inputs' key (results_cache)
    cached: bool = False  # an earlier passing run's, with the same key

    @property
    def passed(self) -> bool:
        return not self.error and not self.leftovers and all(r.passed for r in self.results)


def _cache_inputs(
    settings: Settings, tests: dict, account: str, region: str, example: dict
) -> tuple[str, dict[str, str]]:
    """The key of a taskcat run: every test's template and parameters (the pipeline's filled
    ones, the artifact's digest among them), the golden example checked, the account and
    region, .taskcat.yml, the project config, this code and the driver; and taskcat's pins."""
    import hashlib
    import sys

    files = [settings.endpoint_template, settings.taskcat_file, Path(__file__), DRIVER]
    if settings.project_config is not None:
        files.append(settings.project_config.config_file)
    parts = results_cache.file_parts(files, settings.infra_dir.parent)
    parts["tests"] = json.dumps(tests, sort_keys=True)
    parts["target"] = f"{account}:{region}"
    parts["example"] = json.dumps(example, sort_keys=True)
    versions = {
        "python": sys.version,
        "taskcat-pins": hashlib.sha256(tools.requirements("taskcat").encode()).hexdigest(),
    }
    return results_cache.key(
        {**parts, **{f"version:{k}": v for k, v in versions.items()}}
    ), versions


def load_tests(settings: Settings) -> dict[str, dict]:
    """The committed .taskcat.yml, checked against the parameter files (ConfigError)."""
    path = settings.taskcat_file
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; it defines the template tests") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    tests = (document or {}).get("tests") or {}
    environments = {p.stem for p in settings.params_dir.glob("*.json")}
    if set(tests) != environments:
        raise ConfigError(
            f"{path}: tests {sorted(tests)} must be one per parameter file "
            f"{sorted(environments)} in {settings.params_dir}"
        )
    for name, test in tests.items():
        if (test or {}).get("template") != TEMPLATE or (test or {}).get("parameters"):
            raise ConfigError(
                f"{path}: tests.{name}: use `template: {TEMPLATE}` and no "
                "`parameters` (they come from the parameter file and the "
                "pipeline)"
            )
    return document


def endpoint_name(project: str, test: str) -> str:
    """Unique per run and test; SageMaker allows 63 characters."""
    return f"{project}-tc-{test}-{uuid.uuid4().hex[:8]}"[:63]


def _parameters(document: dict, injected: dict[str, str]) -> dict:
    return {**document["Parameters"], **injected}


def _check_stack(
    stack: dict,
    want_endpoint: str,
    model_data: str,
    example: dict,
    sagemaker: SageMaker,
    runtime: SageMakerRuntime,
) -> dict[str, str]:
    checks = {
        "CREATE_COMPLETE": "ok"
        if stack["status"] == "CREATE_COMPLETE"
        else f"{stack['status']}: {stack['reason']}"
    }
    if stack["status"] != "CREATE_COMPLETE":
        return checks
    outputs = stack["outputs"]
    missing = [key for key in OUTPUTS if not outputs.get(key)]
    wrong = [
        f"{k}={outputs[k]!r}"
        for k, v in (("EndpointName", want_endpoint), ("ModelData", model_data))
        if outputs.get(k) and outputs[k] != v
    ]
    checks["outputs"] = (
        "ok"
        if not (missing or wrong)
        else (f"missing {missing} " if missing else "") + (f"unexpected {wrong}" if wrong else "")
    )
    endpoint = sagemaker.describe_endpoint(want_endpoint)
    checks["InService"] = (
        "ok"
        if endpoint.status == "InService"
        else (f"{endpoint.status}: {endpoint.failure_reason}")
    )
    if endpoint.status == "InService":
        content_type, body = golden.request_bodies([example])["CSV"]
        answer = json.loads(runtime.invoke(want_endpoint, body, content_type))
        problems = golden.mismatches([example], answer)
        checks["golden invocation"] = "ok" if not problems else "; ".join(problems)
    return checks


def run(ctx: Context, digest: str | None = None, use_cache: bool = True) -> TestReport:
    """Test the uploaded artifact `digest` (its manifest read from the bucket), else the
    local build's. Inputs are resolved as every deploy resolves them
    (pipeline.shared.deploying): the same checks, the same messages. A passing run is kept
    (build/cache/taskcat.json); with the same inputs (use_cache) it is reported again,
    marked cached, and no stack is made. A failing run is never kept."""
    settings, progress, s3 = ctx.settings, ctx.ui.progress, ctx.s3
    started = time.monotonic()
    config = load_tests(settings)
    documents, problems = params_files.load_params(settings)
    if problems:
        raise ConfigError(
            "parameter files are invalid; nothing was sent to AWS:\n  "
            + "\n  ".join(map(str, problems))
        )
    deploying.check_digest(digest)  # before any AWS call
    region = identity.region()
    where = deploying.account_inputs(ctx)
    bucket = where.bucket
    chosen = deploying.artifact(ctx, bucket, digest)
    manifest = chosen.manifest
    model_data = chosen.uri
    injected = deploying.filled_parameters(settings, chosen, where)
    example = manifest["golden_examples"][0]
    account = identity.account_id()
    # every input but the endpoint names, which are new in every run
    keyed = {
        name: _parameters(documents[name], {**injected, "EndpointName": "(unique per run)"})
        for name in config["tests"]
    }
    cache_key, versions = _cache_inputs(settings, keyed, account, region, example)
    kept = results_cache.load(settings, "taskcat", cache_key, versions) if use_cache else None
    if kept is not None:
        progress(f"taskcat: cached passing result {cache_key[:12]} (same inputs and versions)")
        return TestReport(
            [TestResult(**r) for r in kept["results"]],
            [],
            None,
            time.monotonic() - started,
            Path(kept["report_file"]),
            cache_key,
            cached=True,
        )
    # taskcat syncs its project to this bucket; it cannot sync to a versioned one.
    taskcat_bucket = f"{settings.project}-taskcat-{account}-{region}"
    if s3.ensure_bucket(taskcat_bucket, region):
        progress(f"created taskcat's bucket s3://{taskcat_bucket}")
    work = settings.build_dir / "taskcat"
    shutil.rmtree(work, ignore_errors=True)
    (work / "project" / "templates").mkdir(parents=True)
    shutil.copy(settings.endpoint_template, work / "project" / TEMPLATE)
    results, tests = [], {}
    for name in config["tests"]:
        result = TestResult(name, endpoint_name(settings.project, name))
        results.append(result)
        tests[name] = {
            "template": TEMPLATE,
            "parameters": _parameters(
                documents[name], {**injected, "EndpointName": result.endpoint}
            ),
        }
    project = {**config.get("project", {}), "regions": [region], "s3_bucket": taskcat_bucket}
    request = {
        "project_root": str(work / "project"),
        "config": {"project": project, "tests": tests},
    }
    bin_dir = tools.environment("taskcat", settings.tools_dir, progress)
    progress(f"taskcat: creating {len(tests)} test stacks in {region} ({', '.join(tests)})")
    request_file = work / "request.json"
    request_file.write_text(json.dumps(request, indent=2))
    command = [str(bin_dir / "python"), str(DRIVER), str(request_file)]
    driver = ManagedProcess(command, work / "taskcat.log", env=dict(os.environ), with_stdin=True)
    error, leftovers = None, []
    with driver:
        created = json.loads(driver.start(CREATED, timeout=3600).string)
        if created["event"] == "failed":
            error = f"taskcat: {created['error']}"
        by_test = {stack["test"]: stack for stack in created["stacks"]}
        try:
            sagemaker, runtime = SageMaker(), SageMakerRuntime()

            def check(result: TestResult) -> None:
                stack = by_test.get(result.test)
                if stack is None:
                    result.checks["CREATE_COMPLETE"] = "no stack was created"
                    return
                result.stack = stack["name"]
                progress(f"taskcat: checking {result.test} ({stack['name']})")
                result.checks.update(
                    _check_stack(stack, result.endpoint, model_data, example, sagemaker, runtime)
                )

            # every test's stack at the same time (boto3 clients are thread-safe); list()
            # re-raises the first error a check raised
            with ThreadPoolExecutor(max_workers=max(1, len(results))) as pool:
                list(pool.map(check, results))
        finally:
            progress("taskcat: deleting the test stacks")
            driver.write_line("clean up")
            cleaned = json.loads(driver.wait_for(CLEANED, timeout=3600).string)
        leftovers = _leftovers([s["id"] for s in cleaned["stacks"]])
        if cleaned["error"] and not error:
            error = f"taskcat clean-up: {cleaned['error']}"
    report = TestReport(
        results, leftovers, error, time.monotonic() - started, work / "report.json", cache_key
    )
    report.report_file.write_text(
        json.dumps(
            {**asdict(report), "report_file": str(report.report_file), "passed": report.passed},
            indent=2,
            default=str,
        )
        + "\n"
    )
    if report.passed:
        kept_report = {
            "results": [asdict(r) for r in results],
            "report_file": str(report.report_file),
        }
        results_cache.store(settings, "taskcat", cache_key, versions, kept_report)
    return report


def _leftovers(stack_ids: list[str]) -> list[str]:
    cfn, left = CloudFormation(), []
    for stack_id in stack_ids:
        stack = cfn.stack(stack_id)
        if stack is not None and stack["StackStatus"] != "DELETE_COMPLETE":
            left.append(f"{stack['StackName']} ({stack['StackStatus']})")
    return left
