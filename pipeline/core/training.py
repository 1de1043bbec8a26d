"""SageMaker training jobs, decided from data alone: pipeline.toml's `[training]` table,
the CreateTrainingJob request the SageMaker SDK would send for the scikit-learn framework, and
how the training toolkit inside the container reads that request back.

Both sides live here so they cannot drift apart: `create_request` is what `pipeline train
--on sagemaker` sends (to AWS or to the sandbox), `decode_hyperparameters` and
`container_environment` are what the sandbox's training runtime does with it, as the
container's sagemaker-training toolkit does.

Facts (SageMaker API reference CreateTrainingJob, StoppingCondition, ResourceConfig; the
SageMaker Python SDK's Framework estimator; sagemaker-training-toolkit's environment.py):
- hyperparameters are a string -> string map; the SDK JSON-encodes every value
  (`json.dumps`), so a string value arrives quoted (`"\"train.py\""`) and a number bare;
- `sagemaker_program` names the entry point and `sagemaker_submit_directory` the S3 URI of
  the source tarball; the toolkit hands the script every other hyperparameter as
  `--name value`, decoding each as JSON when it parses, else keeping the raw string;
- MaxRuntimeInSeconds defaults to one day and may be at most 28 days; with managed spot
  training MaxWaitTimeInSeconds is required and at least MaxRuntimeInSeconds;
- the model lands at `<S3OutputPath>/<job name>/output/model.tar.gz`.

Standard library and pipeline.errors only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError

PLACES = ("local", "sagemaker")
MAX_RUNTIME_LIMIT = 28 * 24 * 3600  # StoppingCondition.MaxRuntimeInSeconds, at most 28 days
DEFAULT_MAX_RUNTIME = 24 * 3600  # AWS's default
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# as infra/bootstrap.yaml's TrainingPrefix: no * or ? (IAM wildcards in the roles' resources),
# never under the artifacts' models/ or the release records' releases/
_PREFIX = re.compile(
    r"^(?!(?:models|releases)(?:/|$))[A-Za-z0-9!_.'()-]+(?:/[A-Za-z0-9!_.'()-]+)*$"
)
_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # CreateTrainingJob's pattern
PROGRAM, SUBMIT_DIRECTORY = "sagemaker_program", "sagemaker_submit_directory"
RESERVED_PREFIX = "sagemaker_"
MAX_HYPERPARAMETER_VALUE = 2500  # CreateTrainingJob HyperParameters: value length
MAX_HYPERPARAMETERS = 100  # ... and entries


@dataclass(frozen=True)
class TrainingConfig:
    """The `[training]` section; every key optional."""

    on: str = "local"
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    volume_size_gb: int = 30
    max_runtime_seconds: int = DEFAULT_MAX_RUNTIME
    spot: bool = False
    max_wait_seconds: int | None = None
    output_prefix: str = "training"


# key -> expected type, as pipeline.core.project's SCHEMA spells them
KEYS: dict[str, str] = {
    "on": "string",
    "instance_type": "string",
    "instance_count": "integer",
    "volume_size_gb": "integer",
    "max_runtime_seconds": "integer",
    "spot": "boolean",
    "max_wait_seconds": "integer",
    "output_prefix": "string",
}


def parse(table: Mapping[str, Any], source: str) -> TrainingConfig:
    """Validate a `[training]` table; ConfigError naming the file, the key and the fix."""

    def where(key: str) -> str:
        return f"{source}: [training] {key}"

    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(f"{where(key)}: unknown key; [training] takes {', '.join(KEYS)}")
        kind = KEYS[key]
        ok = {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
        }[kind]
        if not ok:
            article = "an" if kind == "integer" else "a"
            raise ConfigError(f"{where(key)}: must be {article} {kind}, got {value!r}")
    config = TrainingConfig(**dict(table))
    if config.on not in PLACES:
        raise ConfigError(f'{where("on")}: {config.on!r}: use "local" or "sagemaker"')
    if not _INSTANCE_TYPE.match(config.instance_type):
        raise ConfigError(
            f"{where('instance_type')}: {config.instance_type!r} is not a SageMaker instance "
            'type; use one like "ml.m5.large"'
        )
    if config.instance_count < 1:
        raise ConfigError(f"{where('instance_count')}: must be 1 or more")
    if not 1 <= config.volume_size_gb <= 16384:
        raise ConfigError(f"{where('volume_size_gb')}: must be 1 to 16384 (GB)")
    if not 1 <= config.max_runtime_seconds <= MAX_RUNTIME_LIMIT:
        raise ConfigError(
            f"{where('max_runtime_seconds')}: must be 1 to {MAX_RUNTIME_LIMIT} "
            "(SageMaker allows 28 days at most)"
        )
    if config.max_wait_seconds is not None and not config.spot:
        raise ConfigError(
            f"{where('max_wait_seconds')}: only managed spot training waits; set spot = true "
            "or remove it"
        )
    if config.spot:
        wait = config.max_wait_seconds
        if wait is None:
            raise ConfigError(
                f"{where('max_wait_seconds')}: missing; managed spot training needs it (at "
                "least max_runtime_seconds)"
            )
        if not config.max_runtime_seconds <= wait <= MAX_RUNTIME_LIMIT:
            raise ConfigError(
                f"{where('max_wait_seconds')}: must be at least max_runtime_seconds "
                f"({config.max_runtime_seconds}) and at most {MAX_RUNTIME_LIMIT}"
            )
    if not _PREFIX.match(config.output_prefix):
        raise ConfigError(
            f"{where('output_prefix')}: {config.output_prefix!r}: use an S3 key prefix of "
            "letters, digits and !_.'()- separated by single slashes, without leading or "
            "trailing slash, and not under models/ or releases/ (the artifacts' and release "
            "records' own)"
        )
    return config


def job_name(model_name: str, source_digest: str, started: str) -> str:
    """`<model>-<first 8 of the source digest>-<UTC yyyymmddHHMMSS>`, cut to 63 characters
    from the model name's end so the digest and time always survive."""
    tail = f"-{source_digest[:8]}-{started}"
    name = model_name[: 63 - len(tail)].rstrip("-") + tail
    if not _JOB_NAME.match(name):
        raise ValueError(f"{name!r} is not a training job name")
    return name


def encode_hyperparameters(
    hyperparameters: Mapping[str, object], program: str, submit_directory: str
) -> dict[str, str]:
    """The HyperParameters map the SDK sends: every value JSON-encoded, plus the two
    sagemaker_* entries script mode needs."""
    reserved = sorted(k for k in hyperparameters if k.startswith(RESERVED_PREFIX))
    if reserved:
        raise ConfigError(
            f"hyperparameter {reserved[0]!r}: names starting with {RESERVED_PREFIX!r} are "
            "SageMaker's own; rename it"
        )
    encoded = {key: json.dumps(value) for key, value in hyperparameters.items()}
    for key, value in encoded.items():
        if len(value) > MAX_HYPERPARAMETER_VALUE:
            raise ConfigError(
                f"hyperparameter {key!r}: {len(value)} characters once JSON-encoded; "
                f"CreateTrainingJob takes at most {MAX_HYPERPARAMETER_VALUE} per value"
            )
    if len(encoded) + 2 > MAX_HYPERPARAMETERS:
        raise ConfigError(
            f"{len(encoded)} hyperparameters; CreateTrainingJob takes at most "
            f"{MAX_HYPERPARAMETERS} including sagemaker_program and sagemaker_submit_directory"
        )
    encoded[PROGRAM] = json.dumps(program)
    encoded[SUBMIT_DIRECTORY] = json.dumps(submit_directory)
    return encoded


def decode_hyperparameters(encoded: Mapping[str, str]) -> dict[str, object]:
    """As the training toolkit reads them: JSON when the value parses as JSON, else the raw
    string (a user calling the API by hand may send `0.1` or `gini` unquoted)."""
    decoded: dict[str, object] = {}
    for key, value in encoded.items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded


def script_arguments(decoded: Mapping[str, object]) -> list[str]:
    """The script's arguments as the training toolkit builds them (sagemaker_training
    mapping.to_cmd_args): every hyperparameter but SageMaker's own, sorted by name, as
    `--name value` (`-n value` for a one-letter name), the value as Python's `str()` prints
    it (so a boolean is `True`), a mapping as `k=v` pairs joined by commas."""
    args: list[str] = []
    for key in sorted(decoded):
        if key.startswith(RESERVED_PREFIX):
            continue
        value = decoded[key]
        if isinstance(value, Mapping):
            shown = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            shown = "" if value is None else str(value)
        args += [f"--{key}" if len(key) > 1 else f"-{key}", shown]
    return args


def _env_value(value: object) -> str:
    """An SM_* variable's value as the toolkit writes it (mapping.to_env_vars): strings as
    they are, anything else as compact JSON with sorted keys."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def create_request(
    *,
    name: str,
    image: str,
    role_arn: str,
    config: TrainingConfig,
    hyperparameters: Mapping[str, str],
    channels: Mapping[str, str],
    output_path: str,
    tags: Mapping[str, str],
    checkpoint_uri: str | None = None,
    environment: Mapping[str, str] | None = None,
    kms_key: str | None = None,
) -> dict[str, Any]:
    """The CreateTrainingJob parameters for a script-mode scikit-learn job (File mode, one
    S3 prefix per channel, FullyReplicated, as the SDK sends them). `environment` becomes the
    job's Environment: variables set in the training container; `kms_key` encrypts the
    job's output (OutputDataConfig.KmsKeyId)."""
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": config.max_runtime_seconds}
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "HyperParameters": dict(hyperparameters),
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel, uri in sorted(channels.items())
        ],
        "OutputDataConfig": {
            "S3OutputPath": output_path,
            **({"KmsKeyId": kms_key} if kms_key else {}),
        },
        "ResourceConfig": {
            "InstanceType": config.instance_type,
            "InstanceCount": config.instance_count,
            "VolumeSizeInGB": config.volume_size_gb,
        },
        "StoppingCondition": stopping,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        "EnableManagedSpotTraining": config.spot,
    }
    if config.spot:
        if checkpoint_uri is None or config.max_wait_seconds is None:
            raise ValueError("a spot job needs a checkpoint prefix and a wait limit")
        stopping["MaxWaitTimeInSeconds"] = config.max_wait_seconds
        request["CheckpointConfig"] = {"S3Uri": checkpoint_uri}
    if environment:
        request["Environment"] = dict(sorted(environment.items()))
    return request


def model_artifact_uri(output_path: str, name: str) -> str:
    """Where SageMaker packs /opt/ml/model: `<output path>/<job>/output/model.tar.gz`."""
    return f"{output_path.rstrip('/')}/{name}/output/model.tar.gz"


def container_environment(
    root: str,
    channels: list[str],
    decoded: Mapping[str, object],
    program: str,
    module_dir: str,
    cpus: int,
) -> dict[str, str]:
    """The SM_* variables the scikit-learn training container sets for a single-host job
    whose /opt/ml lives at `root` (a path: `/opt/ml` in the image, a working folder in the
    sandbox)."""
    user = {k: v for k, v in decoded.items() if not k.startswith(RESERVED_PREFIX)}
    env = {
        "SM_MODEL_DIR": f"{root}/model",
        "SM_INPUT_DIR": f"{root}/input",
        "SM_INPUT_CONFIG_DIR": f"{root}/input/config",
        "SM_OUTPUT_DIR": f"{root}/output",
        "SM_OUTPUT_DATA_DIR": f"{root}/output/data",
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": _env_value(user),
        "SM_USER_ARGS": _env_value(script_arguments(decoded)),
        "SM_NUM_CPUS": str(cpus),
        "SM_NUM_GPUS": "0",
        "SM_HOSTS": '["algo-1"]',
        "SM_CURRENT_HOST": "algo-1",
        "SM_MODULE_NAME": program.removesuffix(".py"),
        "SM_MODULE_DIR": module_dir,
        "SM_LOG_LEVEL": "20",
    }
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = f"{root}/input/data/{channel}"
    for key, value in user.items():
        env[f"SM_HP_{key.upper()}"] = _env_value(value)
    return env
