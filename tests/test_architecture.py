"""The tree is the architecture: no import cycles between files (imports inside functions
and under TYPE_CHECKING included), and imports point the documented way."""

from pathlib import Path

import pytest
from support.imports import cycles, import_graph

ROOT = Path(__file__).resolve().parent.parent
CORE = ("harness.config", "harness.capture", "harness.geo", "harness.sensitive", "harness.errors",
        "harness.names")
ABOVE_CORE = ("harness.cli", "harness.run", "harness.devices", "harness.proxy", "harness.instrument",
              "harness.analysis", "harness.report", "harness.diff", "harness.virtual", "addons")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT, ["harness", "addons"])


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_no_import_cycle_between_files(graph):
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_cycle_finder_names_a_cycle_through_function_level_and_type_checking_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.a import A\n")
    (pkg / "sub" / "a.py").write_text("class A: ...\ndef f():\n    from pkg import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n")
    (pkg / "c.py").write_text("from pkg.sub import a\n")
    (pkg / "d.py").write_text("from pkg.sub import A\n")  # the package, not a module: no cycle
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.d"] == {"pkg.sub"}
    assert cycles(graph) == [["pkg.b", "pkg.c", "pkg.sub.a", "pkg.b"]]


def test_core_imports_nothing_above_it(graph):
    bad = sorted(f"{m} -> {t}" for m, targets in graph.items() if _in(m, CORE)
                 for t in targets if _in(t, ABOVE_CORE))
    assert not bad, bad


def test_only_the_proxy_assembly_imports_the_addons(graph):
    allowed = ("harness.proxy.master", "harness.proxy.importer")
    bad = sorted(f"{m} -> {t}" for m, targets in graph.items() if m.startswith("harness.")
                 and m not in allowed for t in targets if _in(t, ("addons",)))
    assert not bad, bad


def test_only_the_code_that_starts_it_imports_the_virtual_handset(graph):
    allowed = ("harness.cli.virtual", "harness.devices.virtual_launch")
    bad = sorted(f"{m} -> {t}" for m, targets in graph.items()
                 if not _in(m, ("harness.virtual",)) and m not in allowed
                 for t in targets if _in(t, ("harness.virtual",)))
    assert not bad, bad
