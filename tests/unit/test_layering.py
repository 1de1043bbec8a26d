"""The import direction of DESIGN.md, checked on the source: cli → stages → shared →
{core, aws, local} → {errors, settings}. A violation names the module and the import."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PIPELINE = Path(__file__).resolve().parents[2] / "pipeline"
# Stages that run other stages in order, as the CLI would: the whole pipeline on one machine
# (deploy-local) and the workflows' own sandbox account (workflows bootstraps it).
ORCHESTRATORS = {
    "pipeline.stages.workstation.deploy_local",
    "pipeline.stages.workstation.workflows",
}


def imports() -> dict[str, set[str]]:
    """Every pipeline module and the pipeline modules it imports (at any depth)."""
    found = {}
    for path in PIPELINE.rglob("*.py"):
        parts = path.relative_to(PIPELINE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
        found[module] = names
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "pipeline"


def test_core_imports_only_the_standard_library_and_errors():
    stdlib = sys.stdlib_module_names
    for module, names in imports().items():
        if layer(module) != "core":
            continue
        for name in names:
            top = name.split(".")[0]
            assert top in stdlib or name.startswith(("pipeline.core", "pipeline.errors")), (
                f"{module} imports {name}"
            )


def test_nothing_imports_the_cli_and_nothing_below_stages_imports_a_stage():
    for module, names in imports().items():
        here = layer(module)
        for name in names:
            if here != "cli" and module != "pipeline.__main__":
                assert not name.startswith("pipeline.cli"), f"{module} imports {name}"
            if here in ("shared", "core", "aws", "local", "errors", "settings"):
                assert not name.startswith("pipeline.stages"), f"{module} imports {name}"


def test_stages_do_not_import_each_other():
    for module, names in imports().items():
        if layer(module) != "stages" or module in ORCHESTRATORS:
            continue
        others = {n for n in names if n.startswith("pipeline.stages.") and n != module}
        assert not others, (
            f"{module} imports the stages {sorted(others)}; share through pipeline.shared instead"
        )


def test_only_the_aws_wrappers_import_boto3():
    for module, names in imports().items():
        if layer(module) in ("aws", "local"):
            continue  # local: the sandbox's own emulator and runtime
        assert not {n for n in names if n.split(".")[0] in ("boto3", "botocore")}, module
