"""KMS corrections: keys created and updated by CloudFormation templates (AWS::KMS::Key).

Owns: `Key.create_from_cloudformation_json` (moto.kms.models), wrapped twice in apply()'s
order: tags first, then key spec/usage/policy around it; `Key.update_from_cloudformation_json`
(and `parsing.parse_and_update_resource` for keys whose Condition is false). Must not:
change KMS API calls (CreateKey, Sign, Verify...) made directly, which moto already answers
as AWS does.

AWS behaviour: CloudFormation template reference, AWS::KMS::Key
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html):
KeySpec, KeyUsage, KeyPolicy (a JSON object) and Tags ([{Key, Value}]); Description,
EnableKeyRotation, Enabled, KeyPolicy and Tags update in place.
Upstream: not reported (localstack/localstack#4560 is the same KeyUsage gap in another
emulator).
"""

from __future__ import annotations

import functools
import json


def kms_key_tags_from_templates() -> None:
    """AWS: AWS::KMS::Key takes Tags as [{Key, Value}], like every other resource type.
    moto passed them to its KMS tagger, which expects the KMS API's {TagKey, TagValue}, so
    a tagged key failed to create with KeyError 'TagKey'. (Template reference AWS::KMS::Key,
    Tags.)

    Replaces (wraps): moto.kms.models.Key.create_from_cloudformation_json.
    Upstream: not reported."""
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, *args, **kw):
        properties = cloudformation_json.get("Properties", {})
        if properties.get("Tags"):
            tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties["Tags"]]
            properties = {**properties, "Tags": tags}
            cloudformation_json = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, cloudformation_json, *args, **kw)

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def kms_key_spec_and_usage_from_templates() -> None:
    """AWS: AWS::KMS::Key creates the key its KeySpec and KeyUsage name (an ECC_NIST_P256
    SIGN_VERIFY key signs and verifies;
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html).
    moto's Key.create_from_cloudformation_json always made a SYMMETRIC_DEFAULT
    ENCRYPT_DECRYPT key, so Sign on the bootstrap's signing key failed. It also kept the
    KeyPolicy as the template's mapping where KMS keeps a JSON document, so DescribeKey of
    any template key answered HTTP 500 (moto's policy check json.loads the policy).

    Replaces (wraps, around kms_key_tags_from_templates):
    moto.kms.models.Key.create_from_cloudformation_json.
    Upstream: not reported."""
    from moto.kms.models import Key, kms_backends

    original = Key.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(
        cls, resource_name, cloudformation_json, account_id, region_name, **kw
    ):
        properties = cloudformation_json.get("Properties", {})
        if isinstance(properties.get("KeyPolicy"), dict):
            properties = {**properties, "KeyPolicy": json.dumps(properties["KeyPolicy"])}
            cloudformation_json = {**cloudformation_json, "Properties": properties}
        spec = properties.get("KeySpec", "SYMMETRIC_DEFAULT")
        usage = properties.get("KeyUsage", "ENCRYPT_DECRYPT")
        if (spec, usage) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"):
            return original(cls, resource_name, cloudformation_json, account_id, region_name, **kw)
        tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])]
        key = kms_backends[account_id][region_name].create_key(
            policy=properties["KeyPolicy"],
            key_usage=usage,
            key_spec=spec,
            description=properties.get("Description"),
            tags=tags,
        )
        key.enabled = properties.get("Enabled", True)
        return key

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def kms_keys_updated_in_place_from_templates() -> None:
    """AWS: a stack update that changes an AWS::KMS::Key's Description, EnableKeyRotation,
    Enabled, KeyPolicy or Tags updates the key in place ("Update requires: No
    interruption"): same key id, same ARN; changing KeySpec or KeyUsage of an existing key
    makes the update request fail (template reference AWS::KMS::Key,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html).
    moto's Key had no CloudFormation update, so any update touching a key (a new
    `model-digest` tag on every deploy) left None in the stack's place of it: a `Ref` to it
    became empty (an EndpointConfig's KmsKeyId vanished) and a `!GetAtt Key.Arn` failed (an
    EndpointConfig with data capture was never updated, and its Endpoint failed).

    Replaces: moto.kms.models.Key.update_from_cloudformation_json (abstract in moto); wraps
    moto.cloudformation.parsing.parse_and_update_resource for keys whose Condition is false.
    Upstream: not reported."""
    from moto.cloudformation import parsing
    from moto.kms.models import Key, kms_backends

    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        key = original_resource
        properties = cloudformation_json.get("Properties", {})
        spec = properties.get("KeySpec", "SYMMETRIC_DEFAULT")
        usage = properties.get("KeyUsage", "ENCRYPT_DECRYPT")
        if (spec, usage) != (key.key_spec, key.key_usage):
            raise ValueError(
                f"KMS key {key.id}: KeySpec and KeyUsage of an existing key cannot change "
                f"({key.key_spec}/{key.key_usage} to {spec}/{usage})"
            )
        policy = properties.get("KeyPolicy")
        if policy is not None:
            key.policy = json.dumps(policy) if isinstance(policy, dict) else policy
        key.description = properties.get("Description") or ""
        key.key_rotation_status = bool(properties.get("EnableKeyRotation", False))
        key.enabled = bool(properties.get("Enabled", True))
        key.key_state = "Enabled" if key.enabled else "Disabled"
        tagger = kms_backends[account_id][region_name].tagger
        tagger.delete_all_tags_for_resource(key.id)
        tags = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])]
        if tags:
            tagger.tag_resource(key.id, tags)
        return key

    Key.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)

    # moto lists a resource whose Condition is false among those to update when it uses a
    # changed parameter (a RealTime-only key of a Serverless stack and its model-digest tag);
    # such a key was never created, so there is nothing to update, as moto (with no update
    # for keys) used to leave it.
    update_resource = parsing.parse_and_update_resource

    @functools.wraps(update_resource)
    def parse_and_update_resource(logical_id, resource_json, resources_map, *args, **kwargs):
        condition = resource_json.get("Condition")
        if (
            resource_json.get("Type") == "AWS::KMS::Key"
            and condition
            and not resources_map.lazy_condition_map[condition]
        ):
            return None
        return update_resource(logical_id, resource_json, resources_map, *args, **kwargs)

    parsing.parse_and_update_resource = parse_and_update_resource
