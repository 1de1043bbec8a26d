"""What `train --on sagemaker` sends and takes back, on real files: the source folder that
becomes sourcedir.tar.gz (what is left out, what is refused, the same bytes every time) and
the model taken out of a job's model.tar.gz (only model.joblib, only as a regular file)."""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.core.project import DataSource
from pipeline.errors import ConfigError, TrainingFailed
from pipeline.settings import load_project
from pipeline.shared import training_jobs
from pipeline.shared.tarballs import write_tarball

ROOT = Path(__file__).resolve().parents[2]


def project_in(folder: Path):
    """The hyperparameters fixture project, moved to `folder` (its script and data there)."""
    base = load_project(
        ROOT / "tests" / "fixtures" / "projects" / "hyperparameters" / "pipeline.toml"
    )
    (folder / "train.py").write_text("print('fit')\n")
    (folder / "data.csv").write_text("x,label\n1,0\n")
    return replace(
        base,
        config_file=folder / "pipeline.toml",
        entry_point=folder / "train.py",
        train=DataSource(str(folder / "data.csv"), "csv"),
    )


def test_the_source_leaves_out_hidden_files_caches_builds_and_the_data(tmp_path):
    project = project_in(tmp_path)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "features.py").write_text("X = 1\n")
    (tmp_path / "lib" / "features.cpython-312.pyc").write_bytes(b"\0")
    for skipped in (".git", "__pycache__", "build"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "x").write_text("x")
    (tmp_path / ".env").write_text("SECRET=1")
    files = training_jobs.source_files(project, {Path(project.train.location).resolve()})
    assert sorted(files) == ["lib/features.py", "train.py"]


def test_a_symbolic_link_in_the_source_is_refused_naming_it(tmp_path):
    project = project_in(tmp_path)
    (tmp_path / "elsewhere.py").symlink_to("/etc/hostname")
    with pytest.raises(ConfigError, match=r"elsewhere.py: a symbolic link in the training source"):
        training_jobs.source_files(project, set())


def test_an_oversized_source_is_refused(tmp_path, monkeypatch):
    project = project_in(tmp_path)
    monkeypatch.setattr(training_jobs, "MAX_SOURCE_BYTES", 10)
    with pytest.raises(ConfigError, match=r"holds \d+ bytes, over 10; .*Move data"):
        training_jobs.source_files(project, set())


def test_the_source_tarball_has_the_same_bytes_whatever_the_files_times(tmp_path):
    project = project_in(tmp_path)
    files = training_jobs.source_files(project, set())
    write_tarball(tmp_path / "one.tar.gz", files)
    for path in files.values():
        os.utime(path, (1_000_000, 1_000_000))
        path.chmod(0o600)
    write_tarball(tmp_path / "two.tar.gz", files)
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "one.tar.gz") as tar:
        assert tar.extractfile("train.py").read() == b"print('fit')\n"


def model_archive(path: Path, members: list[tarfile.TarInfo], bodies: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            body = bodies.get(info.name)
            if body is not None:
                info.size = len(body)
            tar.addfile(info, io.BytesIO(body) if body is not None else None)
    return path


def test_only_model_joblib_is_taken_out_of_the_jobs_archive(tmp_path):
    archive = model_archive(
        tmp_path / "model.tar.gz",
        [tarfile.TarInfo("./model.joblib"), tarfile.TarInfo("../escape.py")],
        {"./model.joblib": b"model bytes", "../escape.py": b"import os"},
    )
    taken = training_jobs._extract_model(archive, tmp_path / "out", "s3://b/k")
    assert taken.read_bytes() == b"model bytes"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.joblib"]
    assert not (tmp_path / "escape.py").exists()


def test_a_model_joblib_that_is_a_link_is_refused(tmp_path):
    link = tarfile.TarInfo("model.joblib")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = model_archive(tmp_path / "model.tar.gz", [link], {})
    with pytest.raises(TrainingFailed, match="model.joblib is not a regular file"):
        training_jobs._extract_model(archive, tmp_path / "out", "s3://b/k")


def test_an_archive_without_model_joblib_says_what_it_holds_and_where_to_write(tmp_path):
    archive = model_archive(
        tmp_path / "model.tar.gz", [tarfile.TarInfo("model.pkl")], {"model.pkl": b"x"}
    )
    with pytest.raises(
        TrainingFailed, match=r"holds no model.joblib \(it holds model.pkl\).*SM_MODEL_DIR"
    ):
        training_jobs._extract_model(archive, tmp_path / "out", "s3://b/k")


def test_an_unreadable_archive_is_a_training_failure(tmp_path):
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not gzip")
    with pytest.raises(TrainingFailed, match="is not a readable model.tar.gz"):
        training_jobs._extract_model(archive, tmp_path / "out", "s3://b/k")
