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

5. (issue 18, `pipeline train --on sagemaker`) what the build role and the bootstrap's
   training role may and may not do, request by request, evaluated by `allowed` below (a
   small evaluator of Allow/Deny statements with the condition operators these templates
   use): each right the training flow needs is granted, and each near miss (another
   project's tag, another role, another prefix, another log group, no kms:ViaService) is
   not; no identity policy allows a wildcard action; the TrainingPrefix parameters keep IAM
   wildcards and models/ and releases/ out of the roles' resources.
6. (issue 19, the Model Registry) the build role creates model package groups only tagged
   with its project, registers versions only PendingManualApproval and only in its
   project's groups, and never updates a version; the registry is the build account's, in
   whichever account a role is: every deploy and preview role reads it there (its ARNs
   from SigningKeyArn, never the role's own account), only the prod deploy role approves
   or rejects, and nothing else; the build role reads and puts the resource policies of its
   project's groups only, which admit the other accounts' roles by name and tag.
7. (issue 20, `pipeline monitor` in monitor.yml) each preview role reads, and lists, only
   its own project's and environment's data capture (capture/<project>/<env>/), decrypts
   it through S3 only (the endpoint stack's key of its own environment, or the artifact
   key), and no other role reads captures at all.

Templates are decoded with cfn-lint's decoder; !Sub strings are rendered with placeholders
(ProjectName -> PROJECT, BootstrapNamespace -> NS, TrainingPrefix -> TP, the artifact
bucket -> BUCKET, SigningKeyArn -> a key of BUILD_ACCOUNT in BUILD_REGION, an account
other than the stack's ACCOUNT) so resources can be matched by fnmatch.
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
    "TrainingPrefix": "TP",
    "ArtifactBucketName": "BUCKET",
    "ArtifactBucket": "arn:aws:s3:::BUCKET",  # ${ArtifactBucket.Arn}
    # The build account's signing key: another account than the stack's (ACCOUNT), so that
    # rights in the build account are told from rights in the role's own account.
    "SigningKeyArn": "arn:aws:kms:BUILD_REGION:BUILD_ACCOUNT:key/SIGNING-KEY",
}
ENV_VARIABLE = "${aws:PrincipalTag/environment}"
TAGGING = ("AddTags", "TagResource", "CreateTags")
DESTRUCTIVE = ("Delete*", "Update*", "ScheduleKeyDeletion", "PutKeyPolicy")
# No resource-level permissions or tag conditions are used for these: a scalable target is
# named by its endpoint, which a project chooses (the README's IAM limits).
DESTRUCTIVE_EXEMPT = {
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:DeleteScalingPolicy",
    # The model's approval in the build account's registry (issue 19): a decision on a
    # version, not on an environment's resource; only the prod role has it, only to
    # Approved or Rejected (checked below, 6).
    "sagemaker:UpdateModelPackage",
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
        if fn == "Fn::Select":  # [index, list] or [index, Fn::Split [delimiter, string]]
            index, source = int(arg[0]), arg[1]
            if isinstance(source, dict) and "Fn::Split" in source:
                delimiter, text = source["Fn::Split"]
                return [s.split(delimiter)[index] for s in render(text)]
            return render(as_list(source)[index])
        if fn == "Fn::GetAtt":
            name = arg if isinstance(arg, str) else ".".join(arg)
            if name.endswith(".Arn") and name.split(".")[0] in PLACEHOLDERS:
                return [PLACEHOLDERS[name.split(".")[0]]]  # as ${X.Arn} renders
            return [f"GETATT_{name}"]
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
            if isinstance(arn, dict) and "Fn::If" in arn:  # attached when the condition holds
                arn = arn["Fn::If"][1]
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


# 5 ------------------------------------------------------------------------------------------
# `pipeline train --on sagemaker` (issue 18): the build role (github-oidc.yaml) uploads the
# job's inputs under TrainingPrefix, starts the job tagged with its project, passes the
# bootstrap's training role, follows the job's logs, stops it, and reads the model; the
# training role (bootstrap.yaml, build account only) reads the inputs and writes the job's
# outputs and checkpoints. Requests are evaluated against the rendered statements.
BUCKET = "arn:aws:s3:::BUCKET"
REGION_ARN = "arn:aws:sagemaker:REGION:ACCOUNT"
JOB = f"{REGION_ARN}:training-job/diabetes-linear-0123abcd-20250101120000"
SOURCE = f"{BUCKET}/TP/diabetes-linear/source/{'a' * 64}/sourcedir.tar.gz"
DATA = f"{BUCKET}/TP/diabetes-linear/data/train/{'b' * 64}/train.csv"
OUTPUT = (
    f"{BUCKET}/TP/diabetes-linear/jobs/diabetes-linear-0123abcd-20250101120000/output/model.tar.gz"
)
CHECKPOINT = f"{BUCKET}/TP/diabetes-linear/checkpoints/diabetes-linear-0123abcd-20250101120000/c.pt"
LOGS = "arn:aws:logs:REGION:ACCOUNT:log-group:/aws/sagemaker/TrainingJobs"
STREAM = f"{LOGS}:log-stream:diabetes-linear-0123abcd-20250101120000/algo-1-1700000000"
TRAINING_ROLE = "arn:aws:iam::ACCOUNT:role/NS-sagemaker-training"
EXECUTION_ROLE = "arn:aws:iam::ACCOUNT:role/NS-sagemaker-execution"
OWN_TAGS = {"aws:RequestTag/project": "PROJECT", "aws:TagKeys": ["project", "model", "git-commit"]}
VIA_S3 = {"kms:ViaService": "s3.REGION.amazonaws.com"}


def _resolve(text: str, context: dict) -> str:
    """Policy variables (${aws:PrincipalTag/project}) take the request's value."""
    return re.sub(r"\$\{([^}]+)\}", lambda m: str(context.get(m.group(1).lower(), "\0unset")), text)


def _compare(operator: str, value, wanted: list[str]) -> bool:
    """One value against a condition's values, for the non-negated operator."""
    if operator in ("StringEquals", "ArnEquals"):
        return str(value) in wanted
    if operator in ("StringLike", "ArnLike"):
        return any(fnmatch.fnmatchcase(str(value), w) for w in wanted)
    if operator == "Bool":
        return str(value).lower() in [w.lower() for w in wanted]
    raise AssertionError(f"condition operator {operator} is not evaluated here")


def _condition_holds(statement: dict, context: dict) -> bool:
    for operator, block in (statement.get("Condition") or {}).items():
        quantifier, _, op = operator.rpartition(":")  # ForAllValues:StringEquals
        if_exists = op.endswith("IfExists")
        op = op.removesuffix("IfExists")
        negated = op.startswith(("StringNot", "ArnNot"))
        base = op.replace("Not", "", 1) if negated else op
        for key, values in (block or {}).items():
            wanted = [_resolve(s, context) for v in as_list(values) for s in render(v)]
            present = key.lower() in context
            given = context.get(key.lower())
            if op == "Null":
                if (wanted == ["true"]) == present:
                    return False
                continue
            if not present:
                # IfExists, ForAllValues and negated operators hold for a missing key
                if if_exists or quantifier == "ForAllValues" or negated:
                    continue
                return False
            if quantifier == "ForAllValues":
                holds = all(_compare(base, v, wanted) for v in as_list(given))
            elif quantifier == "ForAnyValue":
                holds = any(_compare(base, v, wanted) for v in as_list(given))
            else:
                holds = _compare(base, given, wanted)
            if holds == negated:
                return False
    return True


def _applies(statement: dict, action: str, resource: str, context: dict) -> bool:
    def hit(patterns):
        return any(fnmatch.fnmatch(action.lower(), p.lower()) for p in patterns)

    if "NotAction" in statement:
        acted = not hit([a for v in as_list(statement["NotAction"]) for a in render(v)])
    else:
        acted = hit(actions(statement))
    if not acted:
        return False
    patterns = [_resolve(r, context) for r in resources(statement)]
    if "Resource" not in statement and "NotResource" not in statement:
        on = True  # a trust policy: the role itself
    elif "NotResource" in statement:
        excluded = [r for v in as_list(statement["NotResource"]) for r in render(v)]
        on = not any(fnmatch.fnmatchcase(resource, _resolve(r, context)) for r in excluded)
    else:
        on = any(fnmatch.fnmatchcase(resource, p) for p in patterns)
    return on and _condition_holds(statement, context)


def allowed(found: list[dict], action: str, resource: str, **context) -> bool:
    """An explicit Allow and no explicit Deny among these statements (identity policies of
    one role, or one resource policy); context keys as IAM spells them."""
    ctx = {k.lower(): v for k, v in context.items()}
    hits = [s for s in found if _applies(s, action, resource, ctx)]
    return any(s.get("Effect") == "Allow" for s in hits) and not any(
        s.get("Effect") == "Deny" for s in hits
    )


@pytest.fixture(scope="module")
def build_role() -> list[dict]:
    return role_policies(load(INFRA / "github-oidc.yaml"))["PROJECT-github-build"]


@pytest.fixture(scope="module")
def training_role() -> list[dict]:
    return role_policies(load(INFRA / "bootstrap.yaml"))["NS-sagemaker-training"]


def test_the_evaluator_reads_conditions_as_iam_does():
    statement = {
        "Effect": "Allow",
        "Action": "sagemaker:CreateTrainingJob",
        "Resource": "arn:aws:sagemaker:*:*:training-job/*",
        "Condition": {
            "StringEquals": {"aws:RequestTag/project": "p"},
            "ForAllValues:StringEquals": {"aws:TagKeys": ["project", "model"]},
        },
    }
    job = "arn:aws:sagemaker:r:a:training-job/j"
    ok = {"aws:RequestTag/project": "p", "aws:TagKeys": ["project"]}
    assert allowed([statement], "sagemaker:CreateTrainingJob", job, **ok)
    assert not allowed([statement], "sagemaker:CreateTrainingJob", job)
    assert not allowed(
        [statement], "sagemaker:CreateTrainingJob", job, **{**ok, "aws:TagKeys": ["project", "x"]}
    )
    assert not allowed([statement], "sagemaker:CreateModel", job, **ok)
    deny = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"Null": {"aws:RequestTag/model": "true"}},
    }
    assert not allowed([statement, deny], "sagemaker:CreateTrainingJob", job, **ok)
    assert allowed(
        [statement, deny], "sagemaker:CreateTrainingJob", job, **ok, **{"aws:RequestTag/model": "m"}
    )


def test_the_build_role_uploads_training_inputs_and_reads_only_the_trained_model(build_role):
    for key in (SOURCE, DATA):
        assert allowed(build_role, "s3:PutObject", key)
        assert allowed(build_role, "s3:GetObject", key)  # HeadObject before the upload
        assert allowed(build_role, "s3:AbortMultipartUpload", key)  # a failed upload
    assert not allowed(build_role, "s3:AbortMultipartUpload", OUTPUT)
    assert allowed(build_role, "s3:GetObject", OUTPUT)
    assert not allowed(build_role, "s3:PutObject", OUTPUT)  # only the job writes outputs
    assert not allowed(build_role, "s3:PutObject", CHECKPOINT)
    assert not allowed(build_role, "s3:GetObject", CHECKPOINT)
    for elsewhere in (
        f"{BUCKET}/TP-other/diabetes-linear/source/x/sourcedir.tar.gz",
        f"{BUCKET}/training/diabetes-linear/source/x/sourcedir.tar.gz",  # not the parameter
        f"{BUCKET}/releases/PROJECT/dev/x.json",
        "arn:aws:s3:::OTHER-BUCKET/TP/diabetes-linear/source/x/sourcedir.tar.gz",
    ):
        assert not allowed(build_role, "s3:PutObject", elsewhere), elsewhere
    assert allowed(
        build_role, "s3:ListBucket", BUCKET, **{"s3:prefix": "TP/diabetes-linear/source/"}
    )
    assert not allowed(build_role, "s3:ListBucket", BUCKET, **{"s3:prefix": "releases/"})
    assert not allowed(build_role, "s3:ListBucket", BUCKET)  # the whole bucket


def test_the_build_role_creates_training_jobs_only_tagged_as_its_project(build_role):
    create = "sagemaker:CreateTrainingJob"
    assert allowed(build_role, create, JOB, **OWN_TAGS)
    assert not allowed(build_role, create, JOB)  # untagged
    assert not allowed(build_role, create, JOB, **{**OWN_TAGS, "aws:RequestTag/project": "other"})
    assert not allowed(
        build_role, create, JOB, **{**OWN_TAGS, "aws:TagKeys": ["project", "environment"]}
    )
    assert not allowed(build_role, create, f"{REGION_ARN}:processing-job/x", **OWN_TAGS)
    assert not allowed(build_role, create, JOB.replace("ACCOUNT", "OTHER"), **OWN_TAGS)
    # the tags come with CreateTrainingJob, never later, never to another project
    tag = "sagemaker:AddTags"
    assert allowed(
        build_role, tag, JOB, **OWN_TAGS, **{"sagemaker:TaggingAction": "CreateTrainingJob"}
    )
    assert not allowed(build_role, tag, JOB, **OWN_TAGS)  # an existing job
    assert not allowed(
        build_role, tag, JOB, **OWN_TAGS, **{"sagemaker:TaggingAction": "CreateModel"}
    )
    assert not allowed(
        build_role,
        tag,
        JOB,
        **{**OWN_TAGS, "aws:RequestTag/project": "other"},
        **{"sagemaker:TaggingAction": "CreateTrainingJob"},
    )
    assert not allowed(
        build_role, "sagemaker:DeleteTags", JOB, **{"aws:ResourceTag/project": "PROJECT"}
    )


def test_the_build_role_follows_and_stops_only_its_projects_jobs(build_role):
    for action in ("sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"):
        assert allowed(build_role, action, JOB, **{"aws:ResourceTag/project": "PROJECT"})
        assert not allowed(build_role, action, JOB, **{"aws:ResourceTag/project": "other"})
        assert not allowed(build_role, action, JOB)  # untagged
    for action in (
        "sagemaker:DeleteTrainingJob",
        "sagemaker:UpdateTrainingJob",
        "sagemaker:CreateModel",
    ):
        assert not allowed(build_role, action, JOB, **{"aws:ResourceTag/project": "PROJECT"})


def test_the_build_role_passes_only_the_training_role_only_to_sagemaker(build_role):
    to_sagemaker = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    assert allowed(build_role, "iam:PassRole", TRAINING_ROLE, **to_sagemaker)
    assert not allowed(
        build_role, "iam:PassRole", TRAINING_ROLE, **{"iam:PassedToService": "ec2.amazonaws.com"}
    )
    assert not allowed(build_role, "iam:PassRole", TRAINING_ROLE)
    for other in (
        EXECUTION_ROLE,  # the endpoints' role
        "arn:aws:iam::ACCOUNT:role/PROJECT-github-build",
        "arn:aws:iam::ACCOUNT:role/admin/anything",
        TRAINING_ROLE.replace("ACCOUNT", "OTHER"),
    ):
        assert not allowed(build_role, "iam:PassRole", other, **to_sagemaker), other


def test_the_build_role_reads_training_job_logs_only(build_role):
    assert allowed(build_role, "logs:DescribeLogStreams", LOGS)
    assert allowed(build_role, "logs:DescribeLogStreams", f"{LOGS}:*")  # the ARN form with :*
    assert allowed(build_role, "logs:GetLogEvents", STREAM)
    endpoint_logs = "arn:aws:logs:REGION:ACCOUNT:log-group:/aws/sagemaker/Endpoints/x:log-stream:y"
    assert not allowed(build_role, "logs:GetLogEvents", endpoint_logs)
    assert not allowed(build_role, "logs:GetLogEvents", LOGS + "Other:log-stream:y")
    assert not allowed(build_role, "logs:PutLogEvents", STREAM)
    assert not allowed(build_role, "logs:DeleteLogGroup", LOGS)


def test_the_training_role_reads_inputs_and_writes_only_job_outputs_and_checkpoints(training_role):
    for key in (SOURCE, DATA, CHECKPOINT):
        assert allowed(training_role, "s3:GetObject", key), key
    for key in (OUTPUT, OUTPUT.replace("model.tar.gz", "output.tar.gz"), CHECKPOINT):
        assert allowed(training_role, "s3:PutObject", key), key
    for key in (
        SOURCE,  # the build's inputs are content-addressed: the job never rewrites them
        DATA,
        f"{BUCKET}/TP/diabetes-linear/jobs/j/model.tar.gz",  # not under output/
        f"{BUCKET}/models/diabetes-linear/{'c' * 64}/model.tar.gz",
        f"{BUCKET}/releases/PROJECT/dev/x.json",
        f"{BUCKET}/TP-other/diabetes-linear/jobs/j/output/model.tar.gz",
        "arn:aws:s3:::OTHER-BUCKET/TP/diabetes-linear/jobs/j/output/model.tar.gz",
    ):
        assert not allowed(training_role, "s3:PutObject", key), key
    for key in (
        f"{BUCKET}/models/diabetes-linear/{'c' * 64}/model.tar.gz",
        f"{BUCKET}/releases/PROJECT/dev/x.json",
    ):
        assert not allowed(training_role, "s3:GetObject", key), key
    for action in ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl"):
        assert not allowed(training_role, action, OUTPUT), action
    assert allowed(
        training_role, "s3:ListBucket", BUCKET, **{"s3:prefix": "TP/diabetes-linear/data/train/"}
    )
    assert not allowed(training_role, "s3:ListBucket", BUCKET, **{"s3:prefix": "models/"})
    assert not allowed(training_role, "s3:ListBucket", BUCKET)


def test_the_training_role_uses_the_artifact_key_through_s3_and_writes_training_logs(training_role):
    key = "GETATT_ArtifactKey.Arn"
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        assert allowed(training_role, action, key, **VIA_S3)
        assert not allowed(training_role, action, key)  # called directly, not through S3
        assert not allowed(training_role, action, "arn:aws:kms:REGION:ACCOUNT:key/other", **VIA_S3)
    for action in ("kms:CreateGrant", "kms:ReEncryptFrom", "kms:Sign"):
        assert not allowed(training_role, action, key, **VIA_S3)
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert allowed(training_role, action, STREAM)
        assert not allowed(training_role, action, STREAM.replace("TrainingJobs", "Endpoints/x"))
    assert allowed(training_role, "logs:CreateLogGroup", LOGS)
    assert allowed(training_role, "logs:DescribeLogStreams", LOGS)
    assert not allowed(training_role, "logs:CreateLogGroup", LOGS + "Other")
    assert not allowed(training_role, "iam:PassRole", TRAINING_ROLE)
    assert not allowed(training_role, "sagemaker:CreateTrainingJob", JOB, **OWN_TAGS)


def test_only_training_jobs_of_the_build_account_assume_the_training_role():
    template = load(INFRA / "bootstrap.yaml")
    role = template["Resources"]["SageMakerTrainingRole"]
    assert role["Condition"] == "IsBuild"  # the build account's: bucket, key, build roles
    trust = statements(role["Properties"]["AssumeRolePolicyDocument"])
    assert [s["Principal"] for s in trust] == [{"Service": "sagemaker.amazonaws.com"}]
    assert allowed(trust, "sts:AssumeRole", "*", **{"aws:SourceArn": JOB})
    assert not allowed(
        trust, "sts:AssumeRole", "*", **{"aws:SourceArn": f"{REGION_ARN}:endpoint/x"}
    )
    assert not allowed(
        trust, "sts:AssumeRole", "*", **{"aws:SourceArn": JOB.replace("ACCOUNT", "OTHER")}
    )
    assert not allowed(trust, "sts:AssumeRole", "*")
    # and the endpoints' execution role gained nothing of it
    execution = role_policies(template)["NS-sagemaker-execution"]
    assert not any(allowed(execution, "s3:PutObject", k) for k in (OUTPUT, CHECKPOINT))
    assert not any(allowed(execution, "s3:GetObject", k) for k in (SOURCE, DATA))


def test_the_bucket_and_key_policies_leave_the_training_flow_to_iam():
    """Same-account roles: the key policy delegates to IAM (root, kms:*), and no Deny of the
    bucket policy touches a training request made over TLS."""
    template = load(INFRA / "bootstrap.yaml")
    resources_ = template["Resources"]
    key_policy = statements(resources_["ArtifactKey"]["Properties"]["KeyPolicy"])
    assert any(
        s["Effect"] == "Allow"
        and render(s["Principal"]["AWS"]) == ["arn:aws:iam::ACCOUNT:root"]
        and actions(s) == ["kms:*"]
        and "Condition" not in s
        for s in key_policy
    )
    bucket_policy = statements(resources_["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"])
    denies = [s for s in bucket_policy if s["Effect"] == "Deny"]
    tls = {"aws:SecureTransport": "true", "aws:PrincipalArn": TRAINING_ROLE}
    for action, key in (
        ("s3:PutObject", SOURCE),
        ("s3:PutObject", DATA),
        ("s3:PutObject", OUTPUT),
        ("s3:PutObject", CHECKPOINT),
        ("s3:GetObject", OUTPUT),
    ):
        ctx = {k.lower(): v for k, v in tls.items()}
        assert not any(_applies(s, action, key, ctx) for s in denies), (action, key)


def test_no_identity_policy_allows_a_wildcard_action():
    for template_file in sorted(INFRA.glob("*.yaml")):
        for logical, statement in iam_statements(load(template_file)):
            if statement.get("Effect") == "Allow":
                wild = [a for a in actions(statement) if "*" in a or "?" in a]
                assert not wild, f"{template_file.name}: {where(logical, statement)}: {wild}"


def test_training_prefix_parameters_keep_wildcards_and_other_prefixes_out():
    from pipeline.core.training import TrainingConfig

    specs = [
        {
            k: v
            for k, v in load(INFRA / name)["Parameters"]["TrainingPrefix"].items()
            if k != "Description"
        }
        for name in ("bootstrap.yaml", "github-oidc.yaml")
    ]
    assert specs[0] == specs[1]  # the build role's and the training role's prefix agree
    spec = specs[0]
    assert spec["Default"] == TrainingConfig().output_prefix  # pipeline.toml's default
    pattern = re.compile(spec["AllowedPattern"])
    for good in ("training", "ml/training", "team-a/runs_2", "a.b(c)'!"):
        assert pattern.fullmatch(good), good
    for bad in (
        "",
        "/training",
        "training/",
        "a//b",
        "a/*",
        "*",
        "tr?ining",
        "a b",
        "models",
        "models/x",
        "releases",
        "releases/PROJECT",
    ):
        assert not pattern.fullmatch(bad), bad
    assert pattern.fullmatch("models-training") and pattern.fullmatch("x/models")


# 6 ------------------------------------------------------------------------------------------
# The Model Registry (issue 19): `pipeline register` as the build role, `registry list|show`
# and every deploy or dry run as any deploy or preview role, `registry approve|reject` as
# the prod deploy role. Group names are model names; a group is the project's by its
# `project` tag. CreateModelPackage is authorized on the group and on the new version, so
# both must be allowed. The registry is the build account's: GROUP and VERSION as the build
# role (in that account, ACCOUNT) sees them; BUILD_GROUP and BUILD_VERSION as a role of the
# stack's account sees them, in the build account of SigningKeyArn (BUILD_ACCOUNT).
GROUP = f"{REGION_ARN}:model-package-group/diabetes-linear"
VERSION = f"{REGION_ARN}:model-package/diabetes-linear/3"
BUILD_REGION_ARN = "arn:aws:sagemaker:BUILD_REGION:BUILD_ACCOUNT"
BUILD_GROUP = f"{BUILD_REGION_ARN}:model-package-group/diabetes-linear"
BUILD_VERSION = f"{BUILD_REGION_ARN}:model-package/diabetes-linear/3"
ENVIRONMENTS = ("dev", "staging", "prod")
REGISTRY_READERS = [
    f"PROJECT-github-{kind}-{env}" for kind in ("deploy", "preview") for env in ENVIRONMENTS
]
OWN_GROUP = {"aws:ResourceTag/project": "PROJECT"}
OTHER_GROUP = {"aws:ResourceTag/project": "other"}
PENDING = {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
APPROVED = {"sagemaker:ModelApprovalStatus": "Approved"}
REJECTED = {"sagemaker:ModelApprovalStatus": "Rejected"}


@pytest.fixture(scope="module")
def oidc_roles() -> dict[str, list[dict]]:
    return role_policies(load(INFRA / "github-oidc.yaml"))


def registers(role: list[dict], group_tags: dict, status: dict) -> bool:
    create = "sagemaker:CreateModelPackage"
    return allowed(role, create, GROUP, **group_tags, **status) and allowed(
        role, create, VERSION, **status
    )


def test_the_build_role_creates_model_package_groups_only_tagged_as_its_project(build_role):
    create, tag = "sagemaker:CreateModelPackageGroup", "sagemaker:AddTags"
    own = {"aws:RequestTag/project": "PROJECT", "aws:TagKeys": ["project"]}
    assert allowed(build_role, create, GROUP, **own)
    assert not allowed(build_role, create, GROUP)  # untagged
    assert not allowed(build_role, create, GROUP, **{**own, "aws:RequestTag/project": "other"})
    assert not allowed(build_role, create, GROUP, **{**own, "aws:TagKeys": ["project", "x"]})
    at_create = {"sagemaker:TaggingAction": "CreateModelPackageGroup"}
    assert allowed(build_role, tag, GROUP, **own, **at_create)
    assert not allowed(build_role, tag, GROUP, **own)  # an existing group
    assert not allowed(build_role, tag, GROUP, **own, **OTHER_GROUP)
    assert not allowed(
        build_role, tag, GROUP, **{**own, "aws:RequestTag/project": "other"}, **at_create
    )
    assert not allowed(build_role, "sagemaker:DeleteTags", GROUP, **OWN_GROUP)
    assert not allowed(build_role, "sagemaker:DeleteModelPackageGroup", GROUP, **OWN_GROUP)
    # register asks first whether the group exists: its own, or one not there yet (untagged)
    describe = "sagemaker:DescribeModelPackageGroup"
    assert allowed(build_role, describe, GROUP, **OWN_GROUP)
    assert allowed(build_role, describe, GROUP)
    assert not allowed(build_role, describe, GROUP, **OTHER_GROUP)


def test_the_build_role_registers_versions_only_pending_in_its_projects_groups(build_role):
    assert registers(build_role, OWN_GROUP, PENDING)
    assert not registers(build_role, OWN_GROUP, APPROVED)
    assert not registers(build_role, OWN_GROUP, REJECTED)
    assert not registers(build_role, OWN_GROUP, {})  # no status: refused, not defaulted
    assert not registers(build_role, OTHER_GROUP, PENDING)  # a group of another project
    assert not registers(build_role, {}, PENDING)  # an untagged group: no project's
    assert not allowed(
        build_role, "sagemaker:CreateModelPackage", VERSION.replace("ACCOUNT", "OTHER"), **PENDING
    )
    for action in ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages"):
        assert allowed(build_role, action, VERSION)
    for status in (APPROVED, REJECTED, PENDING, {}):
        assert not allowed(build_role, "sagemaker:UpdateModelPackage", VERSION, **status)
    assert not allowed(build_role, "sagemaker:DeleteModelPackage", VERSION)
    # the metrics beside the artifact: a new models/ key, as the manifest
    assert allowed(
        build_role, "s3:PutObject", f"{BUCKET}/models/diabetes-linear/{'c' * 64}/metrics.json"
    )


def test_the_build_role_denies_itself_any_approval_whatever_else_is_attached(build_role):
    grant_all = {"Effect": "Allow", "Action": "sagemaker:UpdateModelPackage", "Resource": "*"}
    assert not allowed(
        [*build_role, grant_all], "sagemaker:UpdateModelPackage", VERSION, **APPROVED
    )


def test_every_deploy_and_preview_role_reads_the_build_accounts_registry(oidc_roles):
    """Wherever the role is: the registry's ARNs are the build account's (SigningKeyArn),
    never the role's own account's, another account's or another region's."""
    describe = "sagemaker:DescribeModelPackageGroup"
    reads = ("sagemaker:DescribeModelPackage", "sagemaker:ListModelPackages")
    for name in REGISTRY_READERS:
        role = oidc_roles[name]
        for action in reads:
            assert allowed(role, action, BUILD_VERSION), (name, action)
            for elsewhere in (
                VERSION,  # the role's own account and region
                BUILD_VERSION.replace("BUILD_ACCOUNT", "OTHER"),
                BUILD_VERSION.replace("BUILD_REGION", "REGION"),
            ):
                assert not allowed(role, action, elsewhere), (name, action, elsewhere)
        assert allowed(role, describe, BUILD_GROUP, **OWN_GROUP), name
        assert allowed(role, describe, BUILD_GROUP), name  # none yet: "does not exist"
        assert not allowed(role, describe, BUILD_GROUP, **OTHER_GROUP), name
        assert not allowed(role, describe, GROUP, **OWN_GROUP), name
        assert not allowed(role, describe, GROUP.replace("ACCOUNT", "OTHER"), **OWN_GROUP), name
        assert not allowed(role, "sagemaker:CreateModelPackage", BUILD_VERSION, **PENDING), name
        assert not allowed(role, "sagemaker:DeleteModelPackage", BUILD_VERSION), name
        assert not allowed(role, "sagemaker:DeleteModelPackageGroup", BUILD_GROUP, **OWN_GROUP)


def test_only_the_prod_deploy_role_decides_and_only_approved_or_rejected(oidc_roles):
    update = "sagemaker:UpdateModelPackage"
    prod = oidc_roles["PROJECT-github-deploy-prod"]
    assert allowed(prod, update, BUILD_VERSION, **APPROVED)
    assert allowed(prod, update, BUILD_VERSION, **REJECTED)
    assert not allowed(prod, update, BUILD_VERSION, **PENDING)
    assert not allowed(prod, update, BUILD_VERSION)  # metadata only, no status: not this role's
    for elsewhere in (
        VERSION,  # the role's own account
        BUILD_VERSION.replace("BUILD_ACCOUNT", "OTHER"),
        BUILD_VERSION.replace("BUILD_REGION", "REGION"),
    ):
        assert not allowed(prod, update, elsewhere, **APPROVED), elsewhere
    for name, role in oidc_roles.items():  # deploy dev/staging, preview, test, build roles
        if name == "PROJECT-github-deploy-prod":
            continue
        for version in (BUILD_VERSION, VERSION):
            for status in (APPROVED, REJECTED, PENDING, {}):
                assert not allowed(role, update, version, **status), (name, version, status)


def test_the_build_role_shares_only_its_projects_groups(build_role, oidc_roles):
    """`register` puts each group's resource policy (admitting the environment accounts) and
    reads it back: only of groups tagged with its project, in its own account."""
    for action in ("sagemaker:PutModelPackageGroupPolicy", "sagemaker:GetModelPackageGroupPolicy"):
        assert allowed(build_role, action, GROUP, **OWN_GROUP), action
        assert not allowed(build_role, action, GROUP, **OTHER_GROUP), action
        assert not allowed(build_role, action, GROUP), action  # untagged: nobody's
        assert not allowed(build_role, action, GROUP.replace("ACCOUNT", "OTHER"), **OWN_GROUP), (
            action
        )
        assert not allowed(build_role, action, VERSION, **OWN_GROUP), action
        for name in REGISTRY_READERS:  # no other role rewrites who may read or approve
            assert not allowed(oidc_roles[name], action, BUILD_GROUP, **OWN_GROUP), (name, action)
    delete = "sagemaker:DeleteModelPackageGroupPolicy"
    assert not allowed(build_role, delete, GROUP, **OWN_GROUP)


def test_registry_rights_are_in_every_account_with_an_environment():
    """Not only where an environment shares the build account: the policies exist wherever
    a deploy role does, attached unconditionally, and the roles carry the name and tags the
    groups' resource policies admit (<project>-github-*, project; environment=prod for
    approving)."""
    template = load(INFRA / "github-oidc.yaml")
    conditions, resources_ = template["Conditions"], template["Resources"]
    assert not {"RegistryHere", "ProdRegistryHere"} & set(conditions)
    assert resources_["ReadModelRegistryPolicy"]["Condition"] == "AnyEnvironmentHere"
    approve = resources_["ApproveModelsPolicy"]
    assert approve["Condition"] == "ProdHere"
    assert approve["Properties"]["Roles"] == [{"Ref": "DeployRoleProd"}]
    for kind in ("Deploy", "Preview"):
        for env in ENVIRONMENTS:
            role = resources_[f"{kind}Role{env.capitalize()}"]
            props = role["Properties"]
            assert role["Condition"] == f"{env.capitalize()}Here"
            assert {"Ref": "ReadModelRegistryPolicy"} in props["ManagedPolicyArns"], (kind, env)
            name = render(props["RoleName"])[0]
            assert fnmatch.fnmatchcase(name, "PROJECT-github-*"), name
            tags = {t["Key"]: render(t["Value"])[0] for t in props["Tags"]}
            assert tags["project"] == "PROJECT", (kind, env)
            assert tags["environment"] == env, (kind, env)
    prod = resources_["DeployRoleProd"]["Properties"]
    assert render(prod["RoleName"]) == ["PROJECT-github-deploy-prod"]


# 7 ------------------------------------------------------------------------------------------
# `pipeline monitor` (issue 20, monitor.yml) as a preview role: SageMaker writes an
# endpoint's data capture under capture/<project>/<env>/<endpoint>/<variant>/yyyy/mm/dd/hh/
# of the artifact bucket (endpoint.yaml DataCaptureConfig), encrypted with the endpoint
# stack's key (VolumeKey: tagged project and environment, in the role's account) or, without
# one, the bucket's default key (the artifact key). Each role's policy variable
# ${aws:PrincipalTag/environment} takes the role's own `environment` tag from the template.
KEY = "arn:aws:kms:REGION:ACCOUNT:key/0123"
VIA_S3_HERE = {"kms:ViaService": "s3.REGION.amazonaws.com"}


def capture(project: str, env: str) -> str:
    return f"{BUCKET}/capture/{project}/{env}/{project}-{env}/AllTraffic/2026/12/07/16/a.jsonl"


def principal_tags(template: dict, role: str) -> dict[str, str]:
    """The tags of a role of the template (by rendered name), as aws:PrincipalTag keys."""
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::IAM::Role" and render(props.get("RoleName"))[0] == role:
            return {
                f"aws:PrincipalTag/{t['Key']}": render(t["Value"])[0] for t in props.get("Tags", [])
            }
    raise AssertionError(f"no role {role}")


@pytest.fixture(scope="module")
def oidc_template() -> dict:
    return load(INFRA / "github-oidc.yaml")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_preview_role_reads_only_its_own_environments_captures(oidc_template, oidc_roles, env):
    name = f"PROJECT-github-preview-{env}"
    role, tags = oidc_roles[name], principal_tags(oidc_template, name)
    assert tags["aws:PrincipalTag/environment"] == env
    assert allowed(role, "s3:GetObject", capture("PROJECT", env), **tags)
    for elsewhere in (
        *(capture("PROJECT", other) for other in ENVIRONMENTS if other != env),
        capture("other", env),  # another project's endpoint
        f"{BUCKET}/capture/PROJECT/{env}-x/PROJECT-{env}/AllTraffic/a.jsonl",  # not the prefix
        f"{BUCKET}/capture/a.jsonl",
        capture("PROJECT", env).replace("BUCKET", "OTHER-BUCKET"),
    ):
        assert not allowed(role, "s3:GetObject", elsewhere, **tags), elsewhere
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
        assert not allowed(role, action, capture("PROJECT", env), **tags), action
    # without its tag the variable matches nothing: no environment, no capture
    assert not allowed(role, "s3:GetObject", capture("PROJECT", env))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_preview_role_lists_only_its_own_environments_capture_prefix(
    oidc_template, oidc_roles, env
):
    name = f"PROJECT-github-preview-{env}"
    role, tags = oidc_roles[name], principal_tags(oidc_template, name)
    for prefix in (f"capture/PROJECT/{env}/", f"capture/PROJECT/{env}/PROJECT-{env}/AllTraffic/"):
        assert allowed(role, "s3:ListBucket", BUCKET, **{"s3:prefix": prefix}, **tags), prefix
    for prefix in (
        "capture/",
        "capture/PROJECT/",
        f"capture/other/{env}/",
        *(f"capture/PROJECT/{other}/" for other in ENVIRONMENTS if other != env),
    ):
        assert not allowed(role, "s3:ListBucket", BUCKET, **{"s3:prefix": prefix}, **tags), prefix
    assert not allowed(role, "s3:ListBucket", BUCKET, **tags)  # the whole bucket


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_preview_role_decrypts_captures_through_s3_with_its_own_environments_key_only(
    oidc_template, oidc_roles, env
):
    name = f"PROJECT-github-preview-{env}"
    role, tags = oidc_roles[name], principal_tags(oidc_template, name)
    own = {"aws:ResourceTag/project": "PROJECT", "aws:ResourceTag/environment": env}
    assert allowed(role, "kms:Decrypt", KEY, **own, **VIA_S3_HERE, **tags)
    assert not allowed(role, "kms:Decrypt", KEY, **own, **tags)  # called directly
    assert not allowed(
        role, "kms:Decrypt", KEY, **own, **{"kms:ViaService": "s3.OTHER.amazonaws.com"}, **tags
    )
    for other in ENVIRONMENTS:
        if other != env:
            theirs = {**own, "aws:ResourceTag/environment": other}
            assert not allowed(role, "kms:Decrypt", KEY, **theirs, **VIA_S3_HERE, **tags), other
    other_project = {**own, "aws:ResourceTag/project": "other"}
    assert not allowed(role, "kms:Decrypt", KEY, **other_project, **VIA_S3_HERE, **tags)
    assert not allowed(role, "kms:Decrypt", KEY, **VIA_S3_HERE, **tags)  # an untagged key
    foreign = KEY.replace("ACCOUNT", "OTHER")
    assert not allowed(role, "kms:Decrypt", foreign, **own, **VIA_S3_HERE, **tags)
    for action in ("kms:GenerateDataKey", "kms:Encrypt", "kms:ReEncryptFrom", "kms:CreateGrant"):
        assert not allowed(role, action, KEY, **own, **VIA_S3_HERE, **tags), action
    # captures under the bucket's default key (no KmsKeyId): the artifact key, as for models
    assert allowed(role, "kms:Decrypt", "REF_ArtifactKeyArn", **tags)


def test_no_other_role_reads_captures(oidc_template, oidc_roles):
    """Deploy, build and test roles read models and releases, never what requesters sent."""
    for name, role in oidc_roles.items():
        if "-github-preview-" in name:
            continue
        tags = principal_tags(oidc_template, name)
        for env in ENVIRONMENTS:
            assert not allowed(role, "s3:GetObject", capture("PROJECT", env), **tags), (name, env)
            assert not allowed(
                role, "s3:ListBucket", BUCKET, **{"s3:prefix": f"capture/PROJECT/{env}/"}, **tags
            ), (name, env)
