"""Data capture in the sandbox: what a RealTime endpoint with a DataCaptureConfig records of
its invocations, written to the sandbox's S3 as SageMaker writes it to S3.

Owns: reading an endpoint config's DataCaptureConfig (`CaptureConfig.from_api`), sampling,
the JSON line of one invocation, buffering, and writing the buffer through pipeline.aws.s3
every FLUSH_SECONDS and when closed. Must not: know moto (runtime_hooks.py hands the config
over) or HTTP (the gateway calls `record` once an invocation has been answered).

What SageMaker documents, and this does (SageMaker Developer Guide, "Capture data from
real-time endpoint", https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html;
API reference, DataCaptureConfig, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataCaptureConfig.html):
- objects at `<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl`, one JSON
  line per captured invocation, filed under the hour of the invocation (UTC);
- each line `{"captureData":{"endpointInput":{...},"endpointOutput":{...}},
  "eventMetadata":{"eventId":...,"inferenceTime":...},"eventVersion":"0"}`, compact, keys in
  that order, as the guide's sample; `endpointInput`/`endpointOutput` are there for the
  CaptureOptions' Input/Output modes and hold `observedContentType` (the request's
  Content-Type, the container's answer's Content-Type), `mode` (INPUT, OUTPUT), `data` and
  `encoding`; `inferenceTime` is UTC to the second (`2022-02-14T17:25:49Z`); `eventId` a
  generated UUID;
- encoding: CSV when the content type is one of CaptureContentTypeHeader's CsvContentTypes,
  JSON when one of its JsonContentTypes (data is then the body as text), else BASE64 ("If
  no headers are specified SageMaker will by default base64 encode"). The guide's sample
  captures an answer of type `text/csv; charset=utf-8` as CSV, so a type matches on its
  media type, parameters aside (case-insensitively);
- `eventMetadata.inferenceId` when, and only when, the caller passed InvokeEndpoint's
  InferenceId ("If you provide a value, it is added to the captured data", SageMaker Runtime
  API reference, InvokeEndpoint); the guide shows no sample with it, so its place (after
  eventId) is the sandbox's choice;
- InitialSamplingPercentage of the requests, drawn at random per request; EnableCapture
  false (it defaults to true) or 0 % captures nothing; KmsKeyId encrypts the objects (SSE-KMS).

Where SageMaker documents nothing, the sandbox chooses, and the README says so: only
invocations the container answered (2xx) are captured (the record has no field for a status
or an error); a request without Content-Type is recorded with an empty observedContentType
(so BASE64); a body of a CSV or JSON type that is not UTF-8 is recorded BASE64; the object's
name is `<uuid>.jsonl` (Content-Type application/jsonlines); an object that cannot be
written is logged and dropped. Delivery: SageMaker takes "a couple of minutes"; the sandbox
writes within FLUSH_SECONDS and on close, so what was captured is in S3 before the
sandbox's emulator stops (a sandbox that is killed outright loses at most the last
FLUSH_SECONDS).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.aws.errors import AwsError
from pipeline.aws.s3 import S3

FLUSH_SECONDS = 2.0
FLUSH_PATH = "/_sandbox/capture/flush"  # the gateway's route that flushes at once
FLUSH_SECONDS_ENV = "PIPELINE_SANDBOX_CAPTURE_FLUSH_SECONDS"  # tests set a long one
EVENT_VERSION = "0"
CONTENT_TYPE = "application/jsonlines"  # of the objects; SageMaker does not document its own
log = logging.getLogger("pipeline.capture")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class CaptureConfig:
    """An endpoint config's DataCaptureConfig, as the runtime uses it."""

    bucket: str
    prefix: str  # key prefix of DestinationS3Uri, without a trailing slash ("" for the root)
    sampling_percent: int
    modes: frozenset[str]  # "Input", "Output"
    csv_types: frozenset[str]
    json_types: frozenset[str]
    kms_key_id: str | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any] | None) -> CaptureConfig | None:
        """The config of CreateEndpointConfig's DataCaptureConfig (CloudFormation gives the
        same shape); None when there is none, it is disabled, or it samples 0 %."""
        if not raw:
            return None
        enabled = raw.get("EnableCapture", True)
        if isinstance(enabled, str):  # a template's "true"/"false"
            enabled = enabled.strip().lower() == "true"
        percent = int(raw.get("InitialSamplingPercentage", 0))
        if not enabled or percent <= 0:
            return None
        uri = str(raw.get("DestinationS3Uri", ""))
        scheme, _, rest = uri.partition("://")
        bucket, _, prefix = rest.partition("/")
        if scheme != "s3" or not bucket:  # (AWS also takes https:// URLs; the sandbox does not)
            log.error("DataCaptureConfig DestinationS3Uri %r is not s3://bucket/...: ignored", uri)
            return None
        modes: set[str] = set()
        for option in raw.get("CaptureOptions") or []:
            mode = option.get("CaptureMode", "")
            modes |= {"Input", "Output"} if mode == "InputAndOutput" else {mode}
        header = raw.get("CaptureContentTypeHeader") or {}
        return cls(
            bucket=bucket,
            prefix=prefix.strip("/"),
            sampling_percent=min(percent, 100),
            modes=frozenset(modes & {"Input", "Output"}),
            csv_types=frozenset(_media_type(t) for t in header.get("CsvContentTypes") or []),
            json_types=frozenset(_media_type(t) for t in header.get("JsonContentTypes") or []),
            kms_key_id=raw.get("KmsKeyId") or None,
        )

    def encode(self, body: bytes, content_type: str) -> tuple[str, str]:
        """(data, encoding) of one payload."""
        media = _media_type(content_type)
        kind = "CSV" if media in self.csv_types else "JSON" if media in self.json_types else None
        if kind is not None:
            try:
                return body.decode("utf-8"), kind
            except UnicodeDecodeError:
                pass  # not text after all: kept whole, as base64
        return base64.b64encode(body).decode("ascii"), "BASE64"


@dataclass(frozen=True)
class Invocation:
    """One answered invocation, as the gateway saw it."""

    endpoint: str
    variant: str
    request_body: bytes
    request_type: str
    response_body: bytes
    response_type: str
    inference_id: str | None = None


def capture_line(
    config: CaptureConfig, invocation: Invocation, event_id: str, when: datetime
) -> bytes:
    """The JSON line (with its newline) of one captured invocation."""
    data: dict[str, dict[str, str]] = {}
    if "Input" in config.modes:
        payload, encoding = config.encode(invocation.request_body, invocation.request_type)
        data["endpointInput"] = {
            "observedContentType": invocation.request_type,
            "mode": "INPUT",
            "data": payload,
            "encoding": encoding,
        }
    if "Output" in config.modes:
        payload, encoding = config.encode(invocation.response_body, invocation.response_type)
        data["endpointOutput"] = {
            "observedContentType": invocation.response_type,
            "mode": "OUTPUT",
            "data": payload,
            "encoding": encoding,
        }
    metadata = {"eventId": event_id}
    if invocation.inference_id is not None:
        metadata["inferenceId"] = invocation.inference_id
    metadata["inferenceTime"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = {"captureData": data, "eventMetadata": metadata, "eventVersion": EVENT_VERSION}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def hour_prefix(config: CaptureConfig, endpoint: str, variant: str, when: datetime) -> str:
    """`<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh` (the key's folder), in UTC."""
    folder = f"{endpoint}/{variant}/{when.astimezone(UTC):%Y/%m/%d/%H}"
    return f"{config.prefix}/{folder}" if config.prefix else folder


class DataCapture:
    """Samples, buffers and writes the captures of every endpoint of one sandbox.

    Effects are injected (convention 6): `s3` (called for the wrapper when a buffer is
    written), `rng` (sampling; a fresh, OS-seeded random.Random by default), `clock` (the
    invocation's time) and `new_id` (event ids and object names)."""

    def __init__(
        self,
        s3: Callable[[], S3],
        flush_seconds: float | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ):
        if flush_seconds is None:
            flush_seconds = float(os.environ.get(FLUSH_SECONDS_ENV) or FLUSH_SECONDS)
        self._s3 = s3
        self.flush_seconds = flush_seconds
        self._rng = rng or random.Random()
        self._clock = clock
        self._new_id = new_id
        self._lock = threading.Lock()  # the buffer and the rng
        self._write_lock = threading.Lock()  # one writer at a time: flushes never interleave
        # (bucket, folder, kms key) -> the lines of one object to be
        self._buffer: dict[tuple[str, str, str | None], list[bytes]] = {}
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None

    def sampled(self, config: CaptureConfig) -> bool:
        with self._lock:
            return self._rng.random() * 100 < config.sampling_percent

    def record(self, config: CaptureConfig | None, invocation: Invocation) -> bool:
        """Buffer the invocation if it is sampled; True if it was."""
        if config is None or self._closed.is_set() or not self.sampled(config):
            return False
        when = self._clock()
        line = capture_line(config, invocation, self._new_id(), when)
        group = (
            config.bucket,
            hour_prefix(config, invocation.endpoint, invocation.variant, when),
            config.kms_key_id,
        )
        with self._lock:
            self._buffer.setdefault(group, []).append(line)
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_periodically, name="data-capture", daemon=True
                )
                self._flusher.start()
        return True

    def _flush_periodically(self) -> None:
        while not self._closed.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # never let one bad write end the flushing for good
                log.exception("data capture: flush failed")

    def flush(self) -> int:
        """Write everything buffered, one object per folder (and key); the lines written."""
        with self._write_lock:
            with self._lock:
                buffer, self._buffer = self._buffer, {}
            written = 0
            for (bucket, folder, kms_key), lines in buffer.items():
                key = f"{folder}/{self._new_id()}.jsonl"
                try:
                    self._s3().put_new(
                        bucket, key, b"".join(lines), CONTENT_TYPE, kms_key_id=kms_key
                    )
                except AwsError as exc:
                    log.error(
                        "data capture: %d record(s) for s3://%s/%s not written: %s",
                        len(lines),
                        bucket,
                        key,
                        exc,
                    )
                    continue
                written += len(lines)
                log.info("data capture: %d record(s) to s3://%s/%s", len(lines), bucket, key)
            return written

    def close(self) -> int:
        """Stop sampling, stop the periodic flush and write what is left (idempotent)."""
        self._closed.set()
        flusher = self._flusher
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join()
        return self.flush()
