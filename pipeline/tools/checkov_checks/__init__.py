"""checkov policies of this project (see s3_sse_kms.py); checkov imports this directory."""
