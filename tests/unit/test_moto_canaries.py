"""Canaries: each emulator correction's AWS behaviour, asserted against UNPATCHED moto.

Every test here runs moto as released (in this process, with `moto.mock_aws()`; nothing here
applies pipeline/local/moto_patches, which only the sandbox's own process does) and asserts
what AWS documents. moto 5.2.5 gets each of these wrong, so each is a strict xfail. The day
a moto release gets one right, its test passes, the strict xfail fails the run, and the
reason says which correction to delete (then delete the canary too, and keep the behaviour
test in tests/functional/test_moto_patches.py).
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
from pathlib import Path

import boto3
import pytest

moto = pytest.importorskip("moto", reason="moto is the `local` extra")

from pipeline.local import moto_patches  # noqa: E402  (constants only: applies nothing)

FIXTURES = Path(__file__).parents[1] / "fixtures"
REGION = "us-east-1"
ACCOUNT = "123456789012"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-execution"
NO_CHANGES = (
    "The submitted information didn't contain changes. "
    "Submit different information to create a change set."
)
# The corrections that are steps of another (cloudformation_execution composes them) and
# have a canary of their own, in place of the composition itself.
STEPS = {
    "cloudformation_execution.execute_change_set_as_aws": (
        "cloudformation_changesets.outputs_after_change_sets",
        "cloudformation_changesets.tags_after_change_sets",
        "cloudformation_rollback.roll_back",
        "cloudformation_execution.stack_operations_take_time",
    ),
}


def canary(correction: str, bug: str):
    """Strict xfail naming the moto bug and the correction to delete when moto is fixed."""
    return pytest.mark.xfail(
        strict=True,
        reason=f"moto {bug}; remove pipeline/local/moto_patches/{correction} when this passes",
    )


@pytest.fixture(autouse=True)
def unpatched_moto(monkeypatch):
    """moto as released, in-process, reached by no sandbox variable left by other tests."""
    from moto.core.common_models import CloudFormationModel

    loaded = [m for m in sys.modules if m.startswith("pipeline.local.moto_patches.")]
    assert not moto_patches.applied() and not loaded, f"moto is patched here: {loaded}"
    ours = [c for c in CloudFormationModel.__subclasses__() if c.__module__.startswith("pipeline")]
    assert not ours, f"resource models of moto_patches are registered here: {ours}"
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with moto.mock_aws():
        yield


def client(service: str):
    return boto3.client(service, region_name=REGION)


def stack_status(cfn, stack: str) -> str:
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def outputs(cfn, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def execute(cfn, stack: str, kind: str, template: str, parameters=(), name="cs") -> dict:
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateBody=template,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters],
    )
    cfn.execute_change_set(ChangeSetName=created["Id"])
    return created


QUEUE = """
Parameters:
  Timeout: {Type: Number, Default: 30}
Resources:
  Queue: {Type: AWS::SQS::Queue, Properties: {VisibilityTimeout: !Ref Timeout}}
Outputs:
  QueueUrl: {Value: !Ref Queue}
"""

SAGEMAKER = """
Parameters:
  ModelData: {Type: String}
Resources:
  Model:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: ROLE_ARN
      PrimaryContainer: {Image: IMAGE_URI, ModelDataUrl: !Ref ModelData}
  EndpointConfig:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants:
        - {ModelName: !GetAtt Model.ModelName, VariantName: AllTraffic,
           InitialInstanceCount: 1, InstanceType: ml.m5.large, InitialVariantWeight: 1.0}
  Endpoint:
    Type: AWS::SageMaker::Endpoint
    Properties:
      EndpointConfigName: !GetAtt EndpointConfig.EndpointConfigName
""".replace("ROLE_ARN", ROLE).replace("IMAGE_URI", IMAGE)


# -- CloudFormation: change sets -------------------------------------------------------------


@canary(
    "cloudformation_changesets.outputs_after_change_sets",
    "keeps the Outputs of the stack as before ExecuteChangeSet",
)
def test_a_stack_created_by_a_change_set_has_the_templates_outputs():
    cfn = client("cloudformation")
    execute(cfn, "created", "CREATE", QUEUE)
    assert stack_status(cfn, "created") == "CREATE_COMPLETE"
    assert set(outputs(cfn, "created")) == {"QueueUrl"}


@canary(
    "cloudformation_changesets.tags_after_change_sets",
    "keeps the tags a stack had before an UPDATE change set",
)
def test_an_update_change_set_gives_the_stack_its_tags():
    cfn = client("cloudformation")

    def tagged(name: str, kind: str, template: str, digest: str) -> None:
        created = cfn.create_change_set(
            StackName="tagged",
            ChangeSetName=name,
            ChangeSetType=kind,
            TemplateBody=template,
            Tags=[{"Key": "model-digest", "Value": digest}],
        )
        cfn.execute_change_set(ChangeSetName=created["Id"])

    tagged("one", "CREATE", QUEUE, "a")
    tagged(
        "two",
        "UPDATE",
        QUEUE.replace("Outputs:", "  Other: {Type: AWS::SQS::Queue}\nOutputs:"),
        "b",
    )
    tags = cfn.describe_stacks(StackName="tagged")["Stacks"][0]["Tags"]
    assert tags == [{"Key": "model-digest", "Value": "b"}]


TOPIC = """
Parameters:
  Name: {Type: String}
Resources:
  Topic: {Type: AWS::SNS::Topic, Properties: {TopicName: !Ref Name}}
"""


@canary(
    "cloudformation_changesets.no_op_change_set_fails",
    "rejects a no-op CreateChangeSet with parameters ('No updates are to be performed')",
)
def test_a_change_set_without_changes_is_created_and_failed():
    cfn = client("cloudformation")
    same = [{"ParameterKey": "Name", "ParameterValue": "same"}]
    cfn.create_stack(StackName="same", TemplateBody=TOPIC, Parameters=same)
    created = cfn.create_change_set(
        StackName="same",
        ChangeSetName="nothing",
        ChangeSetType="UPDATE",
        TemplateBody=TOPIC,
        Parameters=same,
    )
    described = cfn.describe_change_set(ChangeSetName=created["Id"])
    assert (described["Status"], described["ExecutionStatus"]) == ("FAILED", "UNAVAILABLE")
    assert described["StatusReason"] == NO_CHANGES


@canary(
    "cloudformation_changesets.parameter_changes_in_change_sets",
    "lists no Changes for a change set that changes only parameter values",
)
def test_a_parameter_only_change_set_lists_the_resources_using_the_parameter():
    cfn = client("cloudformation")
    cfn.create_stack(StackName="params", TemplateBody=QUEUE)
    created = cfn.create_change_set(
        StackName="params",
        ChangeSetName="longer",
        ChangeSetType="UPDATE",
        TemplateBody=QUEUE,
        Parameters=[{"ParameterKey": "Timeout", "ParameterValue": "60"}],
    )
    changes = cfn.describe_change_set(ChangeSetName=created["Id"])["Changes"]
    listed = [
        (c["ResourceChange"]["LogicalResourceId"], c["ResourceChange"]["Action"]) for c in changes
    ]
    assert listed == [("Queue", "Modify")]
    assert changes[0]["ResourceChange"].get("Replacement") in ("True", "False", "Conditional")


@canary(
    "cloudformation_changesets.replaced_resources_update_their_dependents",
    "leaves an EndpointConfig naming a Model the update replaced",
)
def test_an_update_replacing_the_model_moves_the_endpoint_config_to_the_new_model():
    cfn, sagemaker = client("cloudformation"), client("sagemaker")
    cfn.create_stack(
        StackName="replace",
        TemplateBody=SAGEMAKER,
        Parameters=[{"ParameterKey": "ModelData", "ParameterValue": "s3://b/a"}],
    )
    cfn.update_stack(
        StackName="replace",
        TemplateBody=SAGEMAKER,
        Parameters=[{"ParameterKey": "ModelData", "ParameterValue": "s3://b/b"}],
    )
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="replace")["StackResources"]
    }
    model = sagemaker.describe_model(ModelName=resources["Model"].rsplit("/", 1)[-1])
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://b/b"
    endpoint = sagemaker.describe_endpoint(EndpointName=resources["Endpoint"].rsplit("/", 1)[-1])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == model["ModelName"]


# -- CloudFormation: execution, events, rollback ------------------------------------------------


@canary(
    "cloudformation_execution.stack_operations_take_time",
    "completes a stack operation within the ExecuteChangeSet call",
)
def test_execute_change_set_returns_while_the_stack_is_in_progress():
    cfn = client("cloudformation")
    execute(cfn, "slow", "CREATE", QUEUE)
    assert stack_status(cfn, "slow") == "CREATE_IN_PROGRESS"


@canary("cloudformation_events.resources_log_their_events", "logs stack-level events only")
def test_each_created_resource_logs_its_own_events():
    cfn = client("cloudformation")
    cfn.create_stack(StackName="events", TemplateBody=QUEUE)
    listed = cfn.describe_stack_events(StackName="events")["StackEvents"]
    queue = [e["ResourceStatus"] for e in reversed(listed) if e["LogicalResourceId"] == "Queue"]
    assert queue == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]


FAILING_QUEUE = QUEUE.replace("!Ref Timeout", "soon")


@canary(
    "cloudformation_rollback.failing_resources_roll_back",
    "lets a failing resource's error escape CreateStack, leaving no rollback",
)
def test_a_failing_create_stack_returns_and_rolls_back():
    cfn = client("cloudformation")
    cfn.create_stack(StackName="bad", TemplateBody=FAILING_QUEUE)
    assert stack_status(cfn, "bad") == "ROLLBACK_COMPLETE"
    listed = cfn.describe_stack_events(StackName="bad")["StackEvents"]
    assert [e["LogicalResourceId"] for e in listed if e["ResourceStatus"] == "CREATE_FAILED"] == [
        "Queue"
    ]


@canary(
    "cloudformation_rollback.roll_back",
    "lets a failing resource's error escape ExecuteChangeSet, leaving the stack in progress",
)
def test_a_failing_update_change_set_rolls_the_stack_back():
    cfn = client("cloudformation")
    cfn.create_stack(StackName="bad-update", TemplateBody=QUEUE)
    execute(cfn, "bad-update", "UPDATE", FAILING_QUEUE)
    assert stack_status(cfn, "bad-update") == "UPDATE_ROLLBACK_COMPLETE"


# -- CloudFormation: resource types and templates ------------------------------------------


@canary(
    "cloudformation_resources.alarms_and_autoscaling_in_stacks",
    "has no CloudFormation model for AWS::CloudWatch::Alarm (nor Application Auto Scaling)",
)
# moto warns that it skips the type; the assertions below say what AWS does instead
@pytest.mark.filterwarnings("ignore:Tried to parse AWS.* not supported by moto:UserWarning")
def test_an_alarm_in_a_stack_exists_and_resolves_in_outputs():
    cfn = client("cloudformation")
    template = (FIXTURES / "templates" / "alarm_only.yaml").read_text()
    cfn.create_stack(StackName="alarm", TemplateBody=template)
    alarms = client("cloudwatch").describe_alarms(AlarmNames=["alarm-alarm"])["MetricAlarms"]
    assert [a["MetricName"] for a in alarms] == ["Invocation5XXErrors"]
    assert outputs(cfn, "alarm") == {"AlarmName": "alarm-alarm"}


@canary(
    "cloudformation_templates.condition_references_in_conditions",
    "reads `!Not [!Condition X]` as true whatever X is",
)
def test_a_negated_condition_reference_leaves_the_resource_out():
    cfn = client("cloudformation")
    template = """
Parameters:
  Serverless: {Type: String}
Conditions:
  IsServerless: !Equals [!Ref Serverless, "yes"]
  IsRealTime: !Not [!Condition IsServerless]
Resources:
  Queue: {Type: AWS::SQS::Queue, Condition: IsRealTime}
  Topic: {Type: AWS::SNS::Topic}
"""
    cfn.create_stack(
        StackName="cond",
        TemplateBody=template,
        Parameters=[{"ParameterKey": "Serverless", "ParameterValue": "yes"}],
    )
    assert stack_status(cfn, "cond") == "CREATE_COMPLETE"
    assert client("sqs").list_queues().get("QueueUrls", []) == []  # IsRealTime is false


@canary(
    "cloudformation_templates.number_parameters_compared_as_strings",
    "compares a Number parameter, made a Python number, with a string: never equal",
)
def test_a_number_parameter_equals_its_digits_in_a_condition():
    cfn = client("cloudformation")
    template = """
Parameters:
  Percent: {Type: Number, MinValue: 0, MaxValue: 100}
Conditions:
  Off: !Equals [!Ref Percent, "0"]
Resources:
  Topic: {Type: AWS::SNS::Topic}
Outputs:
  Capture: {Value: !If [Off, "off", "on"]}
"""
    cfn.create_stack(
        StackName="number",
        TemplateBody=template,
        Parameters=[{"ParameterKey": "Percent", "ParameterValue": "0"}],
    )
    assert outputs(cfn, "number") == {"Capture": "off"}


@canary(
    "cloudformation_templates.list_parameters_reported_as_given",
    "reports a CommaDelimitedList parameter as a Python list's repr",
)
def test_a_list_parameter_is_described_as_the_string_given():
    cfn = client("cloudformation")
    template = """
Parameters:
  Ids: {Type: CommaDelimitedList}
Resources:
  Topic: {Type: AWS::SNS::Topic}
"""
    cfn.create_stack(
        StackName="lists",
        TemplateBody=template,
        Parameters=[{"ParameterKey": "Ids", "ParameterValue": "111,222"}],
    )
    listed = cfn.describe_stacks(StackName="lists")["Stacks"][0]["Parameters"]
    assert listed == [{"ParameterKey": "Ids", "ParameterValue": "111,222"}]


# -- SageMaker ----------------------------------------------------------------------------------


@canary(
    "sagemaker.sagemaker_stack_properties_kept",
    "ignores the name properties of SageMaker resources and drops DeploymentConfig",
)
def test_sagemaker_resources_keep_the_names_their_template_gives():
    cfn, sagemaker = client("cloudformation"), client("sagemaker")
    template = SAGEMAKER.replace(
        "    Properties:\n      ExecutionRoleArn",
        "    Properties:\n      ModelName: given\n      ExecutionRoleArn",
    )
    cfn.create_stack(
        StackName="named",
        TemplateBody=template,
        Parameters=[{"ParameterKey": "ModelData", "ParameterValue": "s3://b/a"}],
    )
    assert sagemaker.describe_model(ModelName="given")["ModelName"] == "given"


@canary(
    "sagemaker.data_capture_described_as_aws",
    "returns the config's DataCaptureConfig from DescribeEndpoint, without CaptureStatus and "
    "CurrentSamplingPercentage",
)
def test_describe_endpoint_summarises_the_data_capture():
    sagemaker = client("sagemaker")
    sagemaker.create_model(
        ModelName="m",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/a"},
    )
    variant = {
        "ModelName": "m",
        "VariantName": "AllTraffic",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[variant],
        DataCaptureConfig={
            "InitialSamplingPercentage": 20,
            "DestinationS3Uri": "s3://b/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
    summary = sagemaker.describe_endpoint(EndpointName="e")["DataCaptureConfig"]
    assert summary == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 20,
        "DestinationS3Uri": "s3://b/capture",
    }


@canary("runtime_hooks.install", "makes an endpoint InService at once, with nothing serving it")
def test_a_new_endpoint_is_creating_until_its_containers_pass_the_ping_check():
    sagemaker = client("sagemaker")
    sagemaker.create_model(
        ModelName="m",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://b/a"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {
                "ModelName": "m",
                "VariantName": "AllTraffic",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
    assert sagemaker.describe_endpoint(EndpointName="e")["EndpointStatus"] == "Creating"


# -- KMS ------------------------------------------------------------------------------------


KEY = """
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {AWS: "arn:aws:iam::123456789012:root"}, Action: "kms:*",
             Resource: "*"}
"""


@canary(
    "kms.kms_key_tags_from_templates",
    "fails to create an AWS::KMS::Key with Tags (KeyError 'TagKey')",
)
def test_a_template_key_with_tags_is_created_with_them():
    cfn, kms = client("cloudformation"), client("kms")
    template = KEY + "      Tags: [{Key: project, Value: diabetes}]\n"
    cfn.create_stack(StackName="tagged", TemplateBody=template)
    key = cfn.describe_stack_resources(StackName="tagged")["StackResources"][0]
    tags = kms.list_resource_tags(KeyId=key["PhysicalResourceId"])["Tags"]
    assert tags == [{"TagKey": "project", "TagValue": "diabetes"}]


@canary(
    "kms.kms_keys_updated_in_place_from_templates",
    "has no CloudFormation update for AWS::KMS::Key: an updated key leaves the stack",
)
def test_a_template_key_is_updated_in_place():
    cfn, kms = client("cloudformation"), client("kms")
    # the policy as a JSON string: moto keeps a mapping as is and DescribeKey then fails
    # (kms_key_spec_and_usage_from_templates), which is not what this canary is about
    policy = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": '
        '{"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}'
    )
    template = f"""
Parameters:
  Purpose: {{Type: String}}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: !Ref Purpose
      KeyPolicy: '{policy}'
Outputs:
  KeyArn: {{Value: !GetAtt Key.Arn}}
"""
    given = [{"ParameterKey": "Purpose", "ParameterValue": "first"}]
    cfn.create_stack(StackName="updated", TemplateBody=template, Parameters=given)
    arn = outputs(cfn, "updated")["KeyArn"]
    given = [{"ParameterKey": "Purpose", "ParameterValue": "second"}]
    cfn.update_stack(StackName="updated", TemplateBody=template, Parameters=given)
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["Description"] == "second"
    assert outputs(cfn, "updated")["KeyArn"] == arn


@canary(
    "kms.kms_key_spec_and_usage_from_templates",
    "makes every template key SYMMETRIC_DEFAULT/ENCRYPT_DECRYPT, its KeyPolicy a mapping",
)
def test_a_template_signing_key_has_its_key_spec_and_usage():
    cfn, kms = client("cloudformation"), client("kms")
    template = KEY.replace(
        "KeyPolicy:\n", "KeySpec: ECC_NIST_P256\n      KeyUsage: SIGN_VERIFY\n      KeyPolicy:\n"
    )
    cfn.create_stack(StackName="signing", TemplateBody=template)
    key = cfn.describe_stack_resources(StackName="signing")["StackResources"][0]
    metadata = kms.describe_key(KeyId=key["PhysicalResourceId"])["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")


# -- S3 -------------------------------------------------------------------------------------


@canary(
    "s3.head_object_reports_composite_checksums",
    "drops the part count from HeadObject's composite checksum",
)
def test_head_object_reports_a_composite_checksum_with_its_part_count():
    s3 = client("s3")
    s3.create_bucket(Bucket="canary")
    parts = [b"a" * (5 * 1024 * 1024), b"tail"]
    upload = s3.create_multipart_upload(Bucket="canary", Key="k", ChecksumAlgorithm="SHA256")
    done = []
    for number, body in enumerate(parts, start=1):
        answer = s3.upload_part(
            Bucket="canary",
            Key="k",
            Body=body,
            PartNumber=number,
            UploadId=upload["UploadId"],
            ChecksumAlgorithm="SHA256",
        )
        done.append(
            {
                "PartNumber": number,
                "ETag": answer["ETag"],
                "ChecksumSHA256": answer["ChecksumSHA256"],
            }
        )
    s3.complete_multipart_upload(
        Bucket="canary", Key="k", UploadId=upload["UploadId"], MultipartUpload={"Parts": done}
    )
    digest = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    expected = f"{base64.b64encode(digest).decode()}-{len(parts)}"  # S3 User Guide's composite
    head = s3.head_object(Bucket="canary", Key="k", ChecksumMode="ENABLED")
    assert (head["ChecksumSHA256"], head["ChecksumType"]) == (expected, "COMPOSITE")


# -- SageMaker: training jobs ------------------------------------------------------------------


@canary(
    "sagemaker_training.training_jobs_run",
    "makes every training job Completed at once, with made-up metrics, and has no StopTrainingJob",
)
def test_a_new_training_job_is_in_progress_and_can_be_stopped():
    sagemaker = client("sagemaker")
    sagemaker.create_training_job(
        TrainingJobName="canary",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://bucket/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    job = sagemaker.describe_training_job(TrainingJobName="canary")
    assert job["TrainingJobStatus"] == "InProgress"
    sagemaker.stop_training_job(TrainingJobName="canary")


# -- SageMaker: model registry -----------------------------------------------------------------

REGISTERED = {"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"}]}


@canary(
    "sagemaker_registry.model_package_groups_as_aws",
    "replaces a model package group created again under its name, and has no "
    "DeleteModelPackageGroup",
)
def test_a_group_name_is_taken_once_and_a_group_with_versions_is_not_deleted():
    sagemaker = client("sagemaker")
    arn = sagemaker.create_model_package_group(ModelPackageGroupName="canary")[
        "ModelPackageGroupArn"
    ]
    with pytest.raises(sagemaker.exceptions.ClientError, match="already exists"):
        sagemaker.create_model_package_group(ModelPackageGroupName="canary")
    described = sagemaker.describe_model_package_group(ModelPackageGroupName=arn)
    assert described["ModelPackageGroupName"] == "canary"
    sagemaker.create_model_package(
        ModelPackageGroupName="canary", InferenceSpecification=REGISTERED
    )
    with pytest.raises(sagemaker.exceptions.ConflictException):
        sagemaker.delete_model_package_group(ModelPackageGroupName="canary")
    sagemaker.create_model_package_group(ModelPackageGroupName="empty")
    sagemaker.delete_model_package_group(ModelPackageGroupName="empty")
    assert [
        g["ModelPackageGroupName"]
        for g in sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    ] == ["canary"]


@canary(
    "sagemaker_registry.model_package_versions_as_aws",
    "numbers a version by the count of the group's versions, takes a group's name for its "
    "latest version, refuses <group>/<version>, and has no DeleteModelPackage",
)
def test_versions_are_never_renumbered_and_are_named_group_slash_version():
    sagemaker = client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="canary")

    def register() -> int:
        arn = sagemaker.create_model_package(
            ModelPackageGroupName="canary", InferenceSpecification=REGISTERED
        )["ModelPackageArn"]
        return sagemaker.describe_model_package(ModelPackageName=arn)["ModelPackageVersion"]

    assert [register(), register()] == [1, 2]
    assert sagemaker.describe_model_package(ModelPackageName="canary/1")["ModelPackageVersion"] == 1
    with pytest.raises(sagemaker.exceptions.ClientError, match="not found"):
        sagemaker.describe_model_package(ModelPackageName="canary")
    sagemaker.delete_model_package(ModelPackageName="canary/2")
    assert register() == 3


@canary(
    "sagemaker_registry.model_package_updates_as_aws",
    "clears ApprovalDescription and CustomerMetadataProperties an UpdateModelPackage does not "
    "give, and takes any approval transition",
)
def test_an_update_changes_only_what_it_gives_and_only_valid_transitions():
    sagemaker = client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="canary")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="canary",
        InferenceSpecification=REGISTERED,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"commit": "abc"},
    )["ModelPackageArn"]
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="gate passed"
    )
    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"run": "7"})
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ApprovalDescription"] == "gate passed"
    assert described["CustomerMetadataProperties"] == {"commit": "abc", "run": "7"}
    with pytest.raises(sagemaker.exceptions.ClientError, match="PendingManualApproval"):
        sagemaker.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus="PendingManualApproval"
        )


@canary(
    "sagemaker_registry.model_package_group_policies_as_aws",
    "has no PutModelPackageGroupPolicy, GetModelPackageGroupPolicy or "
    "DeleteModelPackageGroupPolicy",
)
def test_a_group_keeps_the_resource_policy_put_on_it():
    sagemaker = client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="canary")
    policy = '{"Version": "2012-10-17", "Statement": []}'
    sagemaker.put_model_package_group_policy(ModelPackageGroupName="canary", ResourcePolicy=policy)
    answer = sagemaker.get_model_package_group_policy(ModelPackageGroupName="canary")
    assert answer["ResourcePolicy"] == policy


# -- the set of canaries ----------------------------------------------------------------------


def test_every_correction_has_a_canary():
    """A correction added to moto_patches without a canary here fails this test."""
    source = Path(__file__).read_text()
    named = set(re.findall(r'@canary\(\s*"([\w.]+)"', source))
    expected = set()
    for correction in moto_patches.CORRECTIONS:
        expected |= set(STEPS.get(correction, (correction,)))
    assert named == expected
