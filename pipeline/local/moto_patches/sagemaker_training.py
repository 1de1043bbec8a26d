"""SageMaker corrections: training jobs run, with AWS's statuses, and can be stopped.

Owns: the hook of the local training runtime (pipeline/local/training_runtime.py) into moto's
SageMaker backend, and the training-job behaviours moto lacks. Must not: run jobs itself
(LocalTrainer does), or touch endpoints (runtime_hooks.py).

AWS behaviour (SageMaker API reference CreateTrainingJob, DescribeTrainingJob,
StopTrainingJob; "Training job statuses"): CreateTrainingJob returns at once with the job
InProgress (secondary status Starting); it then moves through Downloading, Training,
Uploading to Completed, with ModelArtifacts.S3ModelArtifacts, or to Failed with a
FailureReason. StopTrainingJob moves an InProgress job to Stopping, then Stopped; for a job
not InProgress it is a ValidationException. A second job with a name in use is
ResourceInUse. BillableTimeInSeconds is set once the job ends.
moto made every job Completed at once, with made-up metric definitions and metrics, kept a
second job under an existing name silently, had no StopTrainingJob, and dropped the
request's Environment (variables set in the training container, returned by
DescribeTrainingJob).
Upstream: not reported (moto does not run training, by design).
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from pipeline.local.training_runtime import JobSpec, LocalTrainer, now

log = logging.getLogger("pipeline.training")
# CreateTrainingJob's Environment, read by the response handler (moto drops it) and taken by
# the backend call it makes on the same thread
_request = threading.local()


class _Record:
    """The emulator's job, as LocalTrainer may change it (training_runtime.JobRecord)."""

    def __init__(self, job: Any):
        self.job = job

    def _transition(self, secondary: str, message: str) -> None:
        transitions = self.job.secondary_status_transitions
        when = now()
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1]["EndTime"] = when
        transitions.append({"Status": secondary, "StartTime": when, "StatusMessage": message})
        self.job.secondary_status = secondary
        self.job.last_modified_time = when

    def set_status(self, status: str, secondary: str, message: str) -> None:
        self.job.training_job_status = status
        if status == "InProgress" and secondary == "Downloading":
            self.job.training_start_time = now()
        self._transition(secondary, message)

    def finish(
        self, status: str, secondary: str, message: str, failure: str | None, billable_seconds: int
    ) -> None:
        self._transition(secondary, message)
        transitions = self.job.secondary_status_transitions
        transitions[-1]["EndTime"] = transitions[-1]["StartTime"]
        self.job.training_end_time = now()
        self.job.billable_time_in_seconds = billable_seconds
        if failure is not None:
            self.job.failure_reason = failure
        if status != "Completed":
            self.job.model_artifacts = None  # only a completed job has a model
        self.job.training_job_status = status


def _spec(job: Any) -> JobSpec:
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in job.input_data_config or []
    }
    return JobSpec(
        name=job.training_job_name,
        hyperparameters=dict(job.hyper_parameters or {}),
        channels=channels,
        output_path=job.output_data_config["S3OutputPath"],
        instance_type=job.resource_config.get("InstanceType", ""),
        instance_count=int(job.resource_config.get("InstanceCount", 1)),
        max_runtime_seconds=int((job.stopping_condition or {}).get("MaxRuntimeInSeconds", 86400)),
        input_data_config=list(job.input_data_config or []),
        image=(job.algorithm_specification or {}).get("TrainingImage", ""),
        environment=dict(getattr(job, "environment", None) or {}),
    )


def training_jobs_run(trainer: LocalTrainer) -> None:
    """Replaces (wraps): moto.sagemaker.models.SageMakerModelBackend.create_training_job and
    SageMakerResponse.create_training_job (for Environment); adds
    SageMakerModelBackend.stop_training_job and SageMakerResponse.stop_training_job (moto
    has neither). Hooks `trainer` in."""
    from moto.core.responses import EmptyResult
    from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
    from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    create = SageMakerModelBackend.create_training_job

    @functools.wraps(create)
    def create_training_job(self, training_job_name, *args, **kwargs):
        if training_job_name in self.training_jobs:
            arn = FakeTrainingJob.arn_formatter(
                training_job_name, self.account_id, self.region_name
            )
            raise ResourceInUseException(
                message=f"Training job names must be unique within "
                f"an AWS account and region, and a training job "
                f"with this name already exists ({arn})"
            )
        job = create(self, training_job_name, *args, **kwargs)
        environment = getattr(_request, "environment", None)
        if environment:
            job.environment = dict(environment)  # DescribeTrainingJob returns it
        # moto's made-up results: a job has no metrics until its algorithm reports some
        job.algorithm_specification.pop("MetricDefinitions", None)
        job.final_metric_data_list = None
        job.secondary_status_transitions = []
        job.training_start_time = job.training_end_time = None
        job.training_job_status = "InProgress"
        trainer.start(_spec(job), _Record(job))
        return job

    def stop_training_job(self, training_job_name: str) -> None:
        job = self.training_jobs.get(training_job_name)
        if job is None:
            arn = FakeTrainingJob.arn_formatter(
                training_job_name, self.account_id, self.region_name
            )
            raise ValidationError(message=f"Could not find training job '{arn}'.")

        def stopping() -> None:  # under the trainer's lock: the job cannot end meanwhile
            job.training_job_status = "Stopping"

        if job.training_job_status != "InProgress" or not trainer.stop(training_job_name, stopping):
            raise ValidationError(
                message=f"The request was rejected because the training job "
                f"is in status {job.training_job_status}."
            )

    respond = SageMakerResponse.create_training_job

    @functools.wraps(respond)
    def create_training_job_response(self):  # keeps the request's Environment
        _request.environment = self._get_param("Environment") or {}
        try:
            return respond(self)
        finally:
            _request.environment = None

    def stop_training_job_response(self):  # the API action StopTrainingJob
        self.sagemaker_backend.stop_training_job(self._get_param("TrainingJobName"))
        return EmptyResult()

    SageMakerModelBackend.create_training_job = create_training_job
    SageMakerResponse.create_training_job = create_training_job_response
    SageMakerModelBackend.stop_training_job = stop_training_job
    SageMakerResponse.stop_training_job = stop_training_job_response
