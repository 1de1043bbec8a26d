"""Command-line interface: the parser (parser.py), one function per command (commands.py),
rendering for the terminal and for GitHub (render.py, ui.py) and `main` with the one error
boundary (main.py). The only package that prints summaries and decides exit codes; nothing
imports it.
"""

from pipeline.cli.main import main
from pipeline.cli.parser import build_parser

__all__ = ["build_parser", "main"]
