"""The results cache: a key changes with any input or version; an entry is taken only with
its own key and versions; a damaged entry is a miss."""

from __future__ import annotations

from dataclasses import replace

from pipeline.settings import Settings
from pipeline.shared import results_cache


def test_the_key_covers_every_part_and_nothing_else(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.json"
    a.write_text("x: 1\n")
    b.write_text("{}")
    parts = results_cache.file_parts([a, b], tmp_path)
    assert set(parts) == {"file:a.yaml", "file:b.json"}
    key = results_cache.key(parts)
    assert results_cache.key(dict(reversed(list(parts.items())))) == key  # order-free
    a.write_text("x: 2\n")
    assert results_cache.key(results_cache.file_parts([a, b], tmp_path)) != key
    assert results_cache.key({**parts, "version:tool": "2"}) != key


def test_an_entry_is_taken_only_with_its_key_and_versions(tmp_path):
    settings = replace(Settings.from_env({}), build_dir=tmp_path)
    versions = {"cfn-lint": "1.0"}
    assert results_cache.load(settings, "lint", "k1", versions) is None
    results_cache.store(settings, "lint", "k1", versions, [{"tool": "t", "findings": []}])
    assert results_cache.load(settings, "lint", "k1", versions) == [{"tool": "t", "findings": []}]
    assert results_cache.load(settings, "lint", "k2", versions) is None
    assert results_cache.load(settings, "lint", "k1", {"cfn-lint": "1.1"}) is None
    assert results_cache.load(settings, "taskcat", "k1", versions) is None
    (tmp_path / "cache" / "lint.json").write_text("{not json")
    assert results_cache.load(settings, "lint", "k1", versions) is None
    (tmp_path / "cache" / "lint.json").write_text("[1, 2]")
    assert results_cache.load(settings, "lint", "k1", versions) is None


def test_a_cache_folder_that_cannot_be_written_is_a_configuration_error(tmp_path):
    import pytest

    from pipeline.errors import ConfigError

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where PIPELINE_CACHE_DIR points\n")
    settings = replace(Settings.from_env({}), build_dir=tmp_path, cache_dir_path=blocked)
    with pytest.raises(ConfigError, match="not-a-folder: cannot keep results there") as error:
        results_cache.store(settings, "lint", "k", {}, [])
    assert error.value.exit_code == 2 and "PIPELINE_CACHE_DIR" in str(error.value)
