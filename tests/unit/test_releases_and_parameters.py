"""Release-record keys and promotion order; explicit stack parameters (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.core import environments, releases
from pipeline.core.params import stack_parameters
from pipeline.errors import ConfigError

DIGEST = "ab" * 32


def test_release_keys_sort_by_time_and_the_latest_is_the_greatest():
    early = releases.key("diabetes", "dev", DIGEST, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    late = releases.key("diabetes", "dev", "cd" * 32, datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))
    # the bucket is shared by every project of the account: records are per project
    assert early == "releases/diabetes/dev/20260102T030405.000000Z-abababababab.json"
    assert releases.latest([late, early, "releases/diabetes/dev/README"]) == late
    assert releases.latest([]) is None


@pytest.mark.parametrize(("target", "source"), [("staging", "dev"), ("prod", "staging")])
def test_promotion_comes_from_the_previous_environment(target, source):
    assert environments.source_of(target) == source


@pytest.mark.parametrize("target", ["dev", "qa"])
def test_dev_and_unknown_environments_are_not_promoted_into(target):
    with pytest.raises(ConfigError, match="dev → staging → prod"):
        environments.source_of(target)


def test_only_prod_is_declared_protected():
    assert [e.name for e in environments.DECLARED if e.protected] == ["prod"]


def test_deploy_is_refused_only_for_a_protected_environment():
    environments.check_deploy("dev")
    environments.check_deploy("staging")
    with pytest.raises(ConfigError, match=r"prod is protected.*promote --from staging --to prod"):
        environments.check_deploy("prod")


@pytest.mark.parametrize(
    ("source", "target", "approved", "dry_run", "refusal"),
    [
        ("dev", "staging", False, False, None),
        ("staging", "prod", True, False, None),
        ("staging", "prod", False, True, None),  # a preview changes nothing
        ("staging", "prod", False, False, "prod is protected: promoting to it needs an approval"),
        ("dev", "prod", True, False, "prod is promoted from staging, not dev"),
        ("prod", "staging", True, False, "staging is promoted from dev, not prod"),
        ("qa", "staging", True, False, "unknown environment 'qa'"),
    ],
)
def test_promotion_rules(source, target, approved, dry_run, refusal):
    if refusal is None:
        environments.check_promotion(source, target, approved, dry_run)
    else:
        with pytest.raises(ConfigError, match=refusal):
            environments.check_promotion(source, target, approved, dry_run)


def test_rolling_back_a_protected_environment_needs_an_approval():
    environments.check_rollback("staging", approved=False)
    environments.check_rollback("prod", approved=True)
    with pytest.raises(ConfigError, match="rolling it back needs an approval"):
        environments.check_rollback("prod", approved=False)


def test_every_parameter_is_explicit_and_a_removed_key_takes_the_default():
    template = {"A": {"Default": "1"}, "B": {}, "ModelData": {}, "C": {"Default": 3}}
    values = stack_parameters(template, {"B": "file", "A": "from-file"}, {"ModelData": "s3://x"})
    assert values == {"A": "from-file", "B": "file", "ModelData": "s3://x", "C": "3"}
    with pytest.raises(ValueError, match="B has no value and no default"):
        stack_parameters(template, {}, {"ModelData": "s3://x"})


def test_the_sweeper_prices_real_time_endpoints_and_spares_the_bootstrap_stack():
    from pipeline.stages.operate.teardown import hourly_cost, is_swept

    prices = {"ml.m5.large": 0.115}
    two = {"EndpointType": "RealTime", "InstanceType": "ml.m5.large", "InstanceCount": "2"}
    assert hourly_cost(two, prices) == (0.23, "2 x ml.m5.large at $0.115/h")
    assert hourly_cost({"EndpointType": "Serverless"}, prices)[0] == 0.0
    assert (
        "price unknown"
        in hourly_cost({"EndpointType": "RealTime", "InstanceType": "ml.p3.2xlarge"}, prices)[1]
    )
    assert is_swept("diabetes-dev", "diabetes") and is_swept("tCaT-diabetes-dev-ab", "diabetes")
    assert not is_swept("sagemaker-pipeline-bootstrap", "diabetes")
    assert not is_swept("other-dev", "diabetes")
    # the shared bootstrap stack, whatever the project is called
    assert not is_swept("sagemaker-pipeline-bootstrap", "sagemaker")
    assert not is_swept("sagemaker-pipeline-bootstrap", "sagemaker-pipeline")
    # another project whose name starts with this one's
    assert not is_swept("diabetes-v2-dev", "diabetes")
    assert not is_swept("tCaT-diabetes-v2-dev-ab", "diabetes")
    assert is_swept("diabetes-v2-dev", "diabetes-v2")
