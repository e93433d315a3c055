"""Expose the third-party example plugin (``examples/harness-lang-center``) as a distribution.

:func:`install_example_plugin` installs the package into a directory the way a wheel
install would lay it out: the package sources plus ``<name>-<version>.dist-info`` with
``METADATA``, ``entry_points.txt`` (read from the example's own ``pyproject.toml``),
``top_level.txt`` and ``RECORD``.  :func:`exposed_example_plugin` puts that directory on
``sys.path`` and re-runs entry-point discovery, so the harness finds the plugin exactly as
it would after ``pip install``, without changing the harness; ``env`` gives the same for
subprocesses (``harness run ...``) through ``PYTHONPATH``.

Reuse from another test directory (``tests/`` is not a package, so load it by path)::

    import importlib.util, pathlib
    spec = importlib.util.spec_from_file_location(
        "harness_tests_example_plugin", pathlib.Path("tests/methods/example_plugin.py"))
    helper = importlib.util.module_from_spec(spec); spec.loader.exec_module(helper)
    with helper.exposed_example_plugin(tmp_path / "site") as plugin:
        subprocess.run(["harness", "methods"], env=plugin.env(), check=True)
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import tomllib

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "harness-lang-center"


@dataclass(frozen=True)
class ExposedPlugin:
    """Where the example plugin is installed and what it provides."""

    site: Path  # directory to put on sys.path / PYTHONPATH
    distribution: str  # distribution name, e.g. "harness-lang-center"
    version: str
    methods: dict[str, str]  # entry point name -> "module:Class"
    modules: tuple[str, ...]  # top-level import names

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """A copy of ``base`` (default ``os.environ``) with :attr:`site` first on ``PYTHONPATH``."""
        env = dict(os.environ if base is None else base)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.site), env.get("PYTHONPATH", "")) if p)
        return env


def _record_line(root: Path, path: Path) -> str:
    data = path.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path.relative_to(root).as_posix()},sha256={digest},{len(data)}"


def install_example_plugin(site: Path, source: Path = EXAMPLE_DIR) -> ExposedPlugin:
    """Install the example package at ``source`` into ``site`` (a wheel-style layout)."""
    meta = tomllib.loads((source / "pyproject.toml").read_text())
    project = meta["project"]
    name, version = project["name"], project["version"]
    eps = dict(project["entry-points"]["harness.methods"])
    src = source / "src"
    modules = tuple(sorted(p.name for p in src.iterdir() if p.is_dir() and (p / "__init__.py").is_file()))
    site.mkdir(parents=True, exist_ok=True)
    for mod in modules:
        shutil.copytree(src / mod, site / mod, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    requires = "".join(f"Requires-Dist: {d}\n" for d in project.get("dependencies", []))
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {project.get('description', '')}\n{requires}"
    )
    (info / "entry_points.txt").write_text("[harness.methods]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    (info / "top_level.txt").write_text("".join(f"{m}\n" for m in modules))
    (info / "INSTALLER").write_text("harness-tests\n")
    files = [p for m in modules for p in sorted((site / m).rglob("*")) if p.is_file()]
    files += [info / n for n in ("METADATA", "entry_points.txt", "top_level.txt", "INSTALLER")]
    (info / "RECORD").write_text("".join(_record_line(site, p) + "\n" for p in files) + f"{info.name}/RECORD,,\n")
    return ExposedPlugin(site=site, distribution=name, version=version, methods=eps, modules=modules)


@contextmanager
def exposed_example_plugin(site: Path) -> Iterator[ExposedPlugin]:
    """Install into ``site``, add it to ``sys.path`` and re-discover plugins; undo on exit."""
    from harness import registry

    plugin = install_example_plugin(site)
    sys.path.insert(0, str(plugin.site))
    importlib.invalidate_caches()
    registry.discover(force=True)
    try:
        yield plugin
    finally:
        if str(plugin.site) in sys.path:
            sys.path.remove(str(plugin.site))
        for name in plugin.methods:
            registry.unregister_method(name)
        for mod in list(sys.modules):
            if mod.split(".")[0] in plugin.modules:
                del sys.modules[mod]
        importlib.invalidate_caches()
        registry.discover(force=True)
