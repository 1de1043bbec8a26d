"""Project policy for checkov (loaded with --external-checks-dir; runs inside checkov's
environment, so never import it from the pipeline).

Stock checkov passes a bucket with no BucketEncryption at all (CKV_AWS_19 counts S3's default
SSE-S3 as encrypted). This project requires SSE-KMS, so that reading an artifact also needs
the key policy's permission.
"""

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

KMS_ALGORITHMS = {"aws:kms", "aws:kms:dsse"}


class S3BucketUsesSseKms(BaseResourceCheck):
    def __init__(self):
        super().__init__(
            name="Ensure the S3 bucket encrypts by default with SSE-KMS",
            id="CKV_PIPELINE_1",
            categories=[CheckCategories.ENCRYPTION],
            supported_resources=["AWS::S3::Bucket"],
        )

    def scan_resource_conf(self, conf):
        properties = conf.get("Properties") or {}
        rules = (properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
        if not isinstance(rules, list) or not rules:
            return CheckResult.FAILED
        for rule in rules:
            default = (rule or {}).get("ServerSideEncryptionByDefault") or {}
            if default.get("SSEAlgorithm") not in KMS_ALGORITHMS:
                return CheckResult.FAILED
        return CheckResult.PASSED


check = S3BucketUsesSseKms()
