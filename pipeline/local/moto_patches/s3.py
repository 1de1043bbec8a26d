"""S3 corrections: what HeadObject reports for a multipart object's checksum.

Owns: `S3Response.head_object` (moto.s3.responses). Must not: change how objects or checksums
are stored (moto's CompleteMultipartUpload and GetObject already agree with AWS there), or
touch any other S3 operation.

AWS behaviour: Amazon S3 User Guide, "Checking object integrity" (composite checksums of
multipart uploads, "<base64>-<parts>"), and the API reference HeadObject
(x-amz-checksum-sha256, x-amz-checksum-type).
Upstream: getmoto/moto#8762 (multipart checksums; PR #9849 added the "-N" suffix to the
stored composite checksum); HeadObject dropping it again is not reported.
"""

from __future__ import annotations

import functools


def head_object_reports_composite_checksums() -> None:
    """AWS: HeadObject with checksum mode on a multipart object returns the composite
    checksum as "<base64>-<number of parts>" (as GetObject does) with x-amz-checksum-type
    COMPOSITE. moto's HeadObject dropped the part count, so a composite checksum could not be
    told from a full-object one (and never matched one computed the way S3 does).
    (S3 User Guide "Checking object integrity"; API reference HeadObject.)

    Replaces (wraps): moto.s3.responses.S3Response.head_object.
    Upstream: getmoto/moto#8762 covers multipart checksums (the stored value now has its
    "-N"); HeadObject's answer without it is not reported."""
    from moto.s3.responses import S3Response

    original = S3Response.head_object

    @functools.wraps(original)
    def head_object(self, bucket_name, query, key_name, headers):
        status, response_headers, body = original(self, bucket_name, query, key_name, headers)
        version_id = query.get("versionId", [None])[0]
        if status == 200 and headers.get("x-amz-checksum-mode") == "ENABLED":
            key = self.backend.head_object(bucket_name, key_name, version_id=version_id)
            if key is not None and key.checksum_algorithm and key.checksum_type == "COMPOSITE":
                name = f"x-amz-checksum-{key.checksum_algorithm.lower()}"
                response_headers[name] = f"{key.checksum_value}-{key.checksum_parts}"
                response_headers["x-amz-checksum-type"] = "COMPOSITE"
        return status, response_headers, body

    S3Response.head_object = head_object
