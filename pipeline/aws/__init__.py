"""The only code that imports boto3: one small typed wrapper per AWS service.

Clients come from the standard boto3 configuration, so AWS_ENDPOINT_URL* and the usual
credential chain decide where calls go: real AWS, or the embedded sandbox.
"""
