"""The package's shape: data flows downhill (no import loop between its parts), and every default
of the command line is read from the config dataclass it fills."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "vasa"


def _imports() -> dict[str, set[str]]:
    """Module (dotted, under vasa) -> the vasa modules it imports, lazily or not."""
    out: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("vasa", *parts[:-1])) if parts[-1] == "__init__" else \
            ".".join(("vasa", *parts))
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        out[name] = {d for d in deps if d.startswith("vasa.") or d == "vasa"}
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of a directed graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def _part(module: str) -> str:
    """vasa.motion.engine -> motion; vasa.portrait -> portrait."""
    return module.split(".")[1] if "." in module else module


def test_parts_of_the_package_import_each_other_without_a_loop():
    """Subpackages (and top-level modules) form a DAG: pipelines -> motion -> data, never back."""
    graph: dict[str, set[str]] = {}
    for mod, deps in _imports().items():
        graph.setdefault(_part(mod), set()).update(_part(d) for d in deps if d != "vasa")
    for node, deps in graph.items():
        deps.discard(node)
    assert _cycle(graph) is None, f"import loop between parts of vasa: {_cycle(graph)}"
    assert "evaluation" not in graph["motion"] and "pipelines" not in graph["evaluation"]


def test_modules_inside_a_part_import_each_other_without_a_loop():
    """Inside a subpackage too (audio.features once imported audio.prosody, which imports it).
    A package's __init__ re-exports its modules, so it is left out as an importer."""
    imports = _imports()
    graph = {m: {d for d in deps if _part(d) == _part(m) and d != m and
                 d in imports and d != f"vasa.{_part(m)}"}
             for m, deps in imports.items() if m != f"vasa.{_part(m)}"}
    assert _cycle(graph) is None, f"import loop: {_cycle(graph)}"


def _defaults(parser, command: str) -> dict:
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {a.dest: a.default for a in sub._actions if a.dest != "help"}


def test_generate_defaults_come_from_the_config_dataclasses():
    from vasa.cli import build_parser
    from vasa.motion.controls import Controls
    from vasa.pipelines.config import GenerateConfig

    c, g = Controls(), GenerateConfig()
    p = build_parser()
    for command in ("generate", "demo"):
        d = _defaults(p, command)
        for f in fields(Controls):
            if f.name not in ("gaze", "emotion"):  # given as text, parsed into Controls
                assert d[f.name] == getattr(c, f.name), (command, f.name)
        assert d["gaze"] is None and d["emotion"] is None and c.gaze is None
        for name in ("size", "crop", "crf", "face_index", "hop", "lookahead"):
            assert d[name] == getattr(g, name), (command, name)
    assert c.cfg_emotion == 1.0  # one default for the CLI and the Python API alike


def test_train_prepare_and_serve_defaults_come_from_the_config_dataclasses():
    from vasa.cli import build_parser
    from vasa.data.prepare import PrepareConfig
    from vasa.evaluation.train_sync import TrainSyncConfig
    from vasa.motion.config import MotionConfig, TrainMotionConfig
    from vasa.motion.features import NUM_PCA
    from vasa.pipelines.config import ReenactConfig, StreamConfig

    p = build_parser()
    t, mc, tm = _defaults(p, "train"), MotionConfig(), TrainMotionConfig()
    for name in ("width", "layers", "heads", "window", "prev"):
        assert t[name] == getattr(mc, name), name
    for name in ("seed", "threads", "velocity_weight", "stop_at", "av_offsets"):
        assert t[name] == getattr(tm, name), name
    # None: each trainer's own config default (motion 32, refiner 32), read where it is used.
    assert t["batch"] is None and t["minutes"] is None and t["refiner_widths"] is None
    assert t["folds"] is None and TrainSyncConfig().folds == 5  # None: the config's default
    pr, pc = _defaults(p, "prepare"), PrepareConfig()
    assert (pr["fps"], pr["max_side"], pr["audio_features"]) == (pc.fps, pc.max_side,
                                                                  pc.audio_features)
    assert _defaults(p, "build-basis")["components"] == NUM_PCA
    sv, sc = _defaults(p, "serve"), StreamConfig()
    assert (sv["hop"], sv["lookahead"], sv["steps"]) == (sc.hop, sc.lookahead, sc.controls.steps)
    assert (sv["size"], sv["crop"]) == (sc.size, sc.crop)
    re, rc = _defaults(p, "reenact"), ReenactConfig()
    for name in ("size", "crop", "face_index", "fps", "crf"):
        assert re[name] == getattr(rc, name), name
    assert re["flow_scale"] == rc.render.flow_scale


def test_the_command_line_starts_without_torch():
    """Defaults come from plain dataclasses: `vasa --help` does not pay torch's 2.5 s import."""
    import subprocess
    import sys

    code = ("import sys; from vasa.cli import build_parser; build_parser(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_motion_rate_other_than_the_audio_features_is_refused(tmp_path, capsys):
    from vasa.cli import main
    from vasa.data.prepare import PrepareConfig

    with pytest.raises(ValueError, match="--fps: motion at 30 frames/s"):
        PrepareConfig(fps=30)
    assert main(["prepare", str(tmp_path), "-o", str(tmp_path / "ds"), "--fps", "30"]) == 2
    assert "fixed to 25 frames/s" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_a_basis_of_another_size_is_refused_by_name():
    """Above 24 components, PCA coefficients would be read as eye openness; below, numpy
    broadcasting failed somewhere inside. Now both say what is wrong."""
    import numpy as np

    from vasa.motion.features import to_features, to_latents

    for k in (20, 30):
        with pytest.raises(ValueError, match=f"basis of {k} PCA components.*num_pca = 24"):
            to_features(np.zeros((5, 6)), np.zeros((5, k + 4)))
        with pytest.raises(ValueError, match="num_pca = 24"):
            to_latents(np.zeros((5, 34)), np.zeros(6), np.zeros(k + 4))


def test_the_dynamics_layout_is_named_once():
    from vasa.latent.basis import default_basis
    from vasa.motion.config import MOTION_DIM
    from vasa.motion.features import FEATURES

    lay = default_basis().layout
    assert (lay.pca, lay.eyes, lay.gaze, lay.dim) == (slice(0, 24), slice(24, 26),
                                                      slice(26, 28), 28)
    f = FEATURES.dynamics
    assert (f.pca, f.eyes, f.gaze, FEATURES.dim) == (slice(6, 30), slice(30, 32),
                                                     slice(32, 34), MOTION_DIM)


def test_every_example_imports_what_it_uses():
    """The examples are run by hand, not by the suite: at least every name they import from
    the package exists (examples/tts_stream.py imported StreamFrame from where it no longer
    lived, and failed at its first line)."""
    import importlib

    for path in (PACKAGE.parents[1] / "examples").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vasa"):
                module = importlib.import_module(node.module)
                missing = [a.name for a in node.names if not hasattr(module, a.name)]
                assert not missing, f"{path.name}: {node.module} has no {missing}"
