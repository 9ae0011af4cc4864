"""Arrows one way. import-linter (pyproject.toml, run by `make lint`) checks the packages; it
takes packages only, so what the top-level modules import is checked here."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported(path: Path) -> set[str]:
    """Every module a file imports, at any depth in the file (imports inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def test_routes_do_not_import_the_worker_and_the_worker_does_not_import_the_routes():
    assert "worker" not in top(imported(ROOT / "routes.py"))
    for path in (ROOT / "worker").rglob("*.py"):
        assert not top(imported(path)) & {"routes", "app", "wsgi"}, path


def test_models_and_schemas_import_nothing_of_the_service():
    service = {"app", "routes", "wsgi", "web", "tasks", "worker", "sandbox"}
    assert not top(imported(ROOT / "models.py")) & service
    assert not top(imported(ROOT / "schemas.py")) & (service | {"models"})


def test_the_import_contracts_hold_and_would_catch_the_pipeline_importing_flask(tmp_path):
    """lint-imports passes on the tree, and fails on a copy whose pipeline imports Flask."""
    lint = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]
    kept = subprocess.run(lint, cwd=ROOT, capture_output=True, text=True)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    copy = tmp_path / "tree"
    subprocess.run(["cp", "-r", str(ROOT / "pipeline"), str(ROOT / "pyproject.toml"), str(tmp_path)], check=True)
    copy.mkdir()
    for name in ("pipeline", "pyproject.toml"):
        (tmp_path / name).rename(copy / name)
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
    for package in set(packages) - {"pipeline"}:  # empty stand-ins for the other checked packages
        (copy / package).mkdir()
        (copy / package / "__init__.py").write_text("")
    (copy / "pipeline" / "leak.py").write_text("import flask  # noqa: F401\nimport models  # noqa: F401\n")
    broken = subprocess.run(lint, cwd=copy, capture_output=True, text=True,
                            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert broken.returncode != 0
    assert "pipeline.leak -> flask" in broken.stdout and "pipeline.leak -> models" in broken.stdout
