"""The lineage graph's figure: a run's (or model version's) graph from ``graph.build_graph`` drawn by ``core.dag``
left to right, coloured by node kind, each run ↔ data edge styled by its strongest evidence. Pure: a networkx graph
in, a JSON-ready dict out (no ORM, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx

from apps.core import dag
from apps.lineage.graph import graph_json
from apps.lineage.models import Evidence

MIN_HEIGHT = 200  # pixels: a one-row lineage (a chain) and its legend


def same_site(url: object) -> str:
    """``url`` when it is a path on this site (``/…`` but not ``//host`` or ``/\\host``), else "": the page follows
    a node's link on click, and only links the dashboard built itself may be followed."""
    text = str(url or "")
    if text.startswith("/") and not text.startswith(("//", "/\\")):
        return text
    return ""


def lineage_figure(graph: nx.DiGraph) -> dict[str, Any]:
    """``{"figure", "nodes", "edges"}``: the plotly figure of ``graph`` and its nodes and edges as ``graph_json``
    lists them (what the page's note counts). Labels, hover lines (escaped by ``core.dag``), kinds and same-site
    links come from the node attributes; an edge with evidence is drawn in the style ``edge_style``
    picks for it (``core.dag.EDGE_STYLES``)."""
    nodes = [str(key) for key in graph.nodes]
    edges = [(str(u), str(v)) for u, v in graph.edges]
    attrs = {str(key): data for key, data in graph.nodes(data=True)}
    edge_styles = {
        (str(u), str(v)): edge_style(evidence)
        for u, v, evidence in graph.edges(data="evidence", default=())
        if evidence
    }
    figure = dag.dag_figure(
        nodes,
        edges,
        labels={key: str(data.get("label") or key) for key, data in attrs.items()},
        hover={key: [str(line) for line in data.get("hover") or []] for key, data in attrs.items()},
        links={key: same_site(data.get("url")) for key, data in attrs.items()},
        kinds={key: str(data.get("kind") or "node") for key, data in attrs.items()},
        edge_styles=edge_styles,
    )
    _fit_routes(figure)
    return {"figure": figure, **graph_json(graph)}


def edge_style(evidence: Sequence[str]) -> str:
    """The line style of a link with ``evidence`` (strongest first): its strongest kind, except that a
    contradiction or a gap is what the reader must see, so ``conflict`` and then ``missing`` win over the rest."""
    for alarm in (Evidence.CONFLICT, Evidence.MISSING):
        if alarm in evidence:
            return str(alarm)
    return str(evidence[0])


def _fit_routes(figure: dict[str, Any]) -> None:
    """Size the plot to what it draws: a lineage of one row needs less height than ``core.dag``'s minimum, which
    would leave the chain floating in white space."""
    ys = [y for trace in figure["data"] for y in trace.get("y", []) if y is not None]
    if not ys:
        return
    layout = figure["layout"]
    bottom = max(ys)
    layout["height"] = int(max(MIN_HEIGHT, min(4000, 110 + 70 * (bottom + 1))))
