"""The one place that imports ``dvc`` (and, later, ``scmrepo``): DVC's own view of a checked-out tree.

DVC's YAML semantics (``foreach``, ``matrix``, ``vars`` and ``${}`` templating, nested ``dvc.yaml`` files, ``wdir``,
params files, imports) and its ``.gitignore``/``.dvcignore`` rules are applied by DVC itself, never re-implemented.
Returns plain data (``graphs.py``) and turns DVC's failures into ``SyncError``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from apps.core.errors import SyncError
from apps.dvc_sync.graphs import Graph, Pipeline

os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def _label(node: Any, root: str) -> str:
    """DVC's own names for graph nodes (``Stage.addressing``, ``str(Output)``), taken relative to the DVC root as
    ``dvc dag`` run there shows them, not to this process's working directory."""
    from dvc.dvcfile import PROJECT_FILE
    from dvc.stage import PipelineStage, Stage

    if isinstance(node, Stage):
        if not node.path:
            return node.addressing
        path = os.path.relpath(node.path, root)
        if isinstance(node, PipelineStage):
            return node.name if path == PROJECT_FILE else f"{path}:{node.name}"
        return path
    if node.fs.protocol != "local" or os.path.isabs(node.def_path) or "://" in str(node.def_path):
        return str(node.def_path)
    if not node.fs.isin(node.fs_path, root):
        return str(node.fs_path)
    return str(node.fs.relpath(node.fs_path, root))


def _graph(dvc_graph: Any, root: str) -> Graph:
    """DVC's graphs point from a stage to what it depends on; ``dvc dag`` prints them reversed, downstream."""
    return Graph(
        nodes=frozenset(_label(n, root) for n in dvc_graph.nodes),
        edges=frozenset((_label(dep, root), _label(stage, root)) for stage, dep in dvc_graph.edges),
    )


def pipeline_of_tree(root: Path) -> Pipeline:
    """The pipeline DVC sees in the checked-out tree at ``root`` (a DVC root: the repository's, or a subproject's),
    exactly as ``dvc dag`` and ``dvc dag --outs`` show it there. Raises ``SyncError`` with DVC's reason when the
    tree's DVC files do not load (a malformed dvc.yaml or dvc.lock, a missing params file, a cycle)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(str(root), config={"core": {"analytics": False, "check_update": False}}) as repo:
            index = repo.index
            return Pipeline(stages=_graph(index.graph, repo.root_dir), outputs=_graph(index.outs_graph, repo.root_dir))
    except DvcException as exc:
        raise SyncError(
            f"DVC could not load the pipeline in {root}: {exc}",
            hint="Fix the DVC files of that commit; other commits are recorded as usual.",
        ) from exc
