"""SageMaker corrections: the Model Registry's model package groups and versions, as AWS
documents them.

Owns: model package groups (CreateModelPackageGroup, DescribeModelPackageGroup,
DeleteModelPackageGroup), model package versions (CreateModelPackage, DescribeModelPackage,
DeleteModelPackage), UpdateModelPackage and the groups' resource policies
(Put/Get/DeleteModelPackageGroupPolicy) in moto's SageMaker backend. Must not: touch
models, endpoints or training jobs (sagemaker.py, runtime_hooks.py, sagemaker_training.py),
or change what moto's ListModelPackages / ListModelPackageGroups already do as AWS documents
(filters on ModelApprovalStatus and NameContains, SortBy Name / CreationTime, SortOrder,
MaxResults / NextToken: tests/functional/test_model_registry_sandbox.py holds them to it).

AWS behaviour (SageMaker API Reference: CreateModelPackageGroup, DescribeModelPackageGroup,
DeleteModelPackageGroup, CreateModelPackage, DescribeModelPackage, DeleteModelPackage,
UpdateModelPackage; Developer Guide: "Model Registry Models, Model Versions, and Model
Groups", "Update the Approval Status of a Model"):
- a group's versions are numbered 1, 2, 3, ...: "a numerical value that starts at 1 and is
  incremented with each new model package added to a Model Group";
- a group is named by its name or its ARN wherever a ModelPackageGroupName is taken (pattern
  `(arn:...:[a-z\\-]*\\/)?<name>`); one name is one group (its ARN is made of it);
- a model package is named by its ARN, by `<group>/<version>` (DescribeModelPackage's and
  DeleteModelPackage's VersionedArnOrName pattern ends in `(\\/[0-9]{1,9})?`), or, for an
  unversioned package, by its name;
- DeleteModelPackage deletes a package; DeleteModelPackageGroup deletes a group, its one
  documented error being ConflictException. That a group still holding versions is refused
  is not written in AWS's pages: it is how AWS is seen to behave (AWS's own examples and
  clients, such as the SageMaker Python SDK's integration tests, delete the versions first),
  and a conflict is what it is;
- UpdateModelPackage changes what it is given; the valid approval transitions are
  PendingManualApproval to Approved or Rejected, Rejected to Approved and Approved to
  Rejected ("Only valid transitions are shown").
moto did: replace a group silently when its name was created again (its tags with it);
number a version len(group's versions) + 1 (a number could come back); take no group ARN
in CreateModelPackage and DescribeModelPackageGroup; answer DescribeModelPackage for a
group's bare name with its latest version and refuse `<group>/<version>`; have neither
DeleteModelPackage nor DeleteModelPackageGroup; on UpdateModelPackage, set
ApprovalDescription and CustomerMetadataProperties to None when not given, drop
AdditionalInferenceSpecifications when none were added, fail (AttributeError, an internal
error) on CustomerMetadataPropertiesToRemove for a package without properties, and take any
approval transition.
Upstream: not reported (no moto issue or pull request found for any of these).
"""

from __future__ import annotations

import functools
import re
from typing import Any

# "<group>/<version>", the versioned form of VersionedArnOrName (API Reference,
# DescribeModelPackage / DeleteModelPackage, request parameter ModelPackageName)
_VERSIONED_NAME = re.compile(r"^([a-zA-Z0-9](?:[a-zA-Z0-9-]){0,62})/([0-9]{1,9})$")
# the transitions "Update the Approval Status of a Model" lists as valid; a status set to
# itself is no transition
_TRANSITIONS = {
    "PendingManualApproval": {"Approved", "Rejected"},
    "Rejected": {"Approved"},
    "Approved": {"Rejected"},
}


def _group_name(identifier: str) -> str:
    """The group a ModelPackageGroupName names: its name, or the last part of its ARN."""
    if identifier.startswith("arn:"):
        return identifier.rsplit("/", 1)[-1]
    return identifier


def _versions(backend: Any, group: str) -> list[Any]:
    return [
        p
        for p in backend.model_packages.values()
        if p.model_package_type == "Versioned" and p.model_package_group_name == group
    ]


def _find_package(backend: Any, identifier: str) -> Any | None:
    """The model package an ARN, `<group>/<version>` or unversioned name names, or None.
    A group's bare name names no model package (moto took it for the group's latest
    version)."""
    if identifier.startswith("arn:"):
        return backend.model_packages.get(identifier)
    versioned = _VERSIONED_NAME.match(identifier)
    if versioned:
        group, version = versioned.group(1), int(versioned.group(2))
        return next(
            (p for p in _versions(backend, group) if p.model_package_version == version), None
        )
    return next(
        (
            p
            for p in backend.model_packages.values()
            if p.model_package_type == "Unversioned" and p.model_package_name == identifier
        ),
        None,
    )


def model_package_groups_as_aws() -> None:
    """Replaces: moto.sagemaker.models.SageMakerModelBackend.create_model_package_group (a
    name in use is a ValidationException, "Model Package Group already exists: <arn>": AWS's
    pages document no error for it, this is the answer AWS is seen to give, the one client
    code matches on) and
    .describe_model_package_group (a group ARN is taken); adds
    SageMakerModelBackend.delete_model_package_group and
    SageMakerResponse.delete_model_package_group (moto has neither): an unknown group is
    moto's DescribeModelPackageGroup ValidationException, a group still holding versions a
    ConflictException (DeleteModelPackageGroup's one documented error; its text is not
    documented), and nothing else is refused.
    AWS pages: API Reference CreateModelPackageGroup, DescribeModelPackageGroup,
    DeleteModelPackageGroup (ModelPackageGroupName: ArnOrName)."""
    from moto.core.responses import EmptyResult
    from moto.sagemaker.exceptions import ConflictException, ValidationError
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemaker.utils import arn_formatter

    create = SageMakerModelBackend.create_model_package_group
    describe = SageMakerModelBackend.describe_model_package_group

    @functools.wraps(create)
    def create_model_package_group(self, model_package_group_name, *args, **kwargs):
        existing = self.model_package_groups.get(model_package_group_name)
        if existing is not None:
            raise ValidationError(message=f"Model Package Group already exists: {existing.arn}")
        arn = create(self, model_package_group_name, *args, **kwargs)
        self.model_package_groups[model_package_group_name].latest_version = 0
        return arn

    @functools.wraps(describe)
    def describe_model_package_group(self, model_package_group_name):
        return describe(self, _group_name(model_package_group_name))

    def delete_model_package_group(self, model_package_group_name: str) -> None:
        name = _group_name(model_package_group_name)
        if name not in self.model_package_groups:
            arn = arn_formatter("model-package-group", name, self.account_id, self.region_name)
            raise ValidationError(message=f"ModelPackageGroup {arn} does not exist.")
        versions = _versions(self, name)
        if versions:
            raise ConflictException(
                f"Model Package Group {name} cannot be deleted: it still has "
                f"{len(versions)} model package version(s); delete them first"
            )
        del self.model_package_groups[name]

    def delete_model_package_group_response(self):  # the API action DeleteModelPackageGroup
        self.sagemaker_backend.delete_model_package_group(self._get_param("ModelPackageGroupName"))
        return EmptyResult()

    SageMakerModelBackend.create_model_package_group = create_model_package_group
    SageMakerModelBackend.describe_model_package_group = describe_model_package_group
    SageMakerModelBackend.delete_model_package_group = delete_model_package_group
    SageMakerResponse.delete_model_package_group = delete_model_package_group_response


def model_package_versions_as_aws() -> None:
    """Replaces: moto.sagemaker.models.SageMakerModelBackend.create_model_package (a group's
    next version is one more than the highest it ever gave, so a deleted version's number
    never comes back; a group ARN is taken; moto's errors otherwise, word for word) and
    .describe_model_package (an ARN, `<group>/<version>` or an unversioned package's name;
    a group's bare name is not found, as no model package has it: AWS does not document
    how it answers one, and moto's "latest version" is found nowhere in its pages); adds
    SageMakerModelBackend.delete_model_package and SageMakerResponse.delete_model_package
    (moto has neither), naming the package as DescribeModelPackage does; an unknown one is
    the ValidationException DescribeModelPackage gives (AWS does not document this error).
    AWS pages: Developer Guide "Model Registry Models, Model Versions, and Model Groups";
    API Reference CreateModelPackage (ModelPackageGroupName: ArnOrName),
    DescribeModelPackage and DeleteModelPackage (ModelPackageName: VersionedArnOrName)."""
    from moto.core.responses import EmptyResult
    from moto.sagemaker.exceptions import AWSValidationException, ValidationError
    from moto.sagemaker.models import ModelPackage, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    def create_model_package(
        self,
        model_package_name,
        model_package_group_name,
        model_package_description,
        inference_specification,
        validation_specification,
        source_algorithm_specification,
        certify_for_marketplace,
        tags,
        model_approval_status,
        metadata_properties,
        model_metrics,
        client_token,
        customer_metadata_properties,
        drift_check_baselines,
        domain,
        task,
        sample_payload_url,
        additional_inference_specifications,
    ) -> str:
        version = None
        if model_package_group_name and model_package_name:
            raise AWSValidationException(
                "An error occurred (ValidationException) when calling the CreateModelPackage "
                "operation: Both ModelPackageName and ModelPackageGroupName are provided in "
                "the input. Cannot determine which one to use."
            )
        if not model_package_group_name and not model_package_name:
            raise AWSValidationException(
                "An error ocurred (ValidationException) when calling the CreateModelPackag "
                "operation: Missing ARN."
            )
        if model_package_group_name:
            kind = "Versioned"
            model_package_group_name = _group_name(model_package_group_name)
            model_package_name = model_package_group_name
            group = self.model_package_groups.get(model_package_group_name)
            if group is None:
                raise AWSValidationException(
                    "An error ocurred (ValidationException) when calling the "
                    "CreateModelPackage operation: Model Package Group does not exist."
                )
            latest = getattr(group, "latest_version", None)
            if latest is None:  # a group made before these corrections
                numbers = [
                    p.model_package_version for p in _versions(self, model_package_group_name)
                ]
                latest = max(numbers, default=0)
            version = group.latest_version = latest + 1
        else:
            kind = "Unversioned"
        package = ModelPackage(
            model_package_name=model_package_name,
            model_package_group_name=model_package_group_name,
            model_package_description=model_package_description,
            inference_specification=inference_specification,
            validation_specification=validation_specification,
            source_algorithm_specification=source_algorithm_specification,
            certify_for_marketplace=certify_for_marketplace,
            tags=tags,
            model_approval_status=model_approval_status,
            metadata_properties=metadata_properties,
            model_metrics=model_metrics,
            customer_metadata_properties=customer_metadata_properties,
            drift_check_baselines=drift_check_baselines,
            domain=domain,
            task=task,
            sample_payload_url=sample_payload_url,
            additional_inference_specifications=additional_inference_specifications,
            model_package_version=version,
            approval_description=None,
            region_name=self.region_name,
            account_id=self.account_id,
            client_token=client_token,
            model_package_type=kind,
        )
        self.model_packages[package.arn] = package
        return package.arn

    def describe_model_package(self, model_package_name: str) -> Any:
        package = _find_package(self, model_package_name)
        if package is None:
            raise ValidationError(message=f"Model package {model_package_name} not found")
        return package

    def delete_model_package(self, model_package_name: str) -> None:
        package = describe_model_package(self, model_package_name)
        del self.model_packages[package.arn]
        mapping = self.model_package_name_mapping
        for key in [k for k, arn in mapping.items() if arn == package.arn]:
            del mapping[key]

    def delete_model_package_response(self):  # the API action DeleteModelPackage
        self.sagemaker_backend.delete_model_package(self._get_param("ModelPackageName"))
        return EmptyResult()

    SageMakerModelBackend.create_model_package = create_model_package
    SageMakerModelBackend.describe_model_package = describe_model_package
    SageMakerModelBackend.delete_model_package = delete_model_package
    SageMakerResponse.delete_model_package = delete_model_package_response


def model_package_updates_as_aws() -> None:
    """Replaces: moto.sagemaker.models.SageMakerModelBackend.update_model_package.
    UpdateModelPackage changes only what its request gives: ApprovalDescription,
    CustomerMetadataProperties and AdditionalInferenceSpecifications stay as they are when
    not given (moto set the first two to None and dropped the third). The given
    CustomerMetadataProperties join the package's (a key given again takes the new value)
    and CustomerMetadataPropertiesToRemove then removes its keys: AWS does not say whether
    the given map replaces the package's, and a list of keys to remove would have no use if
    it did. ModelApprovalStatus may move only as "Update the Approval Status of a Model"
    lists (PendingManualApproval to Approved or Rejected, Rejected to Approved, Approved to
    Rejected; setting the status it has changes nothing): back to PendingManualApproval is a
    ValidationException (its text is not documented). Refusing there is the safe side: a
    script the sandbox takes and AWS refuses would pass locally and fail in the account. The
    package is named as DescribeModelPackage names it (model_package_versions_as_aws), and
    nothing changes unless the whole request is valid.
    AWS pages: API Reference UpdateModelPackage; Developer Guide "Update the Approval Status
    of a Model"."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.utils import validate_model_approval_status

    def update_model_package(
        self,
        model_package_arn,
        model_approval_status,
        approval_description,
        customer_metadata_properties,
        customer_metadata_properties_to_remove,
        additional_inference_specifications_to_add,
    ) -> str:
        package = _find_package(self, model_package_arn)
        if package is None:
            raise ValidationError(message=f"Model package {model_package_arn} not found")
        current = package.model_approval_status
        if model_approval_status is not None:
            validate_model_approval_status(model_approval_status)
            allowed = _TRANSITIONS.get(current, set(_TRANSITIONS))
            if model_approval_status != current and model_approval_status not in allowed:
                raise ValidationError(
                    message=f"ModelApprovalStatus of {package.arn} cannot change from "
                    f"{current} to {model_approval_status}"
                )
        if additional_inference_specifications_to_add:
            package.validate_additional_inference_specifications(
                additional_inference_specifications_to_add
            )
            package.add_additional_inference_specifications(
                additional_inference_specifications_to_add
            )
        if model_approval_status is not None:
            package.set_model_approval_status(model_approval_status)
        if approval_description is not None:
            package.approval_description = approval_description
        if customer_metadata_properties or customer_metadata_properties_to_remove:
            properties = dict(package.customer_metadata_properties or {})
            properties.update(customer_metadata_properties or {})
            for key in customer_metadata_properties_to_remove or ():
                properties.pop(key, None)
            package.customer_metadata_properties = properties or None
        package.modifications_done()
        return package.arn

    SageMakerModelBackend.update_model_package = update_model_package


def model_package_group_policies_as_aws() -> None:
    """Adds: PutModelPackageGroupPolicy, GetModelPackageGroupPolicy and
    DeleteModelPackageGroupPolicy (moto has none of them: botocore knows the operations, the
    sandbox answered them with an error). A group holds at most one resource policy, kept as
    the string it was given (GetModelPackageGroupPolicy answers that string; it is up to
    20,480 characters and must be a JSON policy document); Put replaces it and answers the
    group's ARN. A group is named by its name or ARN, as elsewhere; deleting the group
    deletes its policy.
    Errors: the API Reference names only the common errors for Get and Delete, and
    ConflictException for Put. What AWS answers for a missing group or a group without a
    policy is observed behaviour, not documented: ValidationException "Cannot find Model
    Package Group" / "Cannot find resource policy" (the messages the Terraform AWS
    provider's FindModelPackageGroupPolicyByName matches to mean "not found").
    AWS pages: API Reference PutModelPackageGroupPolicy, GetModelPackageGroupPolicy,
    DeleteModelPackageGroupPolicy; Developer Guide "Cross-account discoverability"."""
    import json

    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    def _policies(backend: Any) -> dict[str, str]:
        if not hasattr(backend, "_group_policies"):
            backend._group_policies = {}
        return backend._group_policies  # type: ignore[no-any-return]

    def _group(backend: Any, identifier: str) -> Any:
        group = backend.model_package_groups.get(_group_name(identifier))
        if group is None:
            raise ValidationError(message=f"Cannot find Model Package Group {identifier}")
        return group

    def put_model_package_group_policy(self, name: str, policy: str) -> str:
        group = _group(self, name)
        if not 1 <= len(policy) <= 20480:
            raise ValidationError(
                message="ResourcePolicy must be between 1 and 20480 characters long"
            )
        try:
            document = json.loads(policy)
        except ValueError:
            document = None
        if not isinstance(document, dict) or "Statement" not in document:
            raise ValidationError(message="ResourcePolicy is not a valid policy document")
        _policies(self)[group.model_package_group_name] = policy
        return str(group.arn)

    def get_model_package_group_policy(self, name: str) -> str:
        group = _group(self, name)
        policy = _policies(self).get(group.model_package_group_name)
        if policy is None:
            raise ValidationError(message=f"Cannot find resource policy for {group.arn}")
        return policy

    def delete_model_package_group_policy(self, name: str) -> None:
        group = _group(self, name)
        if _policies(self).pop(group.model_package_group_name, None) is None:
            raise ValidationError(message=f"Cannot find resource policy for {group.arn}")

    delete_group = SageMakerModelBackend.delete_model_package_group

    def delete_model_package_group(self, model_package_group_name: str) -> None:
        delete_group(self, model_package_group_name)
        _policies(self).pop(_group_name(model_package_group_name), None)

    def put_response(self):  # the API action PutModelPackageGroupPolicy
        arn = self.sagemaker_backend.put_model_package_group_policy(
            self._get_param("ModelPackageGroupName"), self._get_param("ResourcePolicy")
        )
        return json.dumps({"ModelPackageGroupArn": arn})

    def get_response(self):  # the API action GetModelPackageGroupPolicy
        policy = self.sagemaker_backend.get_model_package_group_policy(
            self._get_param("ModelPackageGroupName")
        )
        return json.dumps({"ResourcePolicy": policy})

    def delete_response(self):  # the API action DeleteModelPackageGroupPolicy
        self.sagemaker_backend.delete_model_package_group_policy(
            self._get_param("ModelPackageGroupName")
        )
        return "{}"

    SageMakerModelBackend.put_model_package_group_policy = put_model_package_group_policy
    SageMakerModelBackend.get_model_package_group_policy = get_model_package_group_policy
    SageMakerModelBackend.delete_model_package_group_policy = delete_model_package_group_policy
    SageMakerModelBackend.delete_model_package_group = delete_model_package_group
    SageMakerResponse.put_model_package_group_policy = put_response
    SageMakerResponse.get_model_package_group_policy = get_response
    SageMakerResponse.delete_model_package_group_policy = delete_response
