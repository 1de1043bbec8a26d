import pytest

from pipeline.core.versions import check_loadable, load_problem, parse_spec, release
from pipeline.errors import ConfigError, VersionMismatch


def spec(text):
    return parse_spec(text, "test")


def test_release_pads_and_drops_suffixes():
    assert release("1.9") == release("1.9.0")
    assert release("2.8.6.post2")[:3] == (2, 8, 6)


@pytest.mark.parametrize(
    ("text", "version", "admitted"),
    [
        ("==1.9.0", "1.9.0", True),
        ("==1.9.0", "1.9.1", False),
        (">=1.4.0,<2", "1.5.3", True),
        (">=1.4.0,<2", "2.0.0", False),
        (">=1.4.0,<2", "1.3.9", False),
        ("!=1.0", "1.0.0", False),
    ],
)
def test_spec_admits(text, version, admitted):
    assert spec(text).admits(version) is admitted


def test_unreadable_spec_names_where():
    with pytest.raises(ConfigError, match=r"serving-image.toml \[packages\] numpy.*'~=2'"):
        parse_spec("~=2", "serving-image.toml [packages] numpy")


def test_scikit_learn_must_match_exactly():
    assert load_problem("scikit-learn", "1.9.0", spec("==1.9.0")) is None
    problem = load_problem("scikit-learn", "1.8.0", spec("==1.9.0"))
    assert "1.8.0" in problem and "==1.9.0" in problem


@pytest.mark.parametrize(
    ("running", "image", "ok"),
    [
        ("2.5.1", "==2.5.1", True),
        ("2.4.6", "==2.5.1", True),  # older minor of the same major loads
        ("2.6.0", "==2.5.1", False),  # newer than the image
        ("1.26.4", "==2.5.1", False),  # other major
        ("2.0.0", "==1.26.4", False),  # numpy 2 pickles fail on numpy 1
        ("1.26.4", ">=1.24,<2", True),
        ("2.0.0", ">=1.24,<2", False),
    ],
)
def test_numpy_same_major_not_newer(running, image, ok):
    assert (load_problem("numpy", running, spec(image)) is None) is ok


def test_check_loadable_names_both_versions_of_every_mismatch():
    image = {"scikit-learn": spec("==1.9.0"), "numpy": spec("==2.5.1"), "joblib": spec("==1.5.3")}
    running = {"scikit-learn": "1.8.0", "numpy": "2.6.0", "joblib": "1.5.3"}
    with pytest.raises(VersionMismatch) as caught:
        check_loadable(running, image, "sagemaker-scikit-learn:1.9-0-cpu-py3", "this env")
    message = str(caught.value)
    assert "scikit-learn 1.8.0" in message and "==1.9.0" in message
    assert "numpy 2.6.0" in message and "==2.5.1" in message
    assert "joblib" not in message
    assert caught.value.exit_code == 2


def test_check_loadable_reports_unrecorded_packages():
    with pytest.raises(VersionMismatch, match="scipy is not recorded"):
        check_loadable({}, {"scipy": spec("==1.18.0")}, "img", "env")


@pytest.mark.parametrize(
    ("package", "running", "image"),
    [
        ("scikit-learn", "1.9.0rc1", "==1.9.0"),
        ("scikit-learn", "1.9.0.dev0", "==1.9.0"),
        ("scikit-learn", "1.9.0+local", "==1.9.0"),
        ("numpy", "2.5.1rc1", "==2.5.1"),
        ("joblib", "1.5.3a1", ">=1.4.0"),
    ],
)
def test_pre_release_dev_and_local_builds_are_refused(package, running, image):
    problem = load_problem(package, running, spec(image))
    assert problem is not None and "pre-release, dev or local build" in problem


def test_post_releases_count_as_releases():
    assert load_problem("joblib", "1.5.3.post1", spec(">=1.4.0")) is None
