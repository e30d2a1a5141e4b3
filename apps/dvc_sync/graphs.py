"""Pipeline graphs as plain data: what ``dvc dag`` and ``dvc dag --outs`` show, edges pointing downstream.

Pure functions over strings: no DVC, no ORM, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Graph:
    """Nodes (stage addresses, or output paths) and edges ``(upstream, downstream)``."""

    nodes: frozenset[str] = field(default_factory=frozenset)
    edges: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def upstream_of(self, node: str) -> set[str]:
        """Every node ``node`` depends on, directly or not."""
        parents: dict[str, set[str]] = {}
        for up, down in self.edges:
            parents.setdefault(down, set()).add(up)
        seen: set[str] = set()
        todo = [node]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen


@dataclass(frozen=True)
class Pipeline:
    """A commit's pipeline: the stage graph (``dvc dag``) and the outputs graph (``dvc dag --outs``)."""

    stages: Graph
    outputs: Graph


def graph_to_json(graph: Graph) -> dict[str, Any]:
    """The graph as stored: ``{"nodes": [...], "edges": [[upstream, downstream], ...]}``, sorted."""
    return {"nodes": sorted(graph.nodes), "edges": sorted([list(e) for e in graph.edges])}


def graph_from_json(data: dict[str, Any]) -> Graph:
    """The graph ``graph_to_json`` stored."""
    return Graph(nodes=frozenset(data.get("nodes", [])), edges=frozenset((u, v) for u, v in data.get("edges", [])))


def parse_dot(text: str) -> Graph:
    """Read the ``strict digraph`` that ``dvc dag --dot`` prints (one quoted node or edge per line)."""
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for raw in text.splitlines():
        line = raw.strip().rstrip(";")
        if not line.startswith('"'):
            continue
        if '" -> "' in line:
            up, down = line.split('" -> "', 1)
            edge = (up[1:], down[:-1])
            edges.add(edge)
            nodes.update(edge)
        else:
            nodes.add(line[1:-1])
    return Graph(nodes=frozenset(nodes), edges=frozenset(edges))


def to_dot(graph: Graph) -> str:
    """The graph in the form ``dvc dag --dot`` prints: the same header and footer, one quoted node per line, then one
    edge per line pointing downstream. ``dvc dag`` orders lines by directory order; here they are sorted."""
    lines = ["strict digraph {"]
    lines += [f'"{node}";' for node in sorted(graph.nodes)]
    lines += [f'"{up}" -> "{down}";' for up, down in sorted(graph.edges)]
    lines.append("}")
    return "\n".join(lines) + "\n\n"
