"""pipeline.aws.s3 against botocore's Stubber: reads, heads, conditional writes, the
multipart upload (and its abort), bucket creation, key listing across pages, and the
translation of S3's answers into NotFound, AlreadyExists, AwsError and ConfigError."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.stub import ANY

from pipeline.aws.errors import AwsConfigError, AwsError, NotFound
from pipeline.aws.s3 import S3, AlreadyExists, ObjectInfo, parse_uri
from pipeline.errors import ConfigError
from tests.unit.aws_stubs import body, stubbed

BUCKET, KEY = "artifacts", "models/diabetes/abc/model.tar.gz"
WHERE = {"Bucket": BUCKET, "Key": KEY}


@pytest.mark.parametrize("uri", ["s3://bucket", "s3://bucket/", "https://bucket/key", "key"])
def test_parse_uri_without_bucket_and_key_is_refused(uri):
    with pytest.raises(ValueError, match="not an s3://bucket/key URI"):
        parse_uri(uri)


def test_parse_uri_splits_bucket_and_key():
    assert parse_uri("s3://bucket/data/train.csv") == ("bucket", "data/train.csv")


def test_read_returns_the_body():
    with stubbed("s3") as (client, stub):
        stub.add_response("get_object", {"Body": body(b"{}")}, WHERE)
        assert S3(client).read(BUCKET, KEY) == b"{}"


def test_read_missing_key_is_not_found():
    with stubbed("s3") as (client, stub):
        stub.add_client_error("get_object", "NoSuchKey", "The specified key does not exist.", 404)
        with pytest.raises(NotFound, match=f"s3://{BUCKET}/{KEY}: NoSuchKey") as raised:
            S3(client).read(BUCKET, KEY)
    assert raised.value.code == "NoSuchKey"


def test_sha256_streams_the_object_in_chunks():
    data = b"x" * 10_000
    with stubbed("s3") as (client, stub):
        stub.add_response("get_object", {"Body": body(data)}, WHERE)
        assert S3(client).sha256(BUCKET, KEY, chunk=4096) == hashlib.sha256(data).hexdigest()


def test_head_returns_size_checksum_and_version():
    with stubbed("s3") as (client, stub):
        stub.add_response(
            "head_object",
            {"ContentLength": 42, "ChecksumSHA256": "c2hh", "VersionId": "v1"},
            {**WHERE, "ChecksumMode": "ENABLED"},
        )
        assert S3(client).head(BUCKET, KEY) == ObjectInfo(42, "c2hh", "v1")


def test_head_missing_object_is_none():
    with stubbed("s3") as (client, stub):
        stub.add_client_error("head_object", "404", "Not Found", 404)
        assert S3(client).head(BUCKET, KEY) is None


def test_probe_missing_object_is_a_config_error_naming_the_setting():
    with stubbed("s3") as (client, stub):
        stub.add_client_error("head_object", "404", "Not Found", 404)
        with pytest.raises(ConfigError, match=r"^\[data\] path: s3://b/k does not exist$"):
            S3(client).probe("s3://b/k", "[data] path")


def test_probe_other_failure_is_a_config_error_with_the_code():
    with stubbed("s3") as (client, stub):
        stub.add_client_error("head_object", "InternalError", "We encountered an error", 500)
        with pytest.raises(ConfigError, match=r"s3://b/k cannot be read \(InternalError\)"):
            S3(client).probe("s3://b/k", "[data] path")


def test_probe_existing_object_returns_its_info():
    with stubbed("s3") as (client, stub):
        stub.add_response("head_object", {"ContentLength": 7})
        assert S3(client).probe("s3://b/k", "[data] path") == ObjectInfo(7, None, None)


def checksum(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_upload_parts_sends_each_part_then_completes_only_if_absent():
    parts, sent = [b"a" * 10, b"b" * 5], []
    upload = {**WHERE, "UploadId": "u1"}
    with stubbed("s3") as (client, stub):
        stub.add_response(
            "create_multipart_upload", {"UploadId": "u1"}, {**WHERE, "ChecksumAlgorithm": "SHA256"}
        )
        for number, part in enumerate(parts, start=1):
            stub.add_response(
                "upload_part",
                {"ETag": f'"e{number}"', "ChecksumSHA256": checksum(part)},
                {**upload, "PartNumber": number, "Body": part, "ChecksumAlgorithm": "SHA256"},
            )
        stub.add_response(
            "complete_multipart_upload",
            {},
            {
                **upload,
                "IfNoneMatch": "*",
                "MultipartUpload": {
                    "Parts": [
                        {"PartNumber": n, "ETag": f'"e{n}"', "ChecksumSHA256": checksum(p)}
                        for n, p in enumerate(parts, start=1)
                    ]
                },
            },
        )
        S3(client).upload_parts(BUCKET, KEY, parts, sent.append)
    assert sent == [10, 5]


def test_upload_parts_key_written_meanwhile_is_already_exists_and_aborts():
    with stubbed("s3") as (client, stub):
        stub.add_response("create_multipart_upload", {"UploadId": "u1"})
        stub.add_response("upload_part", {"ETag": '"e1"', "ChecksumSHA256": checksum(b"a")})
        stub.add_client_error(
            "complete_multipart_upload",
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
            412,
        )
        stub.add_response("abort_multipart_upload", {}, {**WHERE, "UploadId": "u1"})
        with pytest.raises(AlreadyExists) as raised:
            S3(client).upload_parts(BUCKET, KEY, [b"a"])
    assert raised.value.code == "PreconditionFailed"


def test_upload_parts_failing_part_aborts_even_if_the_abort_fails():
    def parts():
        yield b"a"
        raise OSError("disk read failed")

    with stubbed("s3") as (client, stub):
        stub.add_response("create_multipart_upload", {"UploadId": "u1"})
        stub.add_response("upload_part", {"ETag": '"e1"', "ChecksumSHA256": checksum(b"a")})
        stub.add_client_error(
            "abort_multipart_upload",
            "InternalError",
            "try again",
            500,
            expected_params={**WHERE, "UploadId": "u1"},
        )
        with pytest.raises(OSError, match="disk read failed"):
            S3(client).upload_parts(BUCKET, KEY, parts())


def test_put_new_existing_key_is_already_exists():
    with stubbed("s3") as (client, stub):
        stub.add_client_error(
            "put_object",
            "PreconditionFailed",
            "pre-condition failed",
            412,
            expected_params={
                **WHERE,
                "Body": b"{}",
                "IfNoneMatch": "*",
                "ContentType": "application/json",
                "ChecksumAlgorithm": "SHA256",
            },
        )
        with pytest.raises(AlreadyExists, match=f"s3://{BUCKET}/{KEY}: PreconditionFailed"):
            S3(client).put_new(BUCKET, KEY, b"{}", "application/json")


def test_put_new_access_denied_is_a_config_error():
    with stubbed("s3") as (client, stub):
        stub.add_client_error("put_object", "AccessDenied", "Access Denied", 403)
        with pytest.raises(AwsConfigError, match="access denied to s3:PutObject") as raised:
            S3(client).put_new(BUCKET, KEY, b"{}", "application/json")
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(("version", "params"), [("v1", {"VersionId": "v1"}), (None, {})])
def test_delete_version_names_the_version_only_when_given(version, params):
    with stubbed("s3") as (client, stub):
        stub.add_response("delete_object", {}, {**WHERE, **params})
        S3(client).delete_version(BUCKET, KEY, version)


def test_ensure_bucket_existing_is_left_alone():
    with stubbed("s3") as (client, stub):
        stub.add_response("head_bucket", {}, {"Bucket": BUCKET})
        assert S3(client).ensure_bucket(BUCKET, "eu-west-1") is False


@pytest.mark.parametrize(
    ("region", "location"),
    [
        ("us-east-1", {}),
        ("eu-west-1", {"CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}),
    ],
)
def test_ensure_bucket_missing_is_created_private(region, location):
    with stubbed("s3", region) as (client, stub):
        stub.add_client_error("head_bucket", "404", "Not Found", 404)
        stub.add_response("create_bucket", {}, {"Bucket": BUCKET, **location})
        stub.add_response(
            "put_public_access_block",
            {},
            {
                "Bucket": BUCKET,
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            },
        )
        assert S3(client).ensure_bucket(BUCKET, region) is True


def test_ensure_bucket_owned_by_another_account_is_an_error():
    with stubbed("s3") as (client, stub):
        stub.add_client_error("head_bucket", "403", "Forbidden", 403)
        with pytest.raises(AwsError, match=r"HeadBucket failed \(403\)"):
            S3(client).ensure_bucket(BUCKET, "us-east-1")


def test_keys_follow_every_page():
    with stubbed("s3") as (client, stub):
        stub.add_response(
            "list_objects_v2",
            {
                "Contents": [{"Key": "releases/dev/1.json"}],
                "IsTruncated": True,
                "NextContinuationToken": "t2",
            },
            {"Bucket": BUCKET, "Prefix": "releases/dev/"},
        )
        stub.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": "releases/dev/2.json"}], "IsTruncated": False},
            {"Bucket": BUCKET, "Prefix": "releases/dev/", "ContinuationToken": "t2"},
        )
        keys = S3(client).keys(BUCKET, "releases/dev/")
    assert keys == ["releases/dev/1.json", "releases/dev/2.json"]


def test_keys_under_an_empty_prefix_are_none():
    with stubbed("s3") as (client, stub):
        stub.add_response("list_objects_v2", {"KeyCount": 0, "IsTruncated": False})
        assert S3(client).keys(BUCKET, "releases/prod/") == []


def test_keys_of_a_missing_bucket_is_not_found():
    with stubbed("s3") as (client, stub):
        stub.add_client_error(
            "list_objects_v2",
            "NoSuchBucket",
            "no such bucket",
            404,
            expected_params={"Bucket": BUCKET, "Prefix": ANY},
        )
        with pytest.raises(NotFound, match=f"s3://{BUCKET}/releases/: NoSuchBucket"):
            S3(client).keys(BUCKET, "releases/")


def test_put_new_with_a_kms_key_asks_for_sse_kms_with_that_key():
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/k"
    with stubbed("s3") as (client, stub):
        stub.add_response(
            "put_object",
            {},
            {
                **WHERE,
                "Body": b"{}\n",
                "IfNoneMatch": "*",
                "ContentType": "application/jsonlines",
                "ChecksumAlgorithm": "SHA256",
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": key_arn,
            },
        )
        S3(client).put_new(BUCKET, KEY, b"{}\n", "application/jsonlines", kms_key_id=key_arn)
