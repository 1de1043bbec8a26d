"""Typed wrapper over the CloudFormation calls the pipeline makes: stacks deployed through
change sets, waited on, with failures reported from the stack events."""

from __future__ import annotations

import time
from collections.abc import Callable

from botocore.exceptions import ClientError, WaiterError

from pipeline.aws.errors import AwsError, new_client
from pipeline.errors import PipelineError

NO_CHANGES = "didn't contain changes"


class CloudFormation:
    def __init__(self, client=None, progress: Callable[[str], None] = lambda _: None):
        self._client = client or new_client("cloudformation")
        self._progress = progress

    def _call(self, fn, **kwargs):
        try:
            return fn(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise AwsError(error.get("Message", str(exc)), error.get("Code", "")) from None

    def stack(self, name: str) -> dict | None:
        try:
            return self._client.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as exc:
            if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
                return None
            raise AwsError(str(exc)) from None

    def outputs(self, name: str) -> dict[str, str]:
        stack = self.stack(name) or {}
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def failures(self, name: str) -> list[str]:
        events = self._call(self._client.describe_stack_events, StackName=name)["StackEvents"]
        return [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
                for e in events if e["ResourceStatus"].endswith("_FAILED")]  # fmt: skip

    def deploy(self, name: str, template: str, parameters: dict[str, str],
               capabilities: tuple[str, ...] = ()) -> dict[str, str]:  # fmt: skip
        """Create or update `name` through a change set and wait; returns its Outputs."""
        stack = self.stack(name)
        status = stack["StackStatus"] if stack else None
        if status == "ROLLBACK_COMPLETE":
            self._progress(f"{name}: deleting the leftover failed create (ROLLBACK_COMPLETE)")
            self._call(self._client.delete_stack, StackName=name)
            self._wait("stack_delete_complete", name)
            status = None
        if status and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            raise PipelineError(f"stack {name} is {status}: another deployment is running")
        kind = "UPDATE" if status and status != "REVIEW_IN_PROGRESS" else "CREATE"
        change_set = self._call(
            self._client.create_change_set, StackName=name, TemplateBody=template,
            ChangeSetName=f"{name}-{int(time.time())}", ChangeSetType=kind,
            Capabilities=list(capabilities),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )["Id"]  # fmt: skip
        try:
            self._wait("change_set_create_complete", name, ChangeSetName=change_set)
        except PipelineError:
            described = self._call(self._client.describe_change_set, ChangeSetName=change_set)
            if NO_CHANGES in (described.get("StatusReason") or ""):
                self._call(self._client.delete_change_set, ChangeSetName=change_set)
                self._progress(f"{name}: no changes")
                return self.outputs(name)
            raise PipelineError(
                f"{name}: change set failed: {described.get('StatusReason')}"
            ) from None
        self._progress(f"{name}: executing {kind.lower()} change set")
        self._call(self._client.execute_change_set, ChangeSetName=change_set)
        try:
            self._wait(f"stack_{kind.lower()}_complete", name)
        except PipelineError:
            reasons = "\n  - ".join(self.failures(name)) or "no resource reported a reason"
            final = (self.stack(name) or {}).get("StackStatus", "gone")
            raise PipelineError(f"stack {name} failed ({final}):\n  - {reasons}") from None
        return self.outputs(name)

    def _wait(self, waiter: str, name: str, **kwargs) -> None:
        try:
            self._client.get_waiter(waiter).wait(
                StackName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 900}, **kwargs
            )
        except WaiterError as exc:
            raise PipelineError(f"{name}: {waiter} failed: {exc}") from None
