"""sagemaker-cfn-pipeline: a scikit-learn model from training to a SageMaker endpoint."""
