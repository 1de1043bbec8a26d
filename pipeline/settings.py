"""Environment-variable names and the Settings snapshot a command runs with.

Settings are read once, in `Settings.from_env()`, when a command starts; never at import time,
so tests can build their own snapshot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import model as _model_package

BUILD_DIR_ENV = "PIPELINE_BUILD_DIR"
MODEL_NAME_ENV = "PIPELINE_MODEL_NAME"
QUALITY_GATE_ENV = "PIPELINE_QUALITY_GATE"
SANDBOX_STATE_ENV = "PIPELINE_SANDBOX_STATE"
INFRA_DIR_ENV = "PIPELINE_INFRA_DIR"
# The ProjectName of the endpoint stacks <project>-<env> (the bootstrap stack is the
# account's, shared by every project: pipeline/stages/bootstrap.py).
PROJECT_ENV = "PIPELINE_PROJECT"
# The build account's artifact bucket, for environment accounts whose bootstrap stack does
# not hold it (AccountRole env). Unset: this account's bootstrap output ArtifactBucketName.
ARTIFACT_BUCKET_ENV = "PIPELINE_ARTIFACT_BUCKET"
# Isolated environments of tools with clashing pins (pipeline/tools/).
TOOLS_DIR_ENV = "PIPELINE_TOOLS_DIR"

DEFAULT_MODEL_NAME = "diabetes-linear"
DEFAULT_PROJECT = "diabetes"

MODEL_DIR = Path(_model_package.__file__).resolve().parent


def default_tools_dir(env) -> Path:
    cache = env.get("XDG_CACHE_HOME") or Path(env.get("HOME") or Path.home()) / ".cache"
    return Path(cache) / "sagemaker-cfn-pipeline" / "tools"


@dataclass(frozen=True)
class Settings:
    build_dir: Path
    model_dir: Path = MODEL_DIR
    model_name: str = DEFAULT_MODEL_NAME
    project: str = DEFAULT_PROJECT
    artifact_bucket: str | None = None
    quality_gate_file: Path = MODEL_DIR / "quality-gate.toml"
    sandbox_state_file: Path | None = None  # default: <build_dir>/sandbox.json
    infra_dir: Path = MODEL_DIR.parent / "infra"
    tools_dir: Path = field(default_factory=lambda: default_tools_dir(os.environ))

    @property
    def endpoint_template(self) -> Path:
        return self.infra_dir / "endpoint.yaml"

    @property
    def promotion_gate_file(self) -> Path:
        return self.model_dir / "promotion-gate.toml"

    @property
    def taskcat_file(self) -> Path:
        return self.infra_dir.parent / ".taskcat.yml"

    @property
    def params_dir(self) -> Path:
        return self.infra_dir / "params"

    @property
    def serving_image_file(self) -> Path:
        return self.model_dir / "serving-image.toml"

    @property
    def inference_script(self) -> Path:
        return self.model_dir / "inference.py"

    @property
    def sandbox_state(self) -> Path:
        return self.sandbox_state_file or self.build_dir / "sandbox.json"

    @property
    def model_file(self) -> Path:
        return self.build_dir / "model.joblib"

    @property
    def metrics_file(self) -> Path:
        return self.build_dir / "metrics.json"

    @property
    def artifact_file(self) -> Path:
        return self.build_dir / "model.tar.gz"

    @property
    def manifest_file(self) -> Path:
        return self.build_dir / "manifest.json"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            build_dir=Path(env.get(BUILD_DIR_ENV, "build")),
            model_name=env.get(MODEL_NAME_ENV, DEFAULT_MODEL_NAME),
            project=env.get(PROJECT_ENV, DEFAULT_PROJECT),
            artifact_bucket=env.get(ARTIFACT_BUCKET_ENV) or None,
            quality_gate_file=Path(env.get(QUALITY_GATE_ENV, MODEL_DIR / "quality-gate.toml")),
            sandbox_state_file=Path(env[SANDBOX_STATE_ENV]) if env.get(SANDBOX_STATE_ENV) else None,
            infra_dir=Path(env.get(INFRA_DIR_ENV, MODEL_DIR.parent / "infra")),
            tools_dir=Path(env[TOOLS_DIR_ENV])
            if env.get(TOOLS_DIR_ENV)
            else default_tools_dir(env),
        )
