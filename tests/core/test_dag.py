"""The layered DAG layout and its plotly figure: pure functions, tested without a database."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from apps.core.dag import dag_figure, escape, layered_layout, layout

Point = tuple[float, float]

PIPELINE = [
    ("data/raw.csv.dvc", "prepare"),
    ("prepare", "featurize"),
    ("featurize", "train"),
    ("train", "evaluate"),
    ("featurize", "evaluate"),
    ("params.dvc", "train"),
    ("prepare", "evaluate"),
]


def _crosses(a: tuple[Point, Point], b: tuple[Point, Point]) -> bool:
    def side(p: Point, q: Point, r: Point) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    (p1, p2), (q1, q2) = a, b
    d1, d2, d3, d4 = side(q1, q2, p1), side(q1, q2, p2), side(p1, p2, q1), side(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def crossings(edges: list[tuple[str, str]], positions: dict[str, Point]) -> int:
    """Pairs of edges (drawn straight, not sharing an end) that cross."""
    count = 0
    for (a, b), (c, d) in itertools.combinations(edges, 2):
        if {a, b} & {c, d}:
            continue
        count += _crosses((positions[a], positions[b]), (positions[c], positions[d]))
    return count


def naive_positions(layers: list[list[str]]) -> dict[str, Point]:
    """Each layer in the order given: what a layout without crossing reduction draws."""
    return {node: (float(x), float(y)) for x, layer in enumerate(layers) for y, node in enumerate(layer)}


def test_every_edge_points_left_to_right() -> None:
    positions = layered_layout({n for e in PIPELINE for n in e}, PIPELINE)
    assert all(positions[up][0] < positions[down][0] for up, down in PIPELINE)
    assert positions["data/raw.csv.dvc"][0] == 0 and positions["evaluate"][0] == max(x for x, _ in positions.values())


def test_a_random_dag_points_left_to_right_and_no_two_nodes_share_a_place() -> None:
    rng = random.Random(7)
    nodes = [f"n{i}" for i in range(80)]
    edges = [(nodes[i], nodes[j]) for i in range(80) for j in range(i + 1, min(80, i + 6)) if rng.random() < 0.3]
    positions = layered_layout(nodes, edges)
    assert set(positions) == set(nodes)
    assert all(positions[u][0] < positions[v][0] for u, v in edges)
    assert len(set(positions.values())) == len(nodes)


def test_crossings_are_reduced_against_the_naive_order() -> None:
    # r feeds a..e; a..e feed v..z in reverse: in name order every pair of the second-layer edges crosses.
    top, bottom = list("abcde"), list("vwxyz")
    edges = [("r", t) for t in top] + list(zip(top, reversed(bottom), strict=True))
    naive = crossings(edges, naive_positions([["r"], top, bottom]))
    ours = crossings(edges, layered_layout(["r", *top, *bottom], edges))
    assert naive == 10
    assert ours <= naive and ours == 0


def test_crossings_on_the_pipeline_are_no_worse_than_the_naive_order() -> None:
    positions = layered_layout({n for e in PIPELINE for n in e}, PIPELINE)
    layers: dict[float, list[str]] = {}
    for node, (x, _) in sorted(positions.items()):
        layers.setdefault(x, []).append(node)
    naive = naive_positions([layers[x] for x in sorted(layers)])
    assert crossings(PIPELINE, positions) <= crossings(PIPELINE, naive)


def test_long_edges_bend_through_each_layer_they_cross() -> None:
    routes = layout([], PIPELINE).routes
    route = routes[("prepare", "evaluate")]
    assert [x for x, _ in route] == [1.0, 2.0, 3.0, 4.0]


def test_the_layout_does_not_depend_on_input_order() -> None:
    forward = layered_layout([], PIPELINE)
    assert layered_layout(reversed([n for e in PIPELINE for n in e]), list(reversed(PIPELINE))) == forward


def test_isolated_nodes_and_cycles_are_placed_too() -> None:
    positions = layered_layout(["lonely", "b", "a"], [("a", "b"), ("b", "c"), ("c", "a"), ("a", "a")])
    assert set(positions) == {"lonely", "a", "b", "c"}
    assert positions["lonely"][1] > max(positions[n][1] for n in "abc")


def test_the_figure_escapes_labels_and_hover_and_keeps_links() -> None:
    script, img = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"
    nodes = [f"data/{script}/x.csv", f"{img}.dvc"]
    figure = dag_figure(
        nodes,
        [(nodes[1], nodes[0])],
        labels={},
        hover={nodes[0]: [f"cmd: echo '{img}' > out & done"]},
        links={nodes[0]: "/data/demo/history/?path=x"},
        kinds={nodes[0]: "output", nodes[1]: ".dvc file"},
    )
    text = json.dumps(figure)
    assert script not in text and img not in text and "<b>" not in text
    markers = {t["name"]: t for t in figure["data"][1:]}
    assert set(markers) == {"output", ".dvc file"}
    out = markers["output"]
    assert out["text"] == ["…cript&gt;alert(1)&lt;/script&gt;/x.csv"]  # shortened, then escaped
    assert out["hovertext"] == ["cmd: echo &#39;&lt;img src=x onerror=alert(1)&gt;&#39; &gt; out &amp; done"]
    assert out["customdata"] == ["/data/demo/history/?path=x"] and markers[".dvc file"]["customdata"] == [""]
    assert markers[".dvc file"]["hovertext"] == [escape(nodes[1])]
    assert "annotations" not in figure["layout"]
    assert sum(1 for size in figure["data"][0]["marker"]["size"] if size) == 1  # one arrowhead per edge


def test_each_edge_ends_in_an_arrowhead_at_its_downstream_node_coloured_like_the_edge() -> None:
    styles = {("prepare", "evaluate"): "conflict", ("train", "evaluate"): "commit"}
    figure = dag_figure([], PIPELINE, labels={}, hover={}, links={}, kinds={}, edge_styles=styles)
    positions = layered_layout([], PIPELINE)
    heads: dict[str, list[Point]] = {}
    for trace in figure["data"]:
        if trace["mode"] != "lines+markers":
            continue
        marker = trace["marker"]
        assert marker["symbol"] == "arrow" and marker["angleref"] == "previous" and marker["standoff"] > 0
        assert marker["color"] == trace["line"]["color"]
        points = zip(trace["x"], trace["y"], marker["size"], strict=True)
        heads[trace["name"]] = sorted((x, y) for x, y, size in points if size)
    assert heads["evidence: conflict"] == [positions["evaluate"]]
    assert heads["evidence: commit"] == [positions["evaluate"]]
    others = [edge for edge in PIPELINE if edge not in styles]
    assert heads["edges"] == sorted(positions[down] for _, down in others)
    # "previous": an arrowhead turns to the segment that ends at it, so it must follow its edge's last bend.
    conflict = next(t for t in figure["data"] if t["name"] == "evidence: conflict")
    end = conflict["marker"]["size"].index(max(conflict["marker"]["size"]))
    assert conflict["x"][end - 1] is not None and conflict["x"][end - 1] < conflict["x"][end]


def test_long_labels_keep_their_end_and_hover_keeps_all() -> None:
    name = "very/long/directory/names/that/go/on/and/on/model.pkl"
    [trace] = dag_figure([name], [], labels={}, hover={}, links={}, kinds={})["data"][1:]
    assert trace["text"][0].endswith("on/model.pkl") and len(trace["text"][0]) <= 30
    assert trace["hovertext"] == [name]


def test_an_empty_graph_gives_an_empty_figure() -> None:
    figure = dag_figure([], [], labels={}, hover={}, links={}, kinds={})
    assert [t["name"] for t in figure["data"]] == ["edges"] and figure["data"][0]["x"] == []


def test_nodes_of_a_layer_never_overlap() -> None:
    for seed in range(25):
        rng = random.Random(seed)
        nodes = [f"n{i}" for i in range(40)]
        edges = [(nodes[i], nodes[j]) for i in range(40) for j in range(i + 1, 40) if rng.random() < 0.08]
        rows: dict[float, list[float]] = {}
        for x, y in layered_layout(nodes, edges).values():
            rows.setdefault(x, []).append(y)
        for ys in rows.values():
            ys.sort()
            assert all(b - a >= 1 for a, b in itertools.pairwise(ys)), seed


def test_the_layout_is_the_same_in_every_process() -> None:
    # grandalf keeps some edges in sets; a page must not redraw differently from one server process to the next.
    code = (
        "import json, random; from apps.core.dag import layered_layout; r = random.Random(3); "
        "n = [f'n{i}' for i in range(60)]; "
        "e = [(n[i], n[j]) for i in range(60) for j in range(i + 1, min(60, i + 7)) if r.random() < 0.3]; "
        "print(json.dumps(sorted(layered_layout(n, e).items())))"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_a_graph_too_big_to_label_leaves_names_to_the_hover() -> None:
    from apps.core.dag import LABELLED_NODES

    names = [f"n{i}" for i in range(LABELLED_NODES + 1)]
    edges = list(zip(names, names[1:], strict=False))
    figure = dag_figure(names, edges, labels={}, hover={}, links={}, kinds={})
    nodes = [t for t in figure["data"] if t["mode"].startswith("markers") and t["name"] == "node"]
    assert nodes and all(t["mode"] == "markers" and t["text"] == [] for t in nodes)
    assert all(t["hovertext"] for t in nodes)
    assert "hover a node for its name" in figure["layout"]["annotations"][0]["text"]
    small = dag_figure(names[:3], edges[:2], labels={}, hover={}, links={}, kinds={})
    assert "annotations" not in small["layout"] and [t["text"] for t in small["data"] if t["name"] == "node"] == [
        ["n0", "n1", "n2"]
    ]
