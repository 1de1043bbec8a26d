"""Typed pipeline errors. Every message says what failed, where, and what to do next.

Only `pipeline.cli.main` catches these broadly and maps them to exit codes:
1 for a stage that ran and failed, 2 for bad usage or configuration (nothing was changed).
Any other exception reaching it is a bug: exit INTERNAL_ERROR (3), with its traceback.
"""

INTERNAL_ERROR = 3


class PipelineError(Exception):
    """A stage failed. Exit code 1."""

    exit_code = 1


class ConfigError(PipelineError):
    """Bad input, configuration or environment; detected before anything was changed. Exit 2."""

    exit_code = 2


class QualityGateFailed(PipelineError):
    """The trained model missed at least one quality-gate threshold."""


class DriftDetected(PipelineError):
    """`pipeline monitor` found a threshold breached (exit 1: the alert; nothing is wrong
    with the command)."""


class TrainingFailed(PipelineError):
    """The training script (on this machine or in a SageMaker training job) failed or wrote
    no model."""


class VersionMismatch(ConfigError):
    """The training environment's packages would not load in the serving image."""


class StackBusy(PipelineError):
    """Another operation is in progress on the stack (exit 1: nothing was changed, and
    waiting for it, `--wait`, is the fix)."""
