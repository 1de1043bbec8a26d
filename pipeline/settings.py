"""Environment-variable names, the model project, and the Settings snapshot a command runs with.

Settings are read once, in `Settings.from_env()`, when a command starts; never at import time,
so tests can build their own snapshot. The project (`pipeline.toml`, `--config`) is read and
validated there too, so a bad config exits 2 before any stage starts.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import model as _model_package
from pipeline.core import project as project_core
from pipeline.errors import ConfigError

BUILD_DIR_ENV = "PIPELINE_BUILD_DIR"
SANDBOX_STATE_ENV = "PIPELINE_SANDBOX_STATE"
INFRA_DIR_ENV = "PIPELINE_INFRA_DIR"
# The build account's artifact bucket, for environment accounts whose bootstrap stack does
# not hold it (AccountRole env). Unset: this account's bootstrap output ArtifactBucketName.
ARTIFACT_BUCKET_ENV = "PIPELINE_ARTIFACT_BUCKET"
# The build account's provenance signing key, for environment accounts (like the bucket).
SIGNING_KEY_ENV = "PIPELINE_SIGNING_KEY"
# The once-per-account bootstrap stack is named after this, never after a project.
BOOTSTRAP_NAMESPACE = "sagemaker-pipeline"
BOOTSTRAP_STACK = f"{BOOTSTRAP_NAMESPACE}-bootstrap"
# Isolated environments of tools with clashing pins (pipeline/tools/).
TOOLS_DIR_ENV = "PIPELINE_TOOLS_DIR"
# Where kept results live (pipeline.shared.results_cache); default <build_dir>/cache.
CACHE_DIR_ENV = "PIPELINE_CACHE_DIR"

DEFAULT_CONFIG = Path("pipeline.toml")

MODEL_DIR = Path(_model_package.__file__).resolve().parent


def default_tools_dir(env) -> Path:
    cache = env.get("XDG_CACHE_HOME") or Path(env.get("HOME") or Path.home()) / ".cache"
    return Path(cache) / "sagemaker-cfn-pipeline" / "tools"


def load_project(config_file: Path) -> project_core.Project:
    """Read and validate a pipeline.toml (ConfigError naming the file and key)."""
    path = config_file.expanduser().absolute()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such file; a model project needs a pipeline.toml "
            '(see the README\'s "Bring your own model"), or pass '
            "--config PATH"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; pass the pipeline.toml inside it") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    project = project_core.parse(data, path)
    problems = project_core.missing_files(project)
    if problems:
        raise ConfigError("\n".join(problems))
    return project


@dataclass(frozen=True)
class Settings:
    build_dir: Path
    project_config: project_core.Project | None = None
    model_dir: Path = MODEL_DIR
    artifact_bucket: str | None = None
    signing_key: str | None = None
    sandbox_state_file: Path | None = None  # default: <build_dir>/sandbox.json
    cache_dir_path: Path | None = None  # default: <build_dir>/cache
    infra_dir: Path = MODEL_DIR.parent / "infra"
    tools_dir: Path = field(default_factory=lambda: default_tools_dir(os.environ))

    @property
    def config(self) -> project_core.Project:
        if self.project_config is None:
            raise ConfigError(
                "this command needs a model project: pass --config PATH to its pipeline.toml"
            )
        return self.project_config

    @property
    def project(self) -> str:
        """ProjectName of the stacks: <project>-<env>."""
        return self.config.name

    @property
    def model_name(self) -> str:
        """The S3 key prefix models/<model name>/<sha256>/."""
        return self.config.model_name

    @property
    def project_dir(self) -> Path:
        return self.config.folder

    @property
    def endpoint_template(self) -> Path:
        return self.infra_dir / "endpoint.yaml"

    @property
    def taskcat_file(self) -> Path:
        return self.infra_dir.parent / ".taskcat.yml"

    @property
    def params_dir(self) -> Path:
        """The project's own params/<env>.json when it has them, else infra/params/."""
        own = self.project_config.params_dir if self.project_config else None
        return own or self.infra_dir / "params"

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
    def cache_dir(self) -> Path:
        """Kept results of slow steps (pipeline.shared.results_cache), one file per step."""
        return self.cache_dir_path or self.build_dir / "cache"

    @property
    def model_file(self) -> Path:
        return self.build_dir / "model.joblib"

    @property
    def signature_file(self) -> Path:
        return self.build_dir / "signature.json"

    @property
    def golden_inputs_file(self) -> Path:
        return self.build_dir / "golden-inputs.json"

    @property
    def channels_dir(self) -> Path:
        return self.build_dir / "channels"

    @property
    def metrics_file(self) -> Path:
        return self.build_dir / "metrics.json"

    @property
    def artifact_file(self) -> Path:
        return self.build_dir / "model.tar.gz"

    @property
    def statistics_file(self) -> Path:
        """The training data's statistics (Model Monitor's statistics.json shape)."""
        return self.build_dir / "statistics.json"

    @property
    def constraints_file(self) -> Path:
        return self.build_dir / "constraints.json"

    def monitor_dir(self, environment: str) -> Path:
        return self.build_dir / "monitor" / environment

    @property
    def manifest_file(self) -> Path:
        return self.build_dir / "manifest.json"

    @classmethod
    def from_env(
        cls,
        environ: dict[str, str] | None = None,
        config: Path | None = None,
        need_project: bool = True,
    ) -> Settings:
        """`config`: the pipeline.toml (default ./pipeline.toml). Without `need_project` and
        without `config`, no project is read (commands such as `sandbox` run anywhere)."""
        env = os.environ if environ is None else environ
        project = None
        if need_project or config is not None:
            project = load_project(config or DEFAULT_CONFIG)
        default_build = project.folder / "build" if project else Path("build")
        return cls(
            build_dir=Path(env[BUILD_DIR_ENV]) if env.get(BUILD_DIR_ENV) else default_build,
            project_config=project,
            artifact_bucket=env.get(ARTIFACT_BUCKET_ENV) or None,
            signing_key=env.get(SIGNING_KEY_ENV) or None,
            sandbox_state_file=Path(env[SANDBOX_STATE_ENV]) if env.get(SANDBOX_STATE_ENV) else None,
            cache_dir_path=Path(env[CACHE_DIR_ENV]) if env.get(CACHE_DIR_ENV) else None,
            infra_dir=Path(env.get(INFRA_DIR_ENV, MODEL_DIR.parent / "infra")),
            tools_dir=Path(env[TOOLS_DIR_ENV])
            if env.get(TOOLS_DIR_ENV)
            else default_tools_dir(env),
        )
