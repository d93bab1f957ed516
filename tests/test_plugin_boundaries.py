"""The architecture, checked: plugins meet only through the registry (no plugin package imports
another or is imported by the core; vidssl-methods needs neither OpenCV nor the IDT plugin),
plugins use only the API that ``vidssl`` exports, the core's subpackages import downwards only and
in no circle, the core names no plugin's component or argument, and the training loop stays in
small, simple pieces."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib

import pytest

from conftest import REPO

PACKAGES = {
    "vidssl": REPO / "core" / "vidssl",
    "vidssl_backbones": REPO / "plugins" / "backbones" / "vidssl_backbones",
    "vidssl_datasets": REPO / "plugins" / "datasets" / "vidssl_datasets",
    "vidssl_idt": REPO / "plugins" / "idt" / "vidssl_idt",
    "vidssl_methods": REPO / "plugins" / "methods" / "vidssl_methods",
}


def imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level module → the files of ``package`` that import it (any import statement,
    including those inside functions and ``if TYPE_CHECKING:`` blocks)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGES[package].rglob("*.py"):
        for _, name in imports_of(path, type_checking=True):
            found.setdefault(name.split(".")[0], set()).add(path.name)
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_package_imports_a_plugin_package(package):
    imports = imported_packages(package)
    crossing = {
        other: sorted(imports[other])
        for other in PACKAGES
        if other not in (package, "vidssl") and other in imports
    }
    assert not crossing, f"{package} imports other plugin packages: {crossing}"


def test_methods_plugin_needs_no_opencv_and_no_other_plugin():
    assert "cv2" not in imported_packages("vidssl_methods")
    project = tomllib.loads((REPO / "plugins" / "methods" / "pyproject.toml").read_text())["project"]
    declared = " ".join(project["dependencies"] + sum(project.get("optional-dependencies", {}).values(), []))
    for name in ("opencv", "vidssl-idt", "vidssl-datasets", "vidssl-backbones", "faiss"):
        assert name not in declared, name


# --------------------------------------------------------------------------------------------
# The API line and the core's layers
# --------------------------------------------------------------------------------------------

CORE = PACKAGES["vidssl"]
#: the core's subpackages, lowest first: a module imports only from its own layer or lower ones
#: (the API module ``vidssl/__init__.py`` and ``_deprecated.py`` sit above them all)
LAYERS = ["_common", "_distributed", "_plugin_system", "_config", "_speed", "_hooks", "_engine", "_cli"]
PLUGIN_SOURCES = [
    *(p for name, p in PACKAGES.items() if name != "vidssl"),
    REPO / "examples" / "vidssl-example-plugin" / "vidssl_example_plugin",
]


def imports_of(path, type_checking: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path`` (inside functions too; ``from m import n``
    gives ``m`` and ``m.n``), those in ``if TYPE_CHECKING:`` blocks (names for annotations only)
    only with ``type_checking``."""
    tree = ast.parse(path.read_text())
    skipped = (
        set()
        if type_checking
        else {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
    )
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _core_module(name: str) -> str | None:
    """The core module file (dotted, relative to ``vidssl``) that an imported name is, if any."""
    parts = name.split(".")
    while parts and parts[0] == "vidssl":
        relative = "/".join(parts[1:])
        if relative and ((CORE / f"{relative}.py").is_file() or (CORE / relative).is_dir()):
            return ".".join(parts)
        parts = parts[:-1]
        if len(parts) == 1:
            return None
    return None


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS)


def test_plugins_import_only_the_api():
    """A plugin (first-party or the example third-party one) imports ``vidssl`` itself, never a
    module behind it: everything it may use is exported there."""
    private = set()
    for source in PLUGIN_SOURCES:
        for path in source.rglob("*.py"):
            private |= {
                f"{path.relative_to(REPO)}:{line}: {_core_module(name)}"
                for line, name in imports_of(path)
                if name.startswith("vidssl.") and _core_module(name)
            }
    assert not private, "plugins importing private core modules:\n" + "\n".join(sorted(private))


def test_core_imports_no_higher_layer_and_has_no_import_circle():
    graph: dict[str, set[str]] = {}
    upward = []
    for path in CORE.rglob("*.py"):
        module = ".".join(("vidssl", *path.relative_to(CORE).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        if module in ("vidssl", "vidssl._deprecated"):
            continue
        for line, name in imports_of(path):
            target = _core_module(name)
            if target is None or target == module or not target.startswith("vidssl._"):
                if target == "vidssl":
                    upward.append(f"{path.relative_to(REPO)}:{line}: imports the API module")
                continue
            graph.setdefault(module, set()).add(target)
            if _layer(target) > _layer(module):
                upward.append(f"{path.relative_to(REPO)}:{line}: {module} → {target}")
    assert not upward, "imports of a higher layer:\n" + "\n".join(sorted(set(upward)))
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            raise AssertionError("import circle: " + " → ".join(trail[trail.index(module) :] + [module]))
        if module not in done:
            for target in sorted(graph.get(module, ())):
                visit(target, trail + [module])
            done.add(module)

    for module in sorted(graph):
        visit(module, [])


def _core_names() -> set[str]:
    """Names the core defines for plugins to follow: its config keys (run and stage), the
    attributes of its contracts and the conventions written there."""
    from vidssl._config.loading import CORE_SCHEMA, STAGE_PROPERTIES
    from vidssl._plugin_system import contracts

    names = set(STAGE_PROPERTIES)
    for key, schema in CORE_SCHEMA["properties"].items():
        names |= {key, *schema.get("properties", {})}
    for contract in (contracts.ClipDataset, contracts.Backbone, contracts.FeatureInfo):
        names |= set(getattr(contract, "__annotations__", {})) | set(vars(contract))
    return names | {contracts.NUM_CLASSES}


def test_core_names_no_plugin_component_or_argument():
    """Core code never spells a plugin's component name or one of its arguments (a string
    constant other than a docstring or a dict display's key): what the core needs of a component
    it asks the registry or a hook. Names the core itself defines (its config keys, its contracts)
    are the core's."""
    from vidssl import get_plugins

    plugin_components = [c for c in get_plugins().registry.all() if c.distribution != "vidssl"]
    components = {c.name for c in plugin_components}
    arguments = {a for c in plugin_components for a in c.schema.get("properties", {})}
    arguments -= _core_names()
    named = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        exempt = set()
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (
                isinstance(body, list)
                and body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
            ):
                exempt.add(id(body[0].value))  # a docstring
            if isinstance(node, ast.Dict):
                exempt |= {id(k) for k in node.keys if k is not None}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in exempt
                and node.value in components | arguments
            ):
                what = "component" if node.value in components else "argument"
                named.append(f"{path.relative_to(REPO)}:{node.lineno}: {what} '{node.value}'")
    assert not named, "the core names plugin components or arguments:\n" + "\n".join(named)


def test_the_training_loop_is_in_small_pieces_and_core_functions_are_simple():
    """Every function of the epoch and iteration code fits in 30 lines; every core function has
    a cyclomatic complexity of at most 15 (ruff's C90, configured in pyproject.toml)."""
    long = []
    for name in ("training.py", "optimizer_step.py"):
        path = CORE / "_engine" / name
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno >= 30:
                long.append(f"{name}: {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "C90", str(CORE)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-500:]


def test_the_old_module_paths_warn_and_forward():
    """The module paths plugins imported before the API line keep working for one release."""
    import importlib

    import vidssl

    for old, name in (
        ("vidssl.protocols", "ClipDataset"),
        ("vidssl.run_context", "RunContext"),
        ("vidssl.errors", "ConfigError"),
        ("vidssl.cli", "command_parser"),
    ):
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match=rf"{old} is deprecated"):
            module = importlib.import_module(old)
        assert getattr(module, name) is getattr(vidssl, name), old


#: a fresh process: the API and a frames-only dataset, then every exported name
LIGHT_START = """
import sys
import vidssl
dataset = vidssl.build("dataset", {"type": "video_files", "paths": ["a.avi"]}, views={})
print("torch" in sys.modules, sorted(vidssl.components("dataset")) != [])
missing = [name for name in vidssl.__all__ if getattr(vidssl, name, None) is None]
print("torch" in sys.modules, missing)
"""


def test_the_api_and_a_frames_only_dataset_import_no_torch():
    """``import vidssl`` and a ``video_files`` dataset without views (what ``vidssl-idt extract``
    reads) start without torch: the API's torch modules, the plugins' components of other kinds
    and the clip rendering are imported when first used. Every exported name still resolves, and
    the lazy ones are exactly those the module spells out for type checkers."""
    result = subprocess.run(
        [sys.executable, "-c", LIGHT_START], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:2] == ["False True", "True []"]

    import importlib

    import vidssl

    tree = ast.parse((CORE / "__init__.py").read_text())
    spelled_out = {
        alias.asname or alias.name: (node.module, alias.name)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert set(spelled_out) == set(vidssl._MODULE_OF_NAME) | set(vidssl._LAZY_MODULES)
    for name, (module, attribute) in spelled_out.items():
        parent = importlib.import_module(module)  # ``from module import attribute``:
        value = getattr(parent, attribute, None) or importlib.import_module(f"{module}.{attribute}")
        assert getattr(vidssl, name) is value, name
