import copy
import tomllib

import pytest

from pipeline.core import serving_image
from pipeline.errors import ConfigError
from pipeline.settings import MODEL_DIR

SOURCE = MODEL_DIR / "serving-image.toml"
DATA = tomllib.loads(SOURCE.read_text())


def image():
    return serving_image.parse(copy.deepcopy(DATA), str(SOURCE))


def test_the_committed_file_parses_and_names_the_image():
    parsed = image()
    assert parsed.name == "sagemaker-scikit-learn:1.9-0-cpu-py3"
    assert set(serving_image.REQUIRED_PACKAGES) <= set(parsed.packages)


@pytest.mark.parametrize(
    ("region", "uri"),
    [
        (
            "us-east-1",
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
        ),
        (
            "cn-north-1",
            "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-scikit-learn:1.9-0-cpu-py3",
        ),
        (
            "us-iso-east-1",
            "833128469047.dkr.ecr.us-iso-east-1.c2s.ic.gov/sagemaker-scikit-learn:1.9-0-cpu-py3",
        ),
        (
            "us-isob-east-1",
            "281123927165.dkr.ecr.us-isob-east-1.sc2s.sgov.gov/sagemaker-scikit-learn:1.9-0-cpu-py3",
        ),
    ],
)
def test_uri_per_region(region, uri):
    assert image().uri(region) == uri


def test_unknown_region_suggests_close_ones():
    with pytest.raises(ConfigError, match=r"'eu-west-9'.*Did you mean eu-west-\d"):
        image().uri("eu-west-9")


def test_missing_package_is_named():
    data = copy.deepcopy(DATA)
    del data["packages"]["numpy"]
    with pytest.raises(ConfigError, match=r"\[packages\] lacks numpy"):
        serving_image.parse(data, "x.toml")


def test_bad_account_id_is_named():
    data = copy.deepcopy(DATA)
    data["registry"]["accounts"]["us-east-1"] = "68331368837"
    with pytest.raises(ConfigError, match=r"us-east-1: '68331368837' is not a 12-digit account id"):
        serving_image.parse(data, "x.toml")
