"""Stage 1, once per account: `bootstrap` (artifact bucket, KMS keys, SageMaker execution role)."""
