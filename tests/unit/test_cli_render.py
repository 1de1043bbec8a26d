"""The CLI's rendering, error boundary and generated command reference."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.cli import reference
from pipeline.cli.render import Job, Table, colour_enabled
from tests.conftest import terminal_rows

ROOT = Path(__file__).resolve().parents[2]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_table_aligns_columns_and_parses_back():
    table = Table.of(
        ("stage", "time", "result"), [("train", "12.5s", "ok"), ("lint", "1s", "FAIL")], right=(1,)
    )
    text = table.terminal()
    assert text.splitlines()[0] == "stage   time  result"
    assert text.splitlines()[1] == "─────  ─────  ──────"
    assert text.splitlines()[3] == "lint      1s  FAIL"
    assert terminal_rows(text, "stage") == [["train", "12.5s", "ok"], ["lint", "1s", "FAIL"]]
    assert "\033[" not in text


def test_colour_only_on_a_terminal_and_never_with_no_color():
    coloured = Table.of(("result",), [("ok",), ("FAIL",)]).terminal(colour=True)
    assert "\033[32mok" in coloured and "\033[31mFAIL" in coloured
    assert colour_enabled(Tty(), {}) and not colour_enabled(io.StringIO(), {})
    assert not colour_enabled(Tty(), {"NO_COLOR": "1"})


def test_markdown_keeps_pipes_and_newlines_inside_their_cells():
    table = Table.of(("a", "b"), [("x|y", "line\nbreak")], title="t", right=(1,))
    assert table.markdown() == "### t\n\n| a | b |\n|---|---:|\n| x\\|y | line break |"


def test_a_row_of_the_wrong_width_is_a_bug():
    with pytest.raises(ValueError, match="has 1 cells, the header 2"):
        Table.of(("a", "b"), [("only",)])


def test_job_files_are_written_only_in_github_actions(tmp_path):
    Job({}).summary("nothing happens")
    summary, outputs = tmp_path / "summary.md", tmp_path / "out"
    job = Job({"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)})
    job.summary("### x")
    job.outputs({"digest": "ab"})
    assert summary.read_text() == "### x\n\n" and outputs.read_text() == "digest=ab\n"
    with pytest.raises(ValueError, match="holds a newline"):
        job.outputs({"digest": "a\nb=c"})


def test_a_bug_exits_3_with_internal_error_and_the_traceback(monkeypatch, capsys):
    from pipeline.cli import commands

    def broken(args, ctx):
        raise KeyError("oops")

    monkeypatch.setattr(commands, "image_uri", broken)
    assert cli.main(["image-uri", "--region", "eu-west-1"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error (KeyError: 'oops')" in err
    assert "please report it" in err


def test_the_readme_command_reference_is_the_parsers():
    readme = (ROOT / "README.md").read_text()
    assert reference.replaced(readme, reference.reference()) == readme, (
        "README.md's command reference differs from the parser: run "
        "`python -m pipeline.cli.reference --write README.md`"
    )
