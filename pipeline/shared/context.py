"""The one context every stage runs with: settings, the AWS wrappers, a UI, the clock.

After aws/chalice's `UI`: stages never print. They report progress, show tables (previews,
plans) and ask for confirmation through `ctx.ui`; the CLI supplies a terminal UI
(pipeline.cli.ui), tests and unattended callers `QuietUI`. Effects are injected with
production defaults (`sleep`), so tests never sleep.

Must not import pipeline.cli or any stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.aws.cloudformation import CloudFormation
    from pipeline.aws.kms import Kms
    from pipeline.aws.logs import Logs
    from pipeline.aws.s3 import S3
    from pipeline.aws.sagemaker import SageMaker


class UI(Protocol):
    """What a stage may show or ask. `can_confirm` says whether an approval can be given at
    all (a flag such as --approve, or a person at a terminal): a protected environment is
    refused before any AWS call when it cannot."""

    can_confirm: bool

    def progress(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def table(
        self, title: str, header: Sequence[str], rows: Sequence[Sequence[object]]
    ) -> None: ...

    def confirm(self, question: str) -> bool: ...


class QuietUI:
    """A UI for tests and unattended runs: progress is kept (or passed to `on_progress`),
    tables are kept, and the approval is the one given (None: none can be given)."""

    def __init__(
        self, approve: bool | None = None, on_progress: Callable[[str], None] | None = None
    ):
        self.approve = approve
        self.can_confirm = approve is not None
        self.on_progress = on_progress
        self.messages: list[str] = []
        self.warnings: list[str] = []
        self.tables: list[tuple[str, list[str], list[list[str]]]] = []
        self.questions: list[str] = []

    def progress(self, message: str) -> None:
        self.messages.append(message)
        if self.on_progress:
            self.on_progress(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.tables.append((title, list(header), [[str(c) for c in row] for row in rows]))

    def confirm(self, question: str) -> bool:
        self.questions.append(question)
        return bool(self.approve)


@dataclass
class Context:
    settings: Settings
    ui: UI = field(default_factory=QuietUI)
    sleep: Callable[[float], None] = time.sleep
    # what one command reads once and uses many times (pipeline.shared.account: the
    # bootstrap stack); a step that changes what is cached drops its entry
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # The wrappers (and boto3 with them, half a second) are imported on first use: every
    # command builds a Context, and `serve` or `image-uri` never reach AWS.
    @cached_property
    def cfn(self) -> CloudFormation:
        from pipeline.aws.cloudformation import CloudFormation

        return CloudFormation(progress=self.ui.progress)

    @cached_property
    def s3(self) -> S3:
        from pipeline.aws.s3 import S3

        return S3()

    @cached_property
    def kms(self) -> Kms:
        from pipeline.aws.kms import Kms

        return Kms()

    @cached_property
    def sagemaker(self) -> SageMaker:
        from pipeline.aws.sagemaker import SageMaker

        return SageMaker()

    @cached_property
    def logs(self) -> Logs:
        from pipeline.aws.logs import Logs

        return Logs()


class Preapproved:
    """Another UI's progress and tables, with every confirmation answered yes: for callers
    that stand in for an approval given elsewhere (deploy-local's prod step, where GitHub's
    required reviewers would approve)."""

    can_confirm = True

    def __init__(self, ui: UI):
        self.ui = ui

    def progress(self, message: str) -> None:
        self.ui.progress(message)

    def warn(self, message: str) -> None:
        self.ui.warn(message)

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.ui.table(title, header, rows)

    def confirm(self, question: str) -> bool:
        self.ui.progress(f"{question} approved (pre-approved)")
        return True
