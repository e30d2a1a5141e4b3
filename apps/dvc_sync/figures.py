"""The pipeline page's figure: a commit's stage or outputs graph with what hover and click show, drawn by
``core.dag``. Pure: plain data from ``selectors.pipeline_data`` in, a plotly figure out (no ORM, no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.template.defaultfilters import filesizeformat

from apps.core import dag
from apps.dvc_sync.selectors import PipelineData


def size_text(value: Any) -> str:
    return str(filesizeformat(value)).replace("\xa0", " ") if isinstance(value, int) else "size unknown"


def short_hash(value: str) -> str:
    return value[:10] + (".dir" if value.endswith(".dir") else "")


def _io_line(item: dict[str, Any]) -> str:
    digest = str(item.get("md5") or "")
    shown = f"{item.get('hash') or 'md5'} {short_hash(digest)}" if digest else "no hash"
    return f"  {item.get('path', '')}  {shown}  {size_text(item.get('size'))}"


def stage_hover(address: str, info: dict[str, Any]) -> list[str]:
    """A stage's hover lines: description, cmd, working directory, params with their locked values, deps and outs
    with their hashes and sizes. Plain text; the figure escapes it."""
    lines = [address]
    if info.get("desc"):
        lines.append(str(info["desc"]))
    if info.get("cmd"):
        lines.append(f"cmd: {info['cmd']}")
    if info.get("wdir") not in (None, "", "."):
        lines.append(f"wdir: {info['wdir']}")
    if info.get("frozen"):
        lines.append("frozen")
    for file, values in (info.get("params") or {}).items():
        lines.append(f"params ({file}):")
        lines += [f"  {key} = {value}" for key, value in (values or {}).items()]
    for title in ("deps", "outs"):
        if info.get(title):
            lines.append(f"{title}:")
            lines += [_io_line(item) for item in info[title]]
    if not info:
        lines.append("not described at this commit")
    return lines


def output_hover(path: str, pinned: dict[str, Any] | None) -> list[str]:
    """An output's hover lines: its hash, size, file count, producing stage and import source."""
    if pinned is None:
        return [path, "no version pinned here (not cached, or never committed)"]
    lines = [path, f"{pinned['hash_name'] or 'md5'} {pinned['hash_value']}", size_text(pinned["size"])]
    if pinned.get("nfiles") is not None:
        lines.append(f"{pinned['nfiles']} files")
    lines.append(f"output of {pinned['stage']}")
    if pinned.get("import_url"):
        lines.append(f"imported from {pinned['import_url']} @ {pinned['import_rev_lock'] or pinned['import_rev']}")
    return lines


def stage_kind(address: str, info: dict[str, Any], imported: set[str]) -> str:
    if not info:
        return "not in this commit"
    if address in imported:
        return "import"
    if info.get("frozen"):
        return "frozen stage"
    if address.endswith(".dvc") and not info.get("cmd"):
        return ".dvc file"
    return "stage"


def pipeline_figure(
    data: PipelineData, *, outputs: bool, stage_url: Callable[[str], str], data_url: Callable[[str], str]
) -> dict[str, Any]:
    """``{"nodes", "edges", "figure"}``: the graph as mirrored and its plotly figure. Stage nodes link to
    ``stage_url(address)``, output nodes to ``data_url(path)``."""
    nodes = [str(n) for n in data.graph.get("nodes", [])]
    edges = [[str(u), str(v)] for u, v in data.graph.get("edges", [])]
    hover: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    links: dict[str, str] = {}
    if outputs:
        for path in nodes:
            pinned = data.outputs.get(path)
            hover[path] = output_hover(path, pinned)
            if pinned is None:
                kinds[path] = "output"
            else:
                kinds[path] = "import" if pinned["import_url"] else "directory" if pinned["isdir"] else "output"
            links[path] = data_url(path)
    else:
        imported = {p["stage"] for p in data.outputs.values() if p["import_url"]}
        for address in nodes:
            info = data.stages.get(address) or {}
            hover[address] = stage_hover(address, info)
            kinds[address] = stage_kind(address, info, imported)
            links[address] = stage_url(address)
    figure = dag.dag_figure(nodes, edges, labels={}, hover=hover, links=links, kinds=kinds)
    return {"nodes": nodes, "edges": edges, "figure": figure}
