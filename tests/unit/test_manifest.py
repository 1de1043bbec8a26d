import pytest

from pipeline.core import manifest
from pipeline.errors import ConfigError, PipelineError

SHA = "a" * 64


def test_s3_key_is_content_addressed():
    assert manifest.s3_key("diabetes-linear", SHA) == f"models/diabetes-linear/{SHA}/model.tar.gz"


@pytest.mark.parametrize("name", ["Diabetes", "has_underscore", "-lead", "a" * 64, ""])
def test_bad_model_name_is_refused(name):
    with pytest.raises(ConfigError, match=r"\[model\] name in pipeline.toml"):
        manifest.validate_model_name(name)


def test_s3_key_refuses_a_non_digest():
    with pytest.raises(ValueError):
        manifest.s3_key("m", "abc")


def _manifest():
    return manifest.build(
        project="p",
        model_name="m",
        signature={},
        signature_sha256="0" * 64,
        sha256=SHA,
        size=10,
        serving_image={},
        training_env={},
        reproducibility={},
        metrics={},
        git={},
        golden_examples=[],
    )


def test_verify_file_accepts_its_own_file():
    manifest.verify_file(_manifest(), SHA, 10, "manifest.json")


@pytest.mark.parametrize(("sha", "size"), [("b" * 64, 10), (SHA, 11)])
def test_verify_file_refuses_another_file(sha, size):
    with pytest.raises(PipelineError, match="does not describe the artifact"):
        manifest.verify_file(_manifest(), sha, size, "manifest.json")
