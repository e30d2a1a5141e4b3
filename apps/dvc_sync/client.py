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
from apps.dvc_sync.records import TrackedData

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


def tracked_data_of_tree(root: Path) -> list[TrackedData]:
    """Every output and data dependency the DVC files in the checked-out tree at ``root`` pin, with DVC's hash
    (md5, ``.dir`` for directories), size and file count, the frozen flag and import sources (``repo.url``, ``rev``,
    ``rev_lock`` for ``dvc import``; the URL for ``dvc import-url``). Params dependencies are not data and are left
    out. Raises ``SyncError`` when the tree's DVC files do not load."""
    from dvc.dependency.param import ParamsDependency
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    found: list[TrackedData] = []
    try:
        with Repo(str(root), config={"core": {"analytics": False, "check_update": False}}) as repo:
            base = repo.root_dir
            for stage in repo.index.stages:
                address = _label(stage, base)
                dvcfile = os.path.relpath(stage.path, base) if stage.path else ""
                source: dict[str, str] = {}
                if stage.is_import and stage.deps:
                    dep = stage.deps[0]
                    def_repo = getattr(dep, "def_repo", None) or {}
                    source = {
                        "import_url": str(def_repo.get("url") or dep.def_path),
                        "import_rev": str(def_repo.get("rev") or ""),
                        "import_rev_lock": str(def_repo.get("rev_lock") or ""),
                        "import_path": str(dep.def_path) if def_repo else "",
                    }
                for role, items in (("out", stage.outs), ("dep", [] if stage.is_import else stage.deps)):
                    for item in items:
                        if isinstance(item, ParamsDependency):
                            continue
                        info = item.hash_info
                        meta = item.meta
                        found.append(
                            TrackedData(
                                path=_label(item, base),
                                role=role,
                                stage=address,
                                dvcfile=dvcfile,
                                hash_name=(info.name or "") if info else "",
                                hash_value=str(info.value or "") if info and info.value else "",
                                size=meta.size if meta else None,
                                nfiles=meta.nfiles if meta else None,
                                isdir=bool(meta and meta.isdir) or bool(info and info.isdir),
                                frozen=bool(stage.frozen),
                                **(source if role == "out" else {}),
                            )
                        )
    except DvcException as exc:
        raise SyncError(
            f"DVC could not load the DVC files in {root}: {exc}",
            hint="Fix the DVC files of that commit; other commits are recorded as usual.",
        ) from exc
    return found
