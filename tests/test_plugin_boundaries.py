"""Plugins meet only through the registry: no plugin package imports another (or is imported by
the core), and vidssl-methods needs neither OpenCV nor the IDT plugin."""
from __future__ import annotations

import ast
import tomllib

import pytest

from conftest import REPO

PACKAGES = {"vidssl": REPO / "core" / "vidssl",
            "vidssl_backbones": REPO / "plugins" / "backbones" / "vidssl_backbones",
            "vidssl_datasets": REPO / "plugins" / "datasets" / "vidssl_datasets",
            "vidssl_idt": REPO / "plugins" / "idt" / "vidssl_idt",
            "vidssl_methods": REPO / "plugins" / "methods" / "vidssl_methods"}


def imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level module → the files of ``package`` that import it (any import statement,
    including those inside functions)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGES[package].rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and \
                not node.level else []
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path.name)
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_package_imports_a_plugin_package(package):
    imports = imported_packages(package)
    crossing = {other: sorted(imports[other]) for other in PACKAGES
                if other not in (package, "vidssl") and other in imports}
    assert not crossing, f"{package} imports other plugin packages: {crossing}"


def test_methods_plugin_needs_no_opencv_and_no_other_plugin():
    assert "cv2" not in imported_packages("vidssl_methods")
    project = tomllib.loads((REPO / "plugins" / "methods" / "pyproject.toml").read_text())["project"]
    declared = " ".join(project["dependencies"] + sum(
        project.get("optional-dependencies", {}).values(), []))
    for name in ("opencv", "vidssl-idt", "vidssl-datasets", "vidssl-backbones", "faiss"):
        assert name not in declared, name
