"""The sandbox's data capture (pipeline/local/capture.py) in process: the config read from
DataCaptureConfig, the JSON line of an invocation byte for byte, the key layout, sampling
with a seeded generator, and the buffer written on flush and on close. The capture through
a running sandbox is in tests/functional/test_data_capture.py."""

from __future__ import annotations

import random
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.aws.errors import AwsError
from pipeline.local.capture import CaptureConfig, DataCapture, Invocation, capture_line

API_CONFIG = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 100,
    "DestinationS3Uri": "s3://artifacts/capture/diabetes/staging",
    "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    "CaptureContentTypeHeader": {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json"],
    },
}
WHEN = datetime(2022, 2, 14, 17, 25, 49, 123456, tzinfo=UTC)
EVENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def config(**changes) -> CaptureConfig:
    found = CaptureConfig.from_api({**API_CONFIG, **changes})
    assert found is not None
    return found


def invocation(**changes) -> Invocation:
    values = {
        "endpoint": "diabetes-staging",
        "variant": "AllTraffic",
        "request_body": b"0.03,0.05\n",
        "request_type": "text/csv",
        "response_body": b"[151.0]",
        "response_type": "application/json",
    }
    return Invocation(**{**values, **changes})


def test_a_config_is_read_from_the_api_shape():
    found = config()
    assert found.bucket == "artifacts"
    assert found.prefix == "capture/diabetes/staging"
    assert found.sampling_percent == 100
    assert found.modes == {"Input", "Output"}
    assert found.csv_types == {"text/csv"} and found.json_types == {"application/json"}
    assert found.kms_key_id == API_CONFIG["KmsKeyId"]
    assert config(DestinationS3Uri="s3://artifacts/capture/").prefix == "capture"
    assert config(CaptureOptions=[{"CaptureMode": "InputAndOutput"}]).modes == {"Input", "Output"}


@pytest.mark.parametrize(
    "changes",
    [
        {"EnableCapture": False},
        {"EnableCapture": "false"},  # as a template may give it
        {"InitialSamplingPercentage": 0},
        {"DestinationS3Uri": "not-a-uri"},
    ],
)
def test_a_disabled_or_zero_percent_config_captures_nothing(changes):
    assert CaptureConfig.from_api({**API_CONFIG, **changes}) is None
    assert CaptureConfig.from_api({}) is None and CaptureConfig.from_api(None) is None


def test_enable_capture_defaults_to_enabled():
    raw = {k: v for k, v in API_CONFIG.items() if k != "EnableCapture"}
    assert CaptureConfig.from_api(raw) is not None


def test_the_line_is_the_documented_record_byte_for_byte():
    line = capture_line(config(), invocation(), EVENT, WHEN)
    assert line == (
        b'{"captureData":{'
        b'"endpointInput":{"observedContentType":"text/csv","mode":"INPUT",'
        b'"data":"0.03,0.05\\n","encoding":"CSV"},'
        b'"endpointOutput":{"observedContentType":"application/json","mode":"OUTPUT",'
        b'"data":"[151.0]","encoding":"JSON"}},'
        b'"eventMetadata":{"eventId":"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",'
        b'"inferenceTime":"2022-02-14T17:25:49Z"},'
        b'"eventVersion":"0"}\n'
    )


def test_an_inference_id_is_recorded_only_when_given():
    line = capture_line(config(), invocation(inference_id="req-7"), EVENT, WHEN)
    assert b'"eventMetadata":{"eventId":"' + EVENT.encode() + b'","inferenceId":"req-7",' in line
    assert b"inferenceId" not in capture_line(config(), invocation(), EVENT, WHEN)


def test_types_in_neither_list_are_base64_and_parameters_do_not_count():
    line = capture_line(
        config(),
        invocation(
            request_body=b"\x93NUMPY\x01\x00",
            request_type="application/x-npy",
            response_body=b"1\n",
            response_type="text/csv; charset=utf-8",
        ),
        EVENT,
        WHEN,
    )
    assert b'"observedContentType":"application/x-npy","mode":"INPUT",' in line
    assert b'"data":"k05VTVBZAQA=","encoding":"BASE64"' in line
    assert (
        b'"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT",'
        b'"data":"1\\n","encoding":"CSV"'
    ) in line
    # no CaptureContentTypeHeader: everything is base64 ("by default base64 encode")
    bare = CaptureConfig.from_api(
        {k: v for k, v in API_CONFIG.items() if k != "CaptureContentTypeHeader"}
    )
    assert b'"data":"MC4wMywwLjA1Cg==","encoding":"BASE64"' in capture_line(
        bare, invocation(), EVENT, WHEN
    )


def test_text_types_with_bytes_that_are_not_utf8_are_base64():
    line = capture_line(config(), invocation(request_body=b"\xff,1\n"), EVENT, WHEN)
    assert b'"data":"/ywxCg==","encoding":"BASE64"' in line


def test_input_only_capture_has_no_output():
    line = capture_line(
        config(CaptureOptions=[{"CaptureMode": "Input"}]), invocation(), EVENT, WHEN
    )
    assert b"endpointInput" in line and b"endpointOutput" not in line


class _S3:
    def __init__(self, fail: bool = False):
        self.objects: dict[tuple[str, str], tuple[bytes, str | None]] = {}
        self.fail = fail
        self.written = threading.Event()

    def put_new(self, bucket, key, body, content_type, kms_key_id=None):
        if self.fail:
            raise AwsError(f"s3://{bucket}/{key}: AccessDenied", "AccessDenied")
        assert (bucket, key) not in self.objects
        self.objects[(bucket, key)] = (body, kms_key_id)
        self.written.set()


def _capture(s3: _S3, times: list[datetime], seed: int = 7) -> DataCapture:
    ids = (f"00000000-0000-0000-0000-{n:012d}" for n in range(1, 10_000))
    clock = iter(times)
    return DataCapture(
        lambda: s3,
        flush_seconds=3600,  # only explicit flushes here
        rng=random.Random(seed),
        clock=lambda: next(clock),
        new_id=lambda: next(ids),
    )


def test_a_flush_writes_one_object_per_hour_folder_under_the_documented_layout():
    s3 = _S3()
    capture = _capture(s3, [WHEN, WHEN + timedelta(seconds=1), WHEN + timedelta(hours=1)])
    for _ in range(3):
        assert capture.record(config(), invocation())
    assert s3.objects == {}  # buffered until a flush
    assert capture.flush() == 3
    keys = sorted(key for _, key in s3.objects)
    assert keys == [
        "capture/diabetes/staging/diabetes-staging/AllTraffic/2022/02/14/17/"
        "00000000-0000-0000-0000-000000000004.jsonl",
        "capture/diabetes/staging/diabetes-staging/AllTraffic/2022/02/14/18/"
        "00000000-0000-0000-0000-000000000005.jsonl",
    ]
    first, key_id = s3.objects[("artifacts", keys[0])]
    assert key_id == API_CONFIG["KmsKeyId"]
    assert first.count(b"\n") == 2 and first.endswith(b"\n")
    assert re.findall(rb'"inferenceTime":"([^"]+)"', first) == [
        b"2022-02-14T17:25:49Z",
        b"2022-02-14T17:25:50Z",
    ]
    assert capture.flush() == 0  # nothing twice


def test_sampling_takes_about_the_percentage_and_zero_takes_none():
    s3 = _S3()
    capture = _capture(s3, [WHEN] * 1000)
    taken = sum(
        capture.record(config(InitialSamplingPercentage=30), invocation()) for _ in range(1000)
    )
    assert 250 <= taken <= 350  # seeded: the same count every run
    assert capture.flush() == taken
    assert not capture.record(None, invocation())  # a config of 0 % is no config


def test_the_same_seed_samples_the_same_requests():
    def picks(seed):
        capture = _capture(_S3(), [WHEN] * 50, seed=seed)
        return [
            capture.record(config(InitialSamplingPercentage=50), invocation()) for _ in range(50)
        ]

    assert picks(1) == picks(1) and picks(1) != picks(2)


def test_close_writes_what_is_buffered_and_captures_nothing_after():
    s3 = _S3()
    capture = DataCapture(lambda: s3, flush_seconds=3600)
    capture.record(config(), invocation())
    assert capture.close() == 1 and len(s3.objects) == 1
    assert not capture.record(config(), invocation())
    assert capture.close() == 0


def test_the_periodic_flush_writes_without_being_asked():
    s3 = _S3()
    capture = DataCapture(lambda: s3, flush_seconds=0.01)
    capture.record(config(), invocation())
    assert s3.written.wait(5)  # by the flusher thread: nobody called flush or close
    assert len(s3.objects) == 1
    capture.close()


def test_an_object_that_cannot_be_written_is_logged_and_dropped(caplog):
    capture = _capture(_S3(fail=True), [WHEN])
    capture.record(config(), invocation())
    assert capture.flush() == 0
    assert "1 record(s) for s3://artifacts/capture/diabetes/staging/" in caplog.text
    assert "AccessDenied" in caplog.text
    assert capture.flush() == 0  # dropped, not retried forever
