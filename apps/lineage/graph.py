"""The lineage graph of a run (and the model version it produced): imports and raw data → stages → data versions →
run → model version, built with networkx from plain data. Pure: no ORM, no I/O; ``selectors`` gathers the input
and ``figures`` draws it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

MODEL = "model version"
RUN = "run"
DATA = "data version"
RAW = "raw data"
IMPORTED = "imported data"
IMPORT_SOURCE = "import source"
STAGE = "stage"
MISSING = "missing"


@dataclass(frozen=True)
class LinkInput:
    """One run ↔ data link as the graph needs it."""

    path: str
    md5: str
    size: int | None
    repo: str
    commit: str
    evidence: tuple[str, ...]
    detail: str = ""
    url: str = ""


@dataclass
class GraphInput:
    run_key: str
    run_label: str
    run_hover: list[str]
    run_url: str
    links: list[LinkInput]
    stages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    training_stage: str = ""
    imports: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # path -> (url, rev_lock)
    models: list[tuple[str, str, list[str], str]] = field(default_factory=list)  # (key, label, hover, url)
    stage_url: Callable[[str], str] = lambda address: ""
    data_url: Callable[[str, str], str] = lambda path, md5: ""
    commit: str = ""


def data_key(path: str) -> str:
    return f"data:{path}"


def build_graph(spec: GraphInput) -> nx.DiGraph:
    """The graph: every node has ``kind``, ``label``, ``hover`` (plain lines) and ``url``; every edge into the run
    has the link's ``evidence`` (strongest first)."""
    graph = nx.DiGraph()
    graph.add_node(spec.run_key, kind=RUN, label=spec.run_label, hover=spec.run_hover, url=spec.run_url)
    for key, label, hover, url in spec.models:
        graph.add_node(key, kind=MODEL, label=label, hover=hover, url=url)
        graph.add_edge(spec.run_key, key, evidence=())
    owners = {out["path"]: address for address, info in spec.stages.items() for out in info.get("outs", [])}
    direct = {dep["path"] for dep in spec.stages.get(spec.training_stage, {}).get("deps", [])}
    linked = {link.path for link in spec.links if link.path}

    def add_data(path: str, md5: str, size: int | None, extra: Iterable[str] = (), url: str = "") -> str:
        key = data_key(path)
        owner = owners.get(path, "")
        kind = DATA
        if path in spec.imports:
            kind = IMPORTED
        elif owner and not spec.stages.get(owner, {}).get("cmd"):
            kind = RAW
        hover = [path, f"md5 {md5}" if md5 else "no hash", _size(size)]
        if spec.commit:
            hover.append(f"commit {spec.commit[:10]}")
        if owner and spec.stages.get(owner, {}).get("cmd"):
            hover.append(f"output of stage {owner}")
        hover.extend(extra)
        if key not in graph:
            graph.add_node(key, kind=kind, label=path, hover=hover, url=url or spec.data_url(path, md5))
        return key

    for link in spec.links:
        if not link.path:
            key = "missing"
            graph.add_node(key, kind=MISSING, label="no data found", hover=["missing", link.detail], url="")
            graph.add_edge(key, spec.run_key, evidence=link.evidence)
            continue
        extra = [f"evidence: {', '.join(link.evidence)}", f"repo {link.repo}"]
        if link.commit:
            extra.append(f"pinned at {link.commit[:10]}")
        extra += [line for line in link.detail.splitlines() if line]
        key = add_data(link.path, link.md5, link.size, extra, link.url)
        if not direct or link.path in direct or not spec.training_stage:
            graph.add_edge(key, spec.run_key, evidence=link.evidence)

    # Upstream of every linked data version: the stage that produced it, that stage's data inputs, and so on.
    queue = [path for path in sorted(linked)]
    seen: set[str] = set()
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        owner = owners.get(path)
        info = spec.stages.get(owner or "", {})
        if path in spec.imports:
            url, rev_lock = spec.imports[path]
            source_key = f"import:{url}"
            graph.add_node(
                source_key, kind=IMPORT_SOURCE, label=url, url="",
                hover=[f"imported from {url}", f"rev_lock {rev_lock}" if rev_lock else "no rev_lock"],
            )  # fmt: skip
            graph.add_edge(source_key, data_key(path), evidence=())
        if not owner or not info.get("cmd"):
            continue
        stage_key = f"stage:{owner}"
        if stage_key not in graph:
            hover = [f"stage {owner}", f"cmd: {info.get('cmd', '')}"]
            graph.add_node(stage_key, kind=STAGE, label=owner, hover=hover, url=spec.stage_url(owner))
        graph.add_edge(stage_key, data_key(path), evidence=())
        for dep in info.get("deps", []):
            if dep["path"] in owners:
                dep_key = add_data(dep["path"], str(dep.get("md5") or ""), dep.get("size"))
                graph.add_edge(dep_key, stage_key, evidence=())
                queue.append(dep["path"])
    return graph


def _size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def graph_json(graph: nx.DiGraph) -> dict[str, list[dict[str, Any]]]:
    """Nodes and edges as the API returns them: ``{"nodes": [{"id", "kind", "label", "url"}], "edges": [{"source",
    "target", "evidence"}]}``, in a stable order."""
    return {
        "nodes": [
            {"id": key, "kind": data["kind"], "label": data["label"], "url": data.get("url", "")}
            for key, data in sorted(graph.nodes(data=True))
        ],
        "edges": [
            {"source": u, "target": v, "evidence": list(data.get("evidence", ()))}
            for u, v, data in sorted(graph.edges(data=True))
        ],
    }
