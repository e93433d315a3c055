"""Sphinx configuration of the xling-harness documentation site.

Build locally (from the repository root): ``sphinx-build -W -b html docs docs/_build/html``.
Pages are MyST markdown; API pages come from the docstrings (numpy sections through
napoleon); the configuration reference is generated from the config models by
``docs/_ext/config_reference.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import harness  # noqa: E402

project = "xling-harness"
author = "xling-harness developers"
copyright = "the xling-harness developers"
release = version = harness.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "config_reference",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# Every page in `notes/` is listed by a glob toctree (index.md); `_incoming/` holds drafts that
# are not part of the site until they are moved into `notes/` (or another page).
exclude_patterns = ["_build", "_ext", "_incoming", "Thumbs.db", ".DS_Store"]
# Type fields of numpy sections name attributes that several classes share (``n_queries``,
# ``method``): Sphinx then warns that a cross-reference has more than one target. Such a link
# is ambiguous, not broken; every other warning fails the build (-W).
suppress_warnings = ["ref.python"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_mock_imports: list[str] = []

html_theme = "alabaster"
html_title = f"xling-harness {release}"
html_static_path = ["_static"]
html_theme_options = {
    "description": "a statistical benchmarking harness for cross-lingual retrieval",
    "page_width": "1240px",
    "sidebar_width": "240px",
}
