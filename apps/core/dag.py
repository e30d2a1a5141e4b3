"""Directed graphs drawn as layered diagrams, left to right: the layout and the plotly figure.

The layout is grandalf's Sugiyama layout, the one ``dvc dag`` draws with: nodes in layers (a node's layer is after
every node it depends on), long edges routed through dummy points, and node order within each layer chosen to
reduce crossings. grandalf lays layers out top to bottom; here a layer is a column, so edges point to the right.

Pure functions over plain data (node names, ``(upstream, downstream)`` pairs, dicts of strings): no ORM, no I/O.
Every string that reaches the figure is HTML-escaped, because plotly renders a subset of HTML in text and hover.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import inf
from typing import Any

from grandalf.graphs import Edge, Vertex, graph_core
from grandalf.layouts import SugiyamaLayout

Point = tuple[float, float]

# grandalf sizes: one row per node along a layer, nodes at least a row apart; layers one unit apart.
_NODE = 0.5
_ORDER_PASSES = 4.5  # crossing-reduction sweeps (grandalf's ``draw(N)``; dvc dag uses 1.5)
_COMPONENT_GAP = 0.3
LABEL_CHARS = 30
# Above this many nodes the labels are left to the hover: hundreds of overlapping names cannot be read, and
# drawing them was most of plotly's time on a 500-node lineage.
LABELLED_NODES = 150
HOVER_WIDTH = 90
HOVER_LINES = 40

EDGE_COLOUR = "#9aa5b8"
# Kind → (colour, marker symbol). Kinds are free text (the legend shows them); unknown ones get a palette colour.
KIND_STYLES: dict[str, tuple[str, str]] = {
    "stage": ("#2f5bd3", "square"),
    "frozen stage": ("#7a8699", "square"),
    ".dvc file": ("#1d7a46", "circle"),
    "import": ("#8a3ffc", "diamond"),
    "output": ("#1d7a46", "circle"),
    "directory": ("#0891b2", "hexagon"),
    "not in this commit": ("#b42318", "x"),
    "import source": ("#8a3ffc", "diamond-open"),
    "imported data": ("#8a3ffc", "diamond"),
    "raw data": ("#1d7a46", "circle"),
    "data version": ("#0891b2", "circle"),
    "run": ("#d97706", "star"),
    "model version": ("#be185d", "hexagram"),
    "missing": ("#b42318", "x"),
}
# Edge style name → plotly line (lineage edges show their evidence: solid when verified or pinned, dotted when
# only probable, red when contradicting or missing).
EDGE_STYLES: dict[str, dict[str, Any]] = {
    "digest": {"color": "#1d7a46", "width": 2.6, "dash": "solid"},
    "commit": {"color": "#2f5bd3", "width": 2.0, "dash": "solid"},
    "data-commit": {"color": "#2f5bd3", "width": 2.0, "dash": "dash"},
    "commit-dirty": {"color": "#d97706", "width": 2.0, "dash": "dot"},
    "conflict": {"color": "#b42318", "width": 2.6, "dash": "dashdot"},
    "missing": {"color": "#b42318", "width": 1.6, "dash": "dot"},
}
# Arrowheads: marker size and how far (pixels) the tip stops short of the node's centre (its marker is 16 across).
ARROW_SIZE = 13.0
ARROW_STANDOFF = 9
_PALETTE = ["#d97706", "#0891b2", "#be185d", "#4d7c0f", "#6d28d9"]


@dataclass(frozen=True)
class Layout:
    """Node centres (x: the layer, left to right; y: the row, top to bottom) and each edge's polyline, from its
    upstream node's centre through the dummy points of the layers it crosses to its downstream node's centre."""

    positions: dict[str, Point]
    routes: dict[tuple[str, str], list[Point]]


class _VertexView:
    """What grandalf needs of a vertex: its size (w along a layer, h across layers); it writes the centre to xy."""

    def __init__(self) -> None:
        self.w = _NODE
        self.h = _NODE
        self.xy: Point = (0.0, 0.0)


def layout(nodes: Iterable[str], edges: Iterable[Sequence[str]]) -> Layout:
    """Lay a directed graph out in layers, left to right, with crossings reduced.

    Every edge goes from a lower x to a higher x (for a cycle, grandalf reverses a feedback edge, which then goes
    right to left). Self-loops are dropped; an edge's unknown end becomes a node. Connected components are stacked
    top to bottom, largest first; nodes without any edge are packed in a grid below them. The result depends only
    on the nodes and edges, not on their order."""
    pairs = sorted({(str(e[0]), str(e[1])) for e in edges if e[0] != e[1]})
    names = sorted(set(nodes) | {n for pair in pairs for n in pair})
    positions: dict[str, Point] = {}
    routes: dict[tuple[str, str], list[Point]] = {}
    components = _components(names, pairs)
    isolated = sorted(members[0] for members, _ in components if len(members) == 1)
    top = 0.0
    columns = 1
    for members, links in components:
        if len(members) == 1:
            continue
        # Built per component, vertices and edges in sorted order: grandalf's own split into components goes
        # through a set of edges, whose order (and so the layout) would change from one process to the next.
        vertices = {name: Vertex(name) for name in members}
        for vertex in vertices.values():
            vertex.view = _VertexView()
        component = graph_core(list(vertices.values()), [Edge(vertices[u], vertices[v]) for u, v in links])
        sug = SugiyamaLayout(component)
        sug.xspace = sug.yspace = _NODE
        sug.init_all(optimize=True)
        sug.draw(_ORDER_PASSES)
        rank = {v.data: sug.grx[v].rank for v in component.sV}
        # Rows along each layer: nodes and the dummy points of long edges, in grandalf's order (which is what
        # reduced the crossings), at least a row apart (grandalf's averaged coordinates may bring two together).
        along: dict[int, list[tuple[int, float, tuple[str, str] | str, int]]] = {}
        for vertex in component.sV:
            along.setdefault(rank[vertex.data], []).append((sug.grx[vertex].pos, vertex.view.xy[0], vertex.data, 0))
        bends: dict[tuple[str, str], list[int]] = {}
        for edge in component.sE:
            up, down = edge.v[0].data, edge.v[1].data
            dummies = sug.ctrls.get(edge, {})
            step = 1 if rank[up] < rank[down] else -1
            bends[(up, down)] = [r for r in range(rank[up] + step, rank[down], step) if r in dummies]
            for r in bends[(up, down)]:
                along.setdefault(r, []).append((dummies[r].pos, dummies[r].view.xy[0], (up, down), r))
        low = min(item[1] for items in along.values() for item in items)
        row: dict[tuple[str | tuple[str, str], int], float] = {}
        for items in along.values():
            previous = -inf
            for _, y, what, r in sorted(items, key=lambda item: item[0]):
                previous = max((y - low) / (2 * _NODE), previous + 1)
                row[(what, r)] = top + previous
        for name in members:
            positions[name] = (float(rank[name]), row[(name, 0)])
        for (up, down), ranks in bends.items():
            routes[(up, down)] = [positions[up], *((float(r), row[((up, down), r)]) for r in ranks), positions[down]]
        bottom = max(y for _, y in [*positions.values(), *(p for r in routes.values() for p in r)])
        top = bottom + 1 + _COMPONENT_GAP
        columns = max(columns, max(rank.values()) + 1)
    # Nodes without edges: a grid as wide as the widest component (at least 4), so they do not make a tall column.
    width = max(columns, 4)
    for i, name in enumerate(isolated):
        positions[name] = (float(i % width), top + i // width)
    return Layout(positions=positions, routes=routes)


def _components(names: list[str], pairs: list[tuple[str, str]]) -> list[tuple[list[str], list[tuple[str, str]]]]:
    """The connected components (their nodes and edges, sorted), largest first, then by their first node."""
    parent = {name: name for name in names}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for up, down in pairs:
        parent[find(up)] = find(down)
    members: dict[str, list[str]] = {}
    for name in names:
        members.setdefault(find(name), []).append(name)
    links: dict[str, list[tuple[str, str]]] = {}
    for pair in pairs:
        links.setdefault(find(pair[0]), []).append(pair)
    found = [(nodes, links.get(root, [])) for root, nodes in members.items()]
    return sorted(found, key=lambda c: (-len(c[0]), c[0][0]))


def layered_layout(nodes: Iterable[str], edges: Iterable[Sequence[str]]) -> dict[str, Point]:
    """Each node's centre in the layered layout: x is its layer (left to right), y its row (top to bottom)."""
    return layout(nodes, edges).positions


def escape(text: object) -> str:
    """Text as plotly shows it literally: plotly reads tags and entities (named ones only partly, numeric ones
    fully) in text and hover, so markup characters become entities it decodes back to the same characters."""
    return (
        str(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    """A label that fits beside its neighbours: long ones keep their end (a path's file name, a stage's name)."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def hover_html(lines: Iterable[str]) -> str:
    """Hover text from plain lines: wrapped, capped, each escaped, joined with plotly's line break."""
    wrapped: list[str] = []
    for line in lines:
        wrapped += textwrap.wrap(str(line), HOVER_WIDTH, replace_whitespace=False, drop_whitespace=False) or [""]
    if len(wrapped) > HOVER_LINES:
        wrapped = [*wrapped[: HOVER_LINES - 1], f"… {len(wrapped) - HOVER_LINES + 1} more lines"]
    return "<br>".join(escape(line) for line in wrapped)


def _kind_order(kind: str) -> tuple[int, str]:
    """Legend order: the known kinds in their table's order, then the others by name."""
    known = list(KIND_STYLES)
    return (known.index(kind), "") if kind in known else (len(known), kind)


def _style(kind: str, unknown: list[str]) -> tuple[str, str]:
    if kind in KIND_STYLES:
        return KIND_STYLES[kind]
    if kind not in unknown:
        unknown.append(kind)
    return _PALETTE[unknown.index(kind) % len(_PALETTE)], "circle"


def dag_figure(
    nodes: Iterable[str],
    edges: Iterable[Sequence[str]],
    *,
    labels: Mapping[str, str],
    hover: Mapping[str, Sequence[str]],
    links: Mapping[str, str],
    kinds: Mapping[str, str],
    edge_styles: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """A plotly figure (``{"data", "layout"}``, JSON-ready) of the graph in its layered layout: edges as grey
    polylines with an arrowhead at the downstream end, nodes as markers with their label, one trace (and legend
    entry) per kind. ``labels`` (default: the node name) are shortened to fit; ``hover`` gives each node's lines of
    hover text (default: its full label); ``links`` a URL per node, handed to the page in ``customdata`` for
    click-through. ``edge_styles`` names a style of ``EDGE_STYLES`` per edge (drawn as one legend entry each);
    other edges are grey. All text is escaped."""
    node_list = list(nodes)
    edge_list = [(str(e[0]), str(e[1])) for e in edges]
    placed = layout(node_list, edge_list)
    positions = placed.positions

    styled = edge_styles or {}
    # Per edge style: the polylines (None between edges) and each point's marker size, an arrowhead at each edge's
    # downstream end. The arrows are markers of the line's own trace rather than layout annotations: plotly.js lays
    # out and draws each annotation on its own, which for a few hundred edges took most of a second and a half.
    lines: dict[str, tuple[list[float | None], list[float | None], list[float]]] = {"": ([], [], [])}
    for edge, points in sorted(placed.routes.items()):
        style = styled.get(edge, "")
        xs, ys, sizes = lines.setdefault(style if style in EDGE_STYLES else "", ([], [], []))
        for x, y in points:
            xs.append(x)
            ys.append(y)
        sizes += [0.0] * (len(points) - 1) + [ARROW_SIZE, 0.0]
        xs.append(None)
        ys.append(None)
    traces: list[dict[str, Any]] = []
    for style in sorted(lines, key=lambda name: (name != "", list(EDGE_STYLES).index(name) if name else 0)):
        xs, ys, sizes = lines[style]
        # No backoff: by default plotly stops a line short of every arrow marker, hidden ones too (a gap at each
        # bend); the line's end runs under its arrowhead and the node instead.
        line = {**(EDGE_STYLES[style] if style else {"color": EDGE_COLOUR, "width": 1.4}), "backoff": 0}
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": escape(f"evidence: {style}") if style else "edges",
                "x": xs,
                "y": ys,
                "hoverinfo": "skip",
                "showlegend": bool(style),
                "line": line,
                # "previous": each marker turns to the direction of the segment that ends at it, in screen space
                # (so it stays right when the plot is resized or zoomed); standoff keeps the tip off the node.
                "marker": {
                    "symbol": "arrow",
                    "angleref": "previous",
                    "size": sizes,
                    "standoff": ARROW_STANDOFF,
                    "color": line["color"],
                    "line": {"width": 0},
                },
            }
        )
    labelled = len(positions) <= LABELLED_NODES
    groups: dict[str, list[str]] = {}
    for name in sorted(positions):
        groups.setdefault(kinds.get(name, "node"), []).append(name)
    unknown: list[str] = []
    for kind in sorted(groups, key=_kind_order):
        members = groups[kind]
        colour, symbol = _style(kind, unknown)
        traces.append(
            {
                "type": "scatter",
                "mode": "markers+text" if labelled else "markers",
                "name": escape(kind),
                "x": [positions[n][0] for n in members],
                "y": [positions[n][1] for n in members],
                "text": [escape(short_label(labels.get(n, n))) for n in members] if labelled else [],
                "textposition": "top center",
                "textfont": {"size": 12, "color": "#1d2330"},
                "hovertext": [hover_html(hover.get(n) or [labels.get(n, n)]) for n in members],
                "hoverinfo": "text",
                "customdata": [links.get(n, "") for n in members],
                "marker": {"size": 16, "color": colour, "symbol": symbol, "line": {"color": "#ffffff", "width": 1.5}},
                "cliponaxis": False,
            }
        )
    layers = max((x for x, _ in positions.values()), default=0.0)
    # A long edge may be routed through rows below the lowest node: the plot must hold it too.
    rows = max((y for points in placed.routes.values() for _, y in points), default=0.0)
    rows = max(rows, max((y for _, y in positions.values()), default=0.0))
    figure: dict[str, Any] = {
        "data": traces,
        "layout": {
            "height": int(max(240, min(4000, 110 + 70 * (rows + 1)))),
            "margin": {"l": 30, "r": 30, "t": 40, "b": 10},
            "xaxis": {"visible": False, "range": [-0.6, layers + 0.6], "fixedrange": False},
            "yaxis": {"visible": False, "range": [rows + 0.6, -0.8]},
            "showlegend": True,
            "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
            "hovermode": "closest",
            "dragmode": "pan",
            "plot_bgcolor": "#ffffff",
            "paper_bgcolor": "#ffffff",
            "hoverlabel": {
                "align": "left",
                "bgcolor": "#ffffff",
                "bordercolor": "#2f5bd3",
                "font": {"size": 12, "color": "#1d2330"},
            },
        },
    }
    if not labelled:
        figure["layout"]["annotations"] = [
            {
                "text": f"{len(positions)} nodes: hover a node for its name, scroll to zoom",
                "xref": "paper",
                "yref": "paper",
                "x": 1,
                "y": 1,
                "xanchor": "right",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12, "color": "#5b6474"},
            }  # fmt: skip
        ]
    return figure
