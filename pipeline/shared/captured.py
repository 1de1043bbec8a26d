"""Captured requests, read back the way the endpoint read them: each capture line's input
parsed by the model's own handler (model/inference.py's input_fn and features, with the
signature of the release), its output read as the handler writes answers.

A capture line (SageMaker Developer Guide, "Capture data from real-time endpoint") holds
captureData.endpointInput / endpointOutput, each with observedContentType, mode, data and
encoding: CSV or JSON (data is the body as text) or BASE64 (the body base64-encoded).

Limits on what is read from outside: a capture object of at most MAX_OBJECT_BYTES, a line of
at most MAX_LINE_BYTES, at most MAX_REQUESTS requests in one window; beyond them the monitor
stops with a message naming the object and the way out (a narrower window).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.core import monitoring
from pipeline.errors import ConfigError, PipelineError

MAX_OBJECT_BYTES = 256 * 1024 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024  # InvokeEndpoint takes 6 MB; base64 makes it 8
MAX_REQUESTS = 2_000_000
MAX_ROWS = 5_000_000  # kept in memory, a Python value per cell: about 2 GB at 10 columns
MAX_ANSWER_ITEMS = 1_000_000  # an .npy answer's elements (a response carries at most 6 MB)
BATCH = 2000  # CSV bodies parsed in one call of the handler


class CaptureError(PipelineError):
    """A capture file that cannot be read as SageMaker writes them."""


@dataclass
class Window:
    """What one window of capture holds, column by column (signature order)."""

    names: list[str]
    columns: dict[str, list[Any]] = field(default_factory=dict)
    predictions: list[Any] = field(default_factory=list)
    requests: int = 0
    refused: int = 0
    rows: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # refusal kind -> count
    unreadable_answers: int = 0
    malformed: int = 0  # lines that are not capture records

    def __post_init__(self) -> None:
        self.columns = {name: [] for name in self.names}


def body(part: dict[str, Any]) -> bytes:
    """The body bytes of a captured endpointInput / endpointOutput."""
    data, encoding = part.get("data", ""), part.get("encoding")
    if not isinstance(data, str):
        raise CaptureError(f"captured data is a {type(data).__name__}, not a string")
    if encoding == "BASE64":
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CaptureError(f"captured BASE64 data does not decode: {exc}") from None
    if encoding in ("CSV", "JSON"):
        return data.encode("utf-8")
    raise CaptureError(
        f"captured data has encoding {encoding!r}; SageMaker writes CSV, JSON or BASE64"
    )


class Reader:
    """Parses captured lines with the release's signature through the handler."""

    def __init__(self, signature: dict[str, Any]):
        from model import inference  # the handler the artifact serves (package ships it)

        self.inference = inference
        self.signature = inference.Signature(signature)
        self.task = signature["task"]
        self.refusals = (inference.InvalidInputError, inference.UnsupportedFormatError)
        self.pending: list[bytes] = []  # CSV bodies parsed together (finish)

    def add(self, window: Window, line: bytes, where: str, start: datetime, end: datetime) -> None:
        """Count one capture line, if its inferenceTime lies in [start, end). A line that is
        not a capture record, or whose input cannot be taken out of it, is counted as
        malformed (reported, and judged as a share), never a reason to stop."""
        try:
            if len(line) > MAX_LINE_BYTES:
                raise ValueError("longer than any capture line")
            event = json.loads(line)
            capture = event["captureData"]
            request, answer = capture["endpointInput"], capture.get("endpointOutput")
            when = monitoring.inference_time(event["eventMetadata"]["inferenceTime"])
            content_type = request.get("observedContentType")
            data = body(request)
        except (ValueError, KeyError, TypeError, AttributeError, CaptureError):
            window.malformed += 1
            return
        if not start <= when < end:
            return
        window.requests += 1
        if window.requests > MAX_REQUESTS or window.rows > MAX_ROWS:
            raise ConfigError(
                f"more than {MAX_REQUESTS} captured requests or {MAX_ROWS} rows in the "
                "window; narrow it (--since/--until)"
            )
        if self._batchable(content_type, data):
            self.pending.append(data)
            if len(self.pending) >= BATCH:
                self.finish(window)
        else:
            self._one(window, data, content_type)
        if answer is not None:
            try:
                window.predictions.extend(
                    self.answers(body(answer), answer.get("observedContentType") or "")
                )
            except (ValueError, CaptureError, KeyError, IndexError, TypeError, AttributeError):
                window.unreadable_answers += 1  # its inputs still count; reported

    def _batchable(self, content_type: Any, data: bytes) -> bool:
        """A plain UTF-8 CSV body without a header or quotes: parsed with others like it
        in one call, which accepts exactly the rows each would be accepted with alone (a
        header would name the columns of every body after it; a quote could join bodies)."""
        if not isinstance(content_type, str):
            return False
        if content_type.replace(" ", "").lower() not in ("text/csv", "text/csv;charset=utf-8"):
            return False
        if b'"' in data or b"\r" in data or not data.strip():
            return False
        try:
            return self.inference._csv_header(data.lstrip(b"\n"), self.signature) is None
        except self.refusals:
            return False

    def finish(self, window: Window) -> None:
        """Parse the CSV bodies held back, together; if the batch is refused, one by one
        (so each refusal is counted as its own request's)."""
        held, self.pending = self.pending, []
        if not held:
            return
        joined = b"\n".join(part.strip(b"\n") for part in held) + b"\n"
        try:
            frame = self.inference.features(
                self.inference.Request("text/csv", joined), self.signature
            )
        except self.refusals:
            for part in held:
                self._one(window, part, "text/csv")
            return
        self._take(window, frame)

    def _one(self, window: Window, data: bytes, content_type: Any) -> None:
        try:
            parsed = self.inference.input_fn(data, content_type)
            frame = self.inference.features(parsed, self.signature)
        except self.refusals as exc:
            window.refused += 1
            kind = type(exc).__name__
            window.reasons[kind] = window.reasons.get(kind, 0) + 1
            return
        self._take(window, frame)

    def _take(self, window: Window, frame: Any) -> None:
        values = self._columns(frame)
        count = len(next(iter(values.values()))) if values else 0
        for name in window.names:
            window.columns[name].extend(values[name])
        window.rows += count

    def _columns(self, frame: Any) -> dict[str, list[Any]]:
        names = self.signature.names
        if hasattr(frame, "columns"):  # a DataFrame with the signature's columns
            return {name: frame[name].tolist() for name in names}
        return {name: frame[:, i].tolist() for i, name in enumerate(names)}

    def answers(self, data: bytes, content_type: str) -> list[Any]:
        """The predictions in a response, as the handler's output_fn renders them."""
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime == "application/json":
            document = json.loads(data)
            items = document if isinstance(document, list) else [document]
            labels = [item["label"] if isinstance(item, dict) else item for item in items]
            if self.task == "regression":  # numbers, or the answer is unreadable
                return [_number(v) for v in labels]
            return labels
        if mime == "text/csv":
            rows = csv.reader(io.StringIO(data.decode("utf-8")))
            return [float(row[0]) if self.task == "regression" else row[0] for row in rows if row]
        if mime == "application/x-npy":
            import numpy as np

            # the handler's own check first: numpy allocates what the header claims
            problem = self.inference._npy_header_problem(data)
            if problem:
                raise ValueError(problem)
            array = np.load(io.BytesIO(data), allow_pickle=False)
            if array.dtype.kind not in "biufU" or array.dtype.itemsize == 0:
                raise ValueError(f"an answer of dtype {array.dtype}")
            if array.size > MAX_ANSWER_ITEMS:
                raise ValueError(f"an answer of {array.size} values")
            if array.ndim == 2 and self.task == "classification":  # probabilities
                classes = self.signature.classes or []
                return [classes[int(i)] for i in array.argmax(axis=1)]
            values = array.reshape(-1).tolist()
            return [float(v) for v in values] if self.task == "regression" else values
        raise ValueError(f"unreadable answer type {content_type!r}")


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a regression answer {value!r}")
    return float(value)


def lines(data: bytes, where: str) -> list[bytes]:
    if len(data) > MAX_OBJECT_BYTES:
        raise ConfigError(
            f"{where} is {len(data)} bytes, more than the {MAX_OBJECT_BYTES} a capture object "
            "may have here; it is not one SageMaker wrote"
        )
    return [line for line in data.splitlines() if line.strip()]
