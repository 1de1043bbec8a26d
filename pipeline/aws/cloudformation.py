"""Typed wrapper over the CloudFormation calls the pipeline makes: stacks deployed through
change sets, waited on, with failures reported from the stack events."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from pipeline.aws.errors import AwsError, configuration_problem, guarded, new_client, translate
from pipeline.errors import ConfigError, PipelineError

NO_CHANGES = "didn't contain changes"


@dataclass(frozen=True)
class Change:
    logical_id: str
    resource_type: str
    action: str  # Add | Modify | Remove
    replacement: str  # True | False | Conditional | "" (not applicable)


@dataclass(frozen=True)
class ChangeSet:
    id: str
    stack: str
    kind: str  # CREATE | UPDATE
    changes: tuple[Change, ...]
    no_changes: bool


def _busy(status: str) -> bool:
    return status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS"


@guarded("cloudformation")
class CloudFormation:
    def __init__(
        self, client: BaseClient | None = None, progress: Callable[[str], None] = lambda _: None
    ) -> None:
        self._client = client or new_client("cloudformation")
        self._progress = progress

    def _call(self, fn: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        try:
            return fn(**kwargs)
        except ClientError as exc:
            if problem := configuration_problem(exc, "cloudformation"):
                raise problem from None
            error = exc.response.get("Error", {})
            raise AwsError(error.get("Message", str(exc)), error.get("Code", "")) from None

    def stack(self, name: str) -> dict[str, Any] | None:
        try:
            stack: dict[str, Any] = self._client.describe_stacks(StackName=name)["Stacks"][0]
            return stack
        except ClientError as exc:
            if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
                return None
            raise translate(exc, "cloudformation") from None

    def outputs(self, name: str) -> dict[str, str]:
        stack = self.stack(name) or {}
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def failures(self, name: str, before: Collection[str]) -> list[str]:
        """One operation's failed resources, oldest first: the *_FAILED events newer than
        every event in `before` (the stack's event ids read before the operation started).
        The stack's history holds every earlier operation's failures too; they are not this
        one's."""
        failed = []
        for event in self._events(name):  # newest first
            if event["EventId"] in before:
                break
            if event["ResourceStatus"].endswith("_FAILED"):
                failed.append(
                    f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}"
                )
        return failed[::-1]

    def live_stacks(self, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        """Stacks in these statuses, described (with parameters and times)."""
        names = []
        paginator = self._client.get_paginator("list_stacks")
        try:
            for page in paginator.paginate(StackStatusFilter=list(statuses)):
                names += [s["StackId"] for s in page["StackSummaries"]]
        except ClientError as exc:
            raise translate(exc, "cloudformation") from None
        return [stack for stack_id in names if (stack := self.stack(stack_id)) is not None]

    def status(self, name: str) -> str | None:
        stack = self.stack(name)
        return stack["StackStatus"] if stack else None

    def delete(self, name: str) -> None:
        self._call(self._client.delete_stack, StackName=name)
        self._wait("stack_delete_complete", name)

    def wait_until_settled(
        self, name: str, sleep: Callable[[float], None] = time.sleep, poll: float = 2.0
    ) -> str | None:
        """Wait while another operation on the stack is *_IN_PROGRESS; its final status."""
        last = None
        while (status := self.status(name)) and _busy(status):
            if status != last:
                self._progress(f"{name}: {status}; waiting for it to finish")
                last = status
            sleep(poll)
        return status

    def template(self, name: str) -> str | None:
        """The template the stack runs now, as it was submitted (None: no such stack)."""
        try:
            body = self._client.get_template(StackName=name, TemplateStage="Original")
        except ClientError as exc:
            if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
                return None
            raise translate(exc, "cloudformation") from None
        template = body.get("TemplateBody")
        # boto3 parses a JSON template into a dict; ours are YAML, kept as submitted
        return template if isinstance(template, str) else None

    def create_change_set(
        self,
        name: str,
        template: str,
        parameters: dict[str, str],
        kind: str,
        capabilities: tuple[str, ...] = (),
        tags: dict[str, str] | None = None,
    ) -> ChangeSet:
        """A change set (kind CREATE or UPDATE, as the plan decided) for `name` with every
        parameter given explicitly, described. A FAILED one is deleted, with the empty
        stack a CREATE made, unless it failed for having no changes."""
        created = self._call(
            self._client.create_change_set,
            StackName=name,
            TemplateBody=template,
            ChangeSetName=f"{name}-{time.strftime('%Y%m%d%H%M%S')}-{time.time_ns() % 10**6}",
            ChangeSetType=kind,
            Capabilities=list(capabilities),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )
        # FAILED makes the waiter fail; the description says why (no changes is one reason)
        with contextlib.suppress(PipelineError):
            self._wait("change_set_create_complete", name, ChangeSetName=created["Id"])
        described = self._call(self._client.describe_change_set, ChangeSetName=created["Id"])
        reason = described.get("StatusReason") or ""
        if described["Status"] == "FAILED" and NO_CHANGES not in reason:
            self._call(self._client.delete_change_set, ChangeSetName=created["Id"])
            if kind == "CREATE":
                self._call(self._client.delete_stack, StackName=name)
            raise PipelineError(f"{name}: change set failed: {reason}")
        changes = tuple(
            Change(
                c["ResourceChange"]["LogicalResourceId"],
                c["ResourceChange"]["ResourceType"],
                c["ResourceChange"]["Action"],
                c["ResourceChange"].get("Replacement", ""),
            )
            for c in described.get("Changes", [])
        )
        return ChangeSet(created["Id"], name, kind, changes, NO_CHANGES in reason)

    def discard(self, change_set: ChangeSet) -> None:
        """Delete the change set, and the empty stack a CREATE change set made."""
        self._call(self._client.delete_change_set, ChangeSetName=change_set.id)
        if change_set.kind == "CREATE" and self.status(change_set.stack) == "REVIEW_IN_PROGRESS":
            try:
                self._call(self._client.delete_stack, StackName=change_set.stack)
            except AwsError as exc:
                if exc.code != "AccessDenied":
                    raise
                # The preview role (infra/github-oidc.yaml) may not delete stacks. The empty
                # stack holds no resources, and the first deploy's change set takes it over.
                self._progress(
                    f"{change_set.stack}: left empty in REVIEW_IN_PROGRESS (this role may not "
                    "delete stacks); the first deploy takes it over"
                )
                return
            self._wait("stack_delete_complete", change_set.stack)

    def execute(
        self, change_set: ChangeSet, sleep: Callable[[float], None] = time.sleep, poll: float = 2.0
    ) -> dict[str, str]:
        """Execute and wait, reporting each new stack event; returns the Outputs."""
        name = change_set.stack
        before = frozenset(e["EventId"] for e in self._events(name))
        seen = set(before)
        self._call(self._client.execute_change_set, ChangeSetName=change_set.id)
        self._progress(f"{name}: executing the {change_set.kind.lower()} change set")
        try:
            status = self._follow(name, seen, sleep, poll)
            failed = status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
            reasons = self.failures(name, before) if failed else []
            outputs = {} if failed else self.outputs(name)
        except (BotoCoreError, ClientError, ConfigError) as exc:
            # The change set runs on without us: this is a failed stage (exit 1), not a
            # configuration error, whatever the lost connection's cause.
            problem = exc if isinstance(exc, ConfigError) else translate(exc, "cloudformation")
            raise PipelineError(
                f"stack {name}: lost track of the {change_set.kind} after executing its change "
                f"set ({problem}); the stack may still be changing: when AWS answers again, "
                f"check it (`aws cloudformation describe-stacks --stack-name {name}`) or deploy "
                "again with --wait"
            ) from None
        if failed:
            listed = "\n  - ".join(reasons) or "no resource reported a reason"
            raise PipelineError(f"stack {name} failed ({status}):\n  - {listed}")
        return outputs

    def _follow(
        self, name: str, seen: set[str], sleep: Callable[[float], None], poll: float
    ) -> str:
        """Report each new event until the stack settles; its final status."""
        while True:
            for event in reversed(self._events(name)):
                if event["EventId"] not in seen:
                    seen.add(event["EventId"])
                    reason = (
                        f" ({event['ResourceStatusReason']})"
                        if event.get("ResourceStatusReason")
                        else ""
                    )
                    self._progress(
                        f"  {event['LogicalResourceId']}: {event['ResourceStatus']}{reason}"
                    )
            status = self.status(name) or "DELETE_COMPLETE"
            if not _busy(status):
                return status
            sleep(poll)

    def _events(self, name: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self._call(
            self._client.describe_stack_events, StackName=name
        )["StackEvents"]
        return events

    def _wait(self, waiter: str, name: str, **kwargs: Any) -> None:
        try:
            self._client.get_waiter(waiter).wait(
                StackName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 900}, **kwargs
            )
        except WaiterError as exc:
            if problem := configuration_problem(exc, "cloudformation"):
                raise problem from None
            raise PipelineError(f"{name}: {waiter} failed: {exc}") from None
