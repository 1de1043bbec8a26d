"""`pipeline upload` against the sandbox, as a user runs it: the CLI as a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import boto3
import pytest

from pipeline.local.sandbox import Sandbox
from tests.e2e.test_cli import pipeline

BUCKET = "sagemaker-pipeline-artifacts-123456789012-us-east-1"  # the bootstrap stack's


def s3_client(env: dict[str, str]):
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def build_copy(built, tmp_path):
    build = tmp_path / "build"
    shutil.copytree(built.build_dir, build)
    return build


def keys(s3, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_upload_puts_artifact_and_manifest_then_skips_the_same_bytes(bootstrapped, build_copy):
    outputs = build_copy / "github-output"
    env = {**bootstrapped, "PIPELINE_BUILD_DIR": str(build_copy), "GITHUB_OUTPUT": str(outputs)}
    manifest = json.loads((build_copy / "manifest.json").read_text())
    key = manifest["artifact"]["s3_key"]
    first = pipeline("upload", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == f"s3://{BUCKET}/{key}"
    # the release workflow hands the digest from the build job to every deploy
    assert f"digest={manifest['artifact']['sha256']}\n" in outputs.read_text()
    s3 = s3_client(bootstrapped)
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == manifest["artifact"]["sha256"]
    stored_manifest = s3.get_object(Bucket=BUCKET, Key=key.replace("model.tar.gz", "manifest.json"))
    assert json.loads(stored_manifest["Body"].read()) == manifest
    again = pipeline("upload", env=env)
    assert again.returncode == 0, again.stderr
    assert "already uploaded: the same bytes are at the key" in again.stdout
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    assert len(versions) == 1  # nothing was written twice


def test_a_tampered_artifact_is_refused_before_any_upload(bootstrapped, build_copy):
    artifact = build_copy / "model.tar.gz"
    data = bytearray(artifact.read_bytes())
    data[100] ^= 0xFF
    artifact.write_bytes(bytes(data))
    s3 = s3_client(bootstrapped)
    before = keys(s3, BUCKET)
    result = pipeline("upload", env={**bootstrapped, "PIPELINE_BUILD_DIR": str(build_copy)})
    assert result.returncode == 1
    assert "does not describe the artifact beside it" in result.stderr
    assert keys(s3, BUCKET) == before


def test_different_bytes_at_the_key_are_never_overwritten(bootstrapped, build_copy):
    s3 = s3_client(bootstrapped)
    s3.create_bucket(Bucket="upload-conflict")
    key = json.loads((build_copy / "manifest.json").read_text())["artifact"]["s3_key"]
    s3.put_object(Bucket="upload-conflict", Key=key, Body=b"someone else's bytes")
    result = pipeline(
        "upload",
        "--bucket",
        "upload-conflict",
        env={**bootstrapped, "PIPELINE_BUILD_DIR": str(build_copy)},
    )
    assert result.returncode == 1
    assert "already exists with different content" in result.stderr
    assert "Refusing to overwrite it" in result.stderr
    assert s3.get_object(Bucket="upload-conflict", Key=key)["Body"].read() == (
        b"someone else's bytes"
    )


PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
)


def peak_rss_kib(command: list[str], env: dict[str, str]) -> tuple[int, int]:
    """Peak RSS of `command` alone (a fresh parent whose only child it is), and its exit."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    peak, code = result.stdout.strip().splitlines()[-1].split()
    return int(peak), int(code)


def test_a_200_mb_artifact_uploads_without_holding_it_in_memory(built, tmp_path):
    size = 200_000_000
    build = tmp_path / "build"
    build.mkdir()
    digest = hashlib.sha256()
    with (build / "model.tar.gz").open("wb") as handle:
        for _ in range(size // 10_000_000):
            chunk = os.urandom(10_000_000)
            digest.update(chunk)
            handle.write(chunk)
    manifest = json.loads(built.manifest_file.read_text())
    sha = digest.hexdigest()
    manifest["artifact"] = {
        "sha256": sha,
        "size": size,
        "s3_key": f"models/diabetes-linear/{sha}/model.tar.gz",
    }
    (build / "manifest.json").write_text(json.dumps(manifest))
    for name in manifest["monitoring"]:  # the baseline goes up beside it
        shutil.copyfile(built.build_dir / name, build / name)
    with Sandbox() as sandbox:  # its own: the emulator keeps the 200 MB in memory
        s3_client(sandbox.env).create_bucket(Bucket="big")
        # Not bootstrapped: the signing key upload signs with is given as another account's.
        kms = boto3.client(
            "kms",
            endpoint_url=sandbox.url,
            region_name=sandbox.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        env = {
            **os.environ,
            **sandbox.env,
            "PIPELINE_BUILD_DIR": str(build),
            "PIPELINE_SIGNING_KEY": signing["Arn"],
        }
        imports = "import boto3, pipeline.stages.build.upload; boto3.client('s3')"
        baseline, _ = peak_rss_kib([sys.executable, "-c", imports], env)
        peak, code = peak_rss_kib(
            [sys.executable, "-m", "pipeline", "upload", "--bucket", "big"], env
        )
        assert code == 0
        head = s3_client(sandbox.env).head_object(Bucket="big", Key=manifest["artifact"]["s3_key"])
        assert head["ContentLength"] == size
    growth_mib = (peak - baseline) / 1024
    print(
        f"upload of 200 MB: peak RSS {peak / 1024:.0f} MiB, {growth_mib:.0f} MiB over the "
        f"interpreter with boto3 ({baseline / 1024:.0f} MiB)"
    )
    # Parts are 8 MiB; holding the file would add 190 MiB. A few parts in flight is fine.
    assert growth_mib < 64
