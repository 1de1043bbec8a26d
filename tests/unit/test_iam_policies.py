"""Properties of the IAM in infra/ that cfn-lint and checkov cannot see (issue 16), each
checked on every template and shown to fail on a planted template in
tests/fixtures/templates/ (one per property):

1. a tagging action of a service whose rights this template grants by tag (kms:TagResource,
   sagemaker:AddTags, ...) is allowed only on resources already tagged as the caller's own
   (aws:ResourceTag) or at creation (aws:RequestTag plus sagemaker:TaggingAction Create*;
   for KMS, which has no such key, only while the key carries no ownership tag), and only
   with a bounded set of tag keys (aws:TagKeys);
2. every destructive action (Delete*, Update*, ScheduleKeyDeletion, PutKeyPolicy) of a deploy
   role is scoped to the role's environment: aws:ResourceTag/environment equal to
   ${aws:PrincipalTag/environment}, or that variable in every Resource;
3. the test role is allowed nothing but reads on the stack <project>-prod, the account's bootstrap
   stack (*-bootstrap) or prod's alarms;
4. a bucket policy that serves models/ refuses overwriting a models/ key (PutObject without
   If-None-Match: *) and deleting one (DeleteObject, DeleteObjectVersion) to all but an admin
   path.

Templates are decoded with cfn-lint's decoder; !Sub strings are rendered with placeholders
(ProjectName -> PROJECT, BootstrapNamespace -> NS) so resources can be matched by fnmatch.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
from cfnlint.decode import decode

from tests.conftest import FIXTURES

INFRA = Path(__file__).resolve().parents[2] / "infra"
PLACEHOLDERS = {
    "ProjectName": "PROJECT",
    "BootstrapNamespace": "NS",
    "Namespace": "NS",
    "AWS::Partition": "aws",
    "AWS::Region": "REGION",
    "AWS::AccountId": "ACCOUNT",
}
ENV_VARIABLE = "${aws:PrincipalTag/environment}"
TAGGING = ("AddTags", "TagResource", "CreateTags")
DESTRUCTIVE = ("Delete*", "Update*", "ScheduleKeyDeletion", "PutKeyPolicy")
# No resource-level permissions or tag conditions are used for these: a scalable target is
# named by its endpoint, which a project chooses (the README's IAM limits).
DESTRUCTIVE_EXEMPT = {
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:DeleteScalingPolicy",
}
FORBIDDEN_TO_TEST_ROLE = [
    "arn:aws:cloudformation:REGION:ACCOUNT:stack/PROJECT-prod/1",
    "arn:aws:cloudformation:REGION:ACCOUNT:stack/NS-bootstrap/1",
    "arn:aws:cloudformation:REGION:ACCOUNT:stack/sagemaker-pipeline-bootstrap/1",
    "arn:aws:cloudwatch:REGION:ACCOUNT:alarm:PROJECT-prod-5xx",
]
NO_RESOURCE_ACTIONS = {"cloudformation:ListStacks", "cloudformation:ValidateTemplate"}
READ_ONLY = ("Describe*", "Get*", "List*")  # e.g. the bootstrap stack's outputs


def load(path: Path) -> dict:
    template, matches = decode(str(path))
    assert template is not None and not matches, (path, matches)
    return template


def render(value) -> list[str]:
    """Every string a template value can stand for (both branches of an Fn::If)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in render(v)]
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return [PLACEHOLDERS.get(arg, f"REF_{arg}")]
        if fn == "Fn::Sub":
            text, names = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

            def sub(m):  # noqa: E306
                name = m.group(1)
                if name.startswith("!"):
                    return "${" + name[1:] + "}"
                if name in names:
                    return render(names[name])[0]
                return PLACEHOLDERS.get(name.split(".")[0], f"SUB_{name}")

            return [re.sub(r"\$\{([^}]+)\}", sub, text)]
        if fn == "Fn::If":
            return render(arg[1]) + render(arg[2])
        if fn == "Fn::GetAtt":
            return [f"GETATT_{arg if isinstance(arg, str) else '.'.join(arg)}"]
    return [str(value)]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def statements(document: dict) -> list[dict]:
    return as_list((document or {}).get("Statement", []))


def actions(statement: dict) -> list[str]:
    return [a for v in as_list(statement.get("Action", [])) for a in render(v)]


def resources(statement: dict) -> list[str]:
    return [r for v in as_list(statement.get("Resource", [])) for r in render(v)]


def condition_keys(statement: dict) -> dict[str, tuple[str, list[str]]]:
    """condition key (lower case) -> (operator, rendered values)."""
    keys = {}
    for operator, block in (statement.get("Condition") or {}).items():
        for key, values in (block or {}).items():
            keys[key.lower()] = (operator, [s for v in as_list(values) for s in render(v)])
    return keys


def grants(statement: dict, action: str) -> bool:
    return statement.get("Effect") == "Allow" and any(
        fnmatch.fnmatch(action.lower(), pattern.lower()) for pattern in actions(statement)
    )


def role_policies(template: dict) -> dict[str, list[dict]]:
    """Rendered role name -> the statements of its inline and managed policies."""
    resources_ = template.get("Resources", {})
    out = {}
    for logical, resource in resources_.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        props = resource.get("Properties", {})
        name = render(props.get("RoleName", logical))[0]
        found = [s for p in props.get("Policies", []) for s in statements(p.get("PolicyDocument"))]
        for arn in as_list(props.get("ManagedPolicyArns", [])):
            if isinstance(arn, dict) and "Ref" in arn and arn["Ref"] in resources_:
                found += statements(resources_[arn["Ref"]]["Properties"].get("PolicyDocument"))
        for policy in resources_.values():
            if policy.get("Type") == "AWS::IAM::Policy" and {"Ref": logical} in as_list(
                policy["Properties"].get("Roles", [])
            ):
                found += statements(policy["Properties"].get("PolicyDocument"))
        out[name] = found
    return out


def iam_statements(template: dict) -> list[tuple[str, dict]]:
    out = []
    for logical, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        if resource.get("Type") in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            out += [(logical, s) for s in statements(props.get("PolicyDocument"))]
        elif resource.get("Type") == "AWS::IAM::Role":
            out += [
                (logical, s)
                for p in props.get("Policies", [])
                for s in statements(p.get("PolicyDocument"))
            ]
    return out


def where(logical: str, statement: dict) -> str:
    return f"{logical}.{statement.get('Sid', '?')}"


# 1 ------------------------------------------------------------------------------------------
def tag_granting_problems(template: dict) -> list[str]:
    found = iam_statements(template)
    governed = {
        a.split(":")[0].lower()
        for _, s in found
        for a in actions(s)
        if any(k.startswith("aws:resourcetag/") for k in condition_keys(s))
    }
    problems = []
    for logical, statement in found:
        for service in sorted(governed):
            tagging = [
                f"{service}:{name}" for name in TAGGING if grants(statement, f"{service}:{name}")
            ]
            if not tagging:
                continue
            keys = condition_keys(statement)
            owned = any(
                k.startswith("aws:resourcetag/") and op == "StringEquals"
                for k, (op, _) in keys.items()
            )
            requested = any(k.startswith("aws:requesttag/") for k in keys)
            tagging_action = keys.get(f"{service}:taggingaction")
            at_create = requested and (
                (
                    tagging_action is not None
                    and tagging_action[0] == "StringEquals"
                    and all(v.startswith("Create") for v in tagging_action[1])
                )
                or any(
                    k.startswith("aws:resourcetag/") and op == "Null" and vals == ["true"]
                    for k, (op, vals) in keys.items()
                )
            )
            bounded = "aws:tagkeys" in keys and keys["aws:tagkeys"][0].startswith("ForAllValues:")
            if not (owned or at_create) or not bounded:
                problems.append(
                    f"{where(logical, statement)}: {', '.join(tagging)} without an "
                    "aws:ResourceTag or tag-at-creation condition and a bounded "
                    "aws:TagKeys"
                )
    return problems


# 2 ------------------------------------------------------------------------------------------
def destructive_problems(template: dict) -> list[str]:
    problems = []
    for role, found in role_policies(template).items():
        if "-github-deploy-" not in role:
            continue
        for statement in found:
            if statement.get("Effect") != "Allow":
                continue
            hits = [
                a
                for a in actions(statement)
                if a not in DESTRUCTIVE_EXEMPT
                and (
                    "*" in a.split(":")[-1]
                    or any(fnmatch.fnmatch(a.split(":")[-1], d) for d in DESTRUCTIVE)
                )
            ]
            if not hits:
                continue
            env = condition_keys(statement).get("aws:resourcetag/environment")
            by_tag = env is not None and env[0] == "StringEquals" and env[1] == [ENV_VARIABLE]
            by_name = bool(resources(statement)) and all(
                ENV_VARIABLE in r for r in resources(statement)
            )
            if not (by_tag or by_name):
                problems.append(
                    f"{role}: {statement.get('Sid', '?')}: {', '.join(hits)} not "
                    f"scoped to the role's environment ({ENV_VARIABLE})"
                )
    return problems


# 3 ------------------------------------------------------------------------------------------
def rights_of_the_test_role(template: dict) -> list[str]:
    problems = []
    for role, found in role_policies(template).items():
        if not role.endswith("-github-test"):
            continue
        for statement in found:
            for arn in FORBIDDEN_TO_TEST_ROLE:
                service = arn.split(":")[2]
                acts = [
                    a
                    for a in actions(statement)
                    if a.split(":")[0] in (service, "*")
                    and a not in NO_RESOURCE_ACTIONS
                    and grants(statement, a)
                    and not any(fnmatch.fnmatch(a.split(":")[-1], r) for r in READ_ONLY)
                ]
                if acts and any(fnmatch.fnmatch(arn, r) for r in resources(statement)):
                    problems.append(
                        f"{role}: {statement.get('Sid', '?')}: {', '.join(acts)} on {arn}"
                    )
    return problems


# 4 ------------------------------------------------------------------------------------------
def bucket_policy_problems(template: dict) -> list[str]:
    problems = []
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::S3::BucketPolicy":
            continue
        found = statements(resource["Properties"].get("PolicyDocument"))
        if not any(r.endswith("/models/*") for s in found for r in resources(s)):
            continue

        def denies(action, key, operator, value=None, found=found):
            for s in found:
                keys = condition_keys(s)
                if (
                    s.get("Effect") == "Deny"
                    and s.get("Principal") == "*"
                    and action in actions(s)
                    and any(r.endswith("/models/*") for r in resources(s))
                    and key in keys
                    and keys[key][0] == operator
                    and (value is None or keys[key][1] == [value])
                ):
                    return True
            return False

        if not denies("s3:PutObject", "s3:if-none-match", "StringNotEquals", "*"):
            problems.append(
                f"{logical}: models/ keys may be overwritten (no Deny of "
                "s3:PutObject without s3:if-none-match '*')"
            )
        for action in ("s3:DeleteObject", "s3:DeleteObjectVersion"):
            if not denies(action, "aws:principalarn", "ArnNotLike"):
                problems.append(
                    f"{logical}: {action} on models/ is not denied to all but an admin path"
                )
    return problems


CHECKS = {
    "tag_granting": (tag_granting_problems, "iam_retag_any_resource.yaml"),
    "destructive": (destructive_problems, "iam_delete_any_environment.yaml"),
    "test_role": (rights_of_the_test_role, "iam_test_role_on_prod.yaml"),
    "bucket_policy": (bucket_policy_problems, "bucket_models_overwritable.yaml"),
}


@pytest.mark.parametrize("template", sorted(INFRA.glob("*.yaml")), ids=lambda p: p.name)
@pytest.mark.parametrize("check", CHECKS)
def test_our_templates_have_the_property(check, template):
    assert CHECKS[check][0](load(template)) == []


@pytest.mark.parametrize("check", CHECKS)
def test_a_planted_template_fails_the_property(check):
    function, fixture = CHECKS[check]
    assert function(load(FIXTURES / "templates" / fixture)), fixture


@pytest.mark.parametrize("check", CHECKS)
def test_each_planted_template_fails_only_its_own_property(check):
    fixture = CHECKS[check][1]
    others = {
        name: f(load(FIXTURES / "templates" / fixture))
        for name, (f, other) in CHECKS.items()
        if other != fixture
    }
    assert others == {name: [] for name in others}


def test_the_checks_see_the_roles_of_github_oidc():
    roles = set(role_policies(load(INFRA / "github-oidc.yaml")))
    wanted = {"PROJECT-github-deploy-dev", "PROJECT-github-deploy-prod", "PROJECT-github-test"}
    assert wanted <= roles
