"""The emulator patch set: corrections that make moto behave as AWS documents, and the hook of
the local SageMaker runtime into it.

moto differs from AWS in ways the pipeline depends on (DESIGN.md, "Local sandbox: known
facts"). Each difference is corrected by one function in the module of its behaviour area;
its docstring names the AWS behaviour (with the AWS page it comes from), the moto function(s)
it replaces and the upstream status. `apply()` installs them all, in the order of
CORRECTIONS, in the sandbox's own process (`pipeline sandbox up`); nothing else imports the
modules of this package. Templates in infra/ never work around these gaps.

Each correction has a test of the AWS behaviour against the running sandbox
(tests/functional/test_moto_patches.py) and a strict-xfail canary against unpatched moto
(tests/unit/test_moto_canaries.py): when moto fixes a behaviour, its canary passes, the
strict xfail turns the run red, and the correction is to be deleted.

The corrections patch moto internals, so they are written against one exact moto version
(PINNED_MOTO_VERSION); a test fails when the installed version differs. moto itself is an
optional dependency (the `local` extra): this module imports it only inside functions, so
the package can be imported, and `require_moto()` give its one-line error, without it.

Must not: be applied in a test process (canaries need moto as it is), or hold corrections
itself.
"""

from __future__ import annotations

import importlib

from pipeline.errors import ConfigError

PINNED_MOTO_VERSION = "5.2.5"
INSTALL_HINT = "pip install 'sagemaker-cfn-pipeline[local]' (or run it as `tox -e deploy-local`)"

# Every correction, "<module>.<function>", in the order apply() installs them. Order matters
# where two wrap the same moto function: the later one wraps the earlier.
CORRECTIONS = (
    "cloudformation_changesets.no_op_change_set_fails",
    "cloudformation_changesets.parameter_changes_in_change_sets",
    "cloudformation_changesets.replaced_resources_update_their_dependents",
    # wraps parse_and_create/update_resource first: the rollback's annotation goes around it
    "cloudformation_events.resources_log_their_events",
    "cloudformation_rollback.failing_resources_roll_back",
    # the one replacement of execute_change_set: delay, snapshot, execute, roll back or
    # take the change set's Outputs and Tags (cloudformation_changesets.outputs_after_change_sets,
    # tags_after_change_sets)
    "cloudformation_execution.execute_change_set_as_aws",
    "cloudformation_resources.alarms_and_autoscaling_in_stacks",
    "cloudformation_templates.condition_references_in_conditions",
    "cloudformation_templates.number_parameters_compared_as_strings",  # wraps the one above
    "cloudformation_templates.list_parameters_reported_as_given",
    "sagemaker.sagemaker_stack_properties_kept",
    "sagemaker.data_capture_described_as_aws",
    "kms.kms_key_tags_from_templates",
    "kms.kms_key_spec_and_usage_from_templates",  # wraps the tags correction
    "kms.kms_keys_updated_in_place_from_templates",
    "s3.head_object_reports_composite_checksums",
    "runtime_hooks.install",  # wraps sagemaker_stack_properties_kept's endpoint create
    "sagemaker_training.training_jobs_run",
    "sagemaker_registry.model_package_groups_as_aws",
    "sagemaker_registry.model_package_versions_as_aws",
    "sagemaker_registry.model_package_updates_as_aws",
    # after model_package_groups_as_aws: wraps its DeleteModelPackageGroup
    "sagemaker_registry.model_package_group_policies_as_aws",
)

_applied = False


def applied() -> bool:
    """True once apply() has run in this process."""
    return _applied


def require_moto() -> None:
    """Refuse, in one line naming the fix, to start a sandbox where moto is not installed.
    Looked up, not imported: the sandbox's own process imports it (a client that starts a
    sandbox does not pay the 0.4 s)."""
    import importlib.util

    try:
        for name in ("moto", "werkzeug"):
            if importlib.util.find_spec(name) is None:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the local sandbox needs the AWS emulator moto (not installed: {exc.name}); "
            f"install it with {INSTALL_HINT}"
        ) from None


def apply(runtime=None, stack_delay_seconds: float = 0.0, trainer=None) -> None:
    """Install every correction of CORRECTIONS, in order (once per process). `runtime` is the
    LocalRuntime endpoints are served by (None: endpoints do not serve), `trainer` the
    LocalTrainer training jobs run on (None: they do not run); a positive
    `stack_delay_seconds` keeps stacks *_IN_PROGRESS that long after ExecuteChangeSet.
    Refuses an emulator the corrections were not written for."""
    global _applied
    if _applied:
        return
    require_moto()
    import moto

    if moto.__version__ != PINNED_MOTO_VERSION:
        raise ConfigError(
            f"moto {moto.__version__} is installed but pipeline/local/moto_patches was written "
            f"for {PINNED_MOTO_VERSION}; install moto=={PINNED_MOTO_VERSION}"
        )
    arguments = {
        "cloudformation_execution.execute_change_set_as_aws": (stack_delay_seconds,),
        "runtime_hooks.install": (runtime,),
        "sagemaker_training.training_jobs_run": (trainer,),
    }
    for name in CORRECTIONS:
        if name == "runtime_hooks.install" and runtime is None:
            continue
        if name == "sagemaker_training.training_jobs_run" and trainer is None:
            continue
        module, function = name.split(".")
        correction = getattr(importlib.import_module(f"{__name__}.{module}"), function)
        correction(*arguments.get(name, ()))
    _applied = True
