"""deploy-local's packaging cache (package.run(use_cache=True)): an unchanged build is
reused, on real files; an input that changes, or an output that is no longer as it was
written, packages again, and the result is what packaging from scratch gives."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from pipeline.shared import config
from pipeline.shared.context import Context
from pipeline.shared.environment import package_versions
from pipeline.stages.build import package

OUTPUTS = ("model.tar.gz", "manifest.json", "statistics.json", "constraints.json")


@pytest.fixture
def build(built, tmp_path):
    """A copy of the session's trained and packaged build folder."""
    folder = tmp_path / "build"
    shutil.copytree(built.build_dir, folder)
    shutil.rmtree(folder / "cache", ignore_errors=True)
    return replace(built, build_dir=folder)


def digests(settings) -> dict[str, str]:
    return {name: config.sha256_file(settings.build_dir / name) for name in OUTPUTS}


def test_an_unchanged_build_is_reused_and_a_damaged_output_packages_again(build):
    first = package.run(Context(build), use_cache=True)
    assert not first.cached and first.cache_key
    written = digests(build)

    again = package.run(Context(build), use_cache=True)
    assert again.cached and again.cache_key == first.cache_key
    assert again.manifest == first.manifest and digests(build) == written

    for name in OUTPUTS:  # each output is checked, not only the artifact
        path = build.build_dir / name
        kept = path.read_bytes()
        path.write_bytes(kept + b"\n")
        redone = package.run(Context(build), use_cache=True)
        assert not redone.cached, name
        assert digests(build) == written, name  # packaging again gives the same bytes

    (build.build_dir / "statistics.json").unlink()
    assert not package.run(Context(build), use_cache=True).cached
    # `pipeline package` (no cache) always packages
    assert not package.run(Context(build)).cached
    assert package.run(Context(build), use_cache=True).cached


def test_the_key_covers_what_the_outputs_are_computed_from(build):
    image = config.load_serving_image(build)
    installed = package_versions(sorted(image.packages))
    git = {"commit": "0" * 40, "dirty": False}
    model = config.sha256_file(build.model_file)

    def key(**changes):
        args = {"model_sha256": model, "git": git, "installed": installed, **changes}
        return package.cache_key(build, **args)

    before = key()
    assert key() == before
    assert key(model_sha256="1" * 64) != before
    assert key(git={**git, "dirty": True}) != before  # the manifest records it
    assert key(installed={**installed, "scikit-learn": "0.0"}) != before

    golden = json.loads(build.golden_inputs_file.read_text())
    golden["rows"] = golden["rows"][:1]
    build.golden_inputs_file.write_text(json.dumps(golden))
    fewer_golden = key()
    assert fewer_golden != before

    channel = next(p for p in sorted(build.channels_dir.rglob("*")) if p.is_file())
    channel.write_bytes(channel.read_bytes() + b"\n")
    changed_channel = key()
    assert changed_channel != fewer_golden  # the baseline's training statistics come from it

    (build.build_dir / "notes.txt").write_text("not an input\n")
    (build.build_dir / "model.tar.gz").write_bytes(b"an output, never an input")
    assert key() == changed_channel


def test_a_build_kept_under_other_package_versions_is_not_reused(build, monkeypatch):
    first = package.run(Context(build), use_cache=True)
    assert not first.cached
    real = package.package_versions

    def other(names):
        return {**real(names), "joblib": "0.0.1"}

    monkeypatch.setattr(package, "package_versions", other)
    monkeypatch.setattr(package, "check_loadable", lambda *args: None)
    assert not package.run(Context(build), use_cache=True).cached
