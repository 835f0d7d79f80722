"""The architecture holds: layers only point down, no import cycles, no GNU Radio in the library, the
symbol steps written once, small files.

Imports are read from the source (every ``import`` statement, also inside functions), so a lazy import
counts like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"semcom_core": REPO / "semcom_core", "gnuradio.semcom": REPO / "gr-semcom" / "python" / "semcom"}

#: semcom_core's layers, lowest first; a module may import its own layer and those below.
CORE_LAYERS = (
    ("core", {"__init__", "units", "records", "channels", "symbols", "models", "losses", "data", "metrics"}),
    ("link", {"link", "baselines"}),
    ("methods", {"methods"}),
    ("bundles", {"bundles"}),
    ("runs", {"runs"}),
    ("experiments", {"experiments"}),
    ("cli", {"cli"}),
)
#: gr-semcom's layers (the QA tests and their helpers, ``testing``, are left out).
GR_LAYERS = (
    ("base", {"base"}),
    ("blocks", {"__init__", "phy", "channel", "digital_rx", "digital_tx", "image_source", "jscc_rx", "jscc_tx",
                "metrics_sink", "mijscc_rx", "mijscc_tx", "ofdm_rx", "ofdm_tx", "snr_schedule", "tdl_channel",
                "air_monitor", "rgbd_source", "rgbd_device_tx", "rgbd_device_rx", "rgbd_server",
                "mfmsc_source", "mfmsc_tx", "mfmsc_rx", "task_metrics_sink"}),
    ("running", {"running"}),
    ("bench", {"bench", "plots"}),
    ("cli", {"cli"}),
)
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _imported(module: str, path: Path, tree: ast.AST) -> set[str]:
    """Names this module imports, resolved to modules of :data:`MODULES` where they are ours."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
            names.add(prefix)
    resolved = set()
    for name in names:
        parts = name.split(".")
        while parts and ".".join(parts) not in MODULES:
            parts.pop()
        resolved.add(".".join(parts) if parts else name)
    return resolved - {module}


GRAPH = {m: _imported(m, p, ast.parse(p.read_text())) for m, p in MODULES.items()}


def _layer(module: str):
    """(package, rank) of a module, or None for modules outside the layering (tests)."""
    for package, layers in (("semcom_core", CORE_LAYERS), ("gnuradio.semcom", GR_LAYERS)):
        if module == package or module.startswith(package + "."):
            rest = module[len(package) + 1:].split(".")[0] or "__init__"
            for rank, (_, members) in enumerate(layers):
                if rest in members:
                    return package, rank
            return None
    return None


def test_every_module_has_a_layer():
    unplaced = [m for m in MODULES if _layer(m) is None and not m.split(".")[-1].startswith(("qa_", "testing"))]
    assert not unplaced, f"modules in no layer (add them to the layer tables): {unplaced}"


def test_the_library_never_imports_gnuradio():
    offenders = {m: sorted(d for d in deps if d == "gnuradio" or d.startswith("gnuradio."))
                 for m, deps in GRAPH.items() if m.startswith("semcom_core")}
    assert not {m: d for m, d in offenders.items() if d}


def test_imports_only_point_down():
    upward = []
    for module, deps in GRAPH.items():
        here = _layer(module)
        for dep in deps:
            there = _layer(dep)
            if here and there and here[0] == there[0] and there[1] > here[1]:
                upward.append(f"{module} -> {dep}")
    assert not upward, "imports that point up a layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    ours = {m: {d for d in deps if d in MODULES} for m, deps in GRAPH.items()}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):   # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in ours[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in ours:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("name", ["quantize", "dequantize", "map", "demap", "soft_demap", "to_symbols",
                                  "from_symbols", "normalize_power", "real_to_complex", "complex_to_real"])
def test_each_step_of_the_symbol_chain_is_written_once(name):
    defined = [m for m, p in MODULES.items()
               if any(isinstance(n, ast.FunctionDef) and n.name == name for n in ast.walk(ast.parse(p.read_text())))
               and not m.split(".")[-1].startswith("qa_")]
    assert len(defined) == 1 and defined[0].startswith("semcom_core.symbols."), defined


def test_complex_packing_lives_in_the_symbols_package():
    """Latents become symbols only through semcom_core.symbols (no view_as_complex elsewhere)."""
    elsewhere = [m for m, p in MODULES.items() if not m.startswith("semcom_core.symbols")
                 and ("view_as_complex" in p.read_text() or "view_as_real" in p.read_text())]
    assert not elsewhere


def test_no_file_is_longer_than_the_limit():
    long = {str(p.relative_to(REPO)): n for p in MODULES.values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"
