"""The lineage graph drawn in a browser, timed: gunicorn serving the dashboard on the bench database, headless
Chromium (Playwright) logged in as the bench user, ``performance.now()`` in the page from the navigation's start to
the graph's ``data-ready="1"``, with where the time went (Navigation and Resource Timing)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.core import dag
from apps.core.bench import BenchError, Figure, free_port, serving
from apps.lineage import selectors
from apps.lineage.bench import data as benchdata
from apps.lineage.bench.timing import Write, bench_client, page_url, percentile, time_each
from apps.mlflow_sync.models import ModelVersion

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
TARGET_DRAW_S = 1.0  # the issue: a 500-node lineage graph drawn in a second


_READY_OBSERVER = """
(() => {
  const mark = () => { if (window.__benchReadyAt === undefined) { window.__benchReadyAt = performance.now(); } };
  new MutationObserver((records) => {
    for (const r of records) { if (r.target.getAttribute && r.target.getAttribute("data-ready") === "1") { mark(); } }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
})();
"""
# A page of the dashboard's origin with the vendored plotly that fetches a figure and draws it, as the pages do.
_BLANK = """<!doctype html><html><head><meta charset="utf-8"><script src="/static/vendor/plotly.min.js"></script></head>
<body><div id="graph"></div><script>
fetch(%s, {credentials: "same-origin", headers: {Accept: "application/json"}})
  .then((r) => r.json())
  .then((body) => { const fig = body.figure || body;
    return Plotly.newPlot("graph", fig.data, fig.layout, {displaylogo: false, responsive: true}); })
  .then(() => { document.getElementById("graph").dataset.ready = "1"; })
  .catch((e) => { window.__benchError = String(e); });
</script></body></html>"""


def _in_process_figure(version: ModelVersion) -> dict[str, Any]:
    """The version's lineage graph drawn as the dashboard's DAG figures are (``core.dag.dag_figure``)."""
    graph = selectors.version_lineage(version).graph
    nodes = dict(graph.nodes(data=True))
    return dag.dag_figure(
        list(nodes), list(graph.edges()),
        labels={n: d["label"] for n, d in nodes.items()}, hover={n: d["hover"] for n, d in nodes.items()},
        links={n: d.get("url", "") for n, d in nodes.items()}, kinds={n: d["kind"] for n, d in nodes.items()},
        edge_styles={(u, v): d["evidence"][0] for u, v, d in graph.edges(data=True) if d.get("evidence")},
    )  # fmt: skip


def graph_version(data: benchdata.BenchData) -> tuple[ModelVersion, int]:
    """The model version with the largest lineage graph among those whose run is joined to the wide pipeline (any
    version when none is), with its node count."""
    versions = list(
        ModelVersion.objects.filter(source__name=benchdata.MLFLOW_SOURCE, run__lineage__dvc_source=data.wide_source)
        .select_related("model", "source", "run")
        .order_by("pk")[:10]
    ) or list(ModelVersion.objects.filter(source__name=benchdata.MLFLOW_SOURCE).select_related("model", "source")[:10])
    if not versions:
        raise BenchError("The joined store has no model versions.")
    sized = [(len(selectors.version_lineage(v).graph), v.pk, v) for v in versions]
    nodes, _, version = max(sized, key=lambda t: t[:2])
    return version, nodes


@contextmanager
def dashboard_server(folder: Path) -> Iterator[str]:
    """gunicorn serving the dashboard (``make run``'s server, two workers) on a free 127.0.0.1 port with this
    environment (so this database), in its own process group; yields its URL and stops the group on the way out.
    Raises ``BenchError`` when it does not answer within 60 s."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "lineage_site.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", "2", "--timeout", "120"]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with serving(
        command, ready_url=url + "/static/vendor/plotly.min.js", name="gunicorn",
        log_path=folder / f"dashboard-{port}.log", cwd=settings.BASE_DIR, env=dict(os.environ), timeout_s=60,
    ):  # fmt: skip
        yield url


@dataclass
class DrawPlan:
    """What the browser draws: the page (when served), the graph endpoint, and the figure built here."""

    page_url: str
    graph_url: str
    figure: dict[str, Any]
    nodes: int
    username: str
    password: str


def draw_times(base: str, plan: DrawPlan, draws: int, write: Write) -> tuple[list[dict[str, float]], str]:
    """Draw the graph ``draws`` times after one warm-up draw (a new navigation each), in headless Chromium logged
    in as the bench user. Tries, in order: the model version page (navigation start → ``data-ready="1"``); a blank
    page of the dashboard's origin loading the vendored plotly, fetching the graph endpoint and drawing it; the same
    page drawing the figure built in this process. Returns (each draw's phases, ``_draw_once``; which way). No ORM in here:
    Playwright's sync API runs an event loop, and Django refuses ORM calls under one."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise BenchError(f"The system Chromium is missing at {CHROMIUM}: apt-get install chromium, or --skip-browser.")
    figure_body = json.dumps(plan.figure)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=base)
            context.add_init_script(_READY_OBSERVER)
            page = context.new_page()
            page.route("**/__bench_lineage__/figure.json", lambda r: r.fulfill(
                status=200, content_type="application/json", body=figure_body))  # fmt: skip
            for path, source in (("endpoint", plan.graph_url), ("figure", "/__bench_lineage__/figure.json")):
                body = _BLANK % json.dumps(source)
                page.route(f"**/__bench_lineage__/{path}/", lambda r, b=body: r.fulfill(
                    status=200, content_type="text/html", body=b))  # fmt: skip
            logged_in = _login(page, plan)
            ways = [("page", plan.page_url, "the model version page")] if logged_in and plan.page_url else []
            if logged_in and plan.graph_url:
                ways.append(("endpoint", "/__bench_lineage__/endpoint/", "plotly.newPlot of the graph endpoint"))
            ways.append(("figure", "/__bench_lineage__/figure/", "plotly.newPlot of the figure built in-process"))
            for _, url, how in ways:
                done = []
                try:
                    for _ in range(draws + 1):
                        done.append(_draw_once(page, url))
                        write(f"    {phases_text(done[-1])}")
                except (PlaywrightError, BenchError) as exc:
                    write(f"  {how}: {str(exc).splitlines()[0][:160]}; next way")
                    continue
                return done[1:], how
        finally:
            browser.close()
    raise BenchError("The lineage graph could not be drawn in the browser in any way.")


def _login(page: Any, plan: DrawPlan) -> bool:
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.goto("/login/")
        page.fill("#id_username", plan.username)
        page.fill("#id_password", plan.password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url, timeout=15_000)
        return True
    except PlaywrightError:
        return False


_PHASES = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  const end = (part) => { const r = res.find((e) => e.name.includes(part)); return r ? r.responseEnd : null; };
  const start = (part) => { const r = res.find((e) => e.name.includes(part)); return r ? r.startTime : null; };
  return { html: nav ? nav.responseEnd : null, plotly: end("plotly.min.js"), dom: nav ? nav.domContentLoadedEventEnd : null,
           fetch: start(".json"), json: end(".json"), drawn: window.__benchReadyAt };
}"""


def _draw_once(page: Any, url: str) -> dict[str, float]:
    """Navigate to ``url`` and return when (ms from the navigation's start) the HTML arrived, plotly.min.js
    arrived, the DOM was ready, the graph's JSON was asked for and arrived, and the graph was drawn (``drawn``:
    ``data-ready`` set). Raises ``BenchError`` for a page that is not 200 or whose drawing failed."""
    response = page.goto(url, wait_until="commit")
    if response is not None and response.status != 200:
        raise BenchError(f"{url} answered {response.status}")
    page.wait_for_function("window.__benchReadyAt !== undefined || window.__benchError !== undefined", timeout=60_000)
    error = page.evaluate("window.__benchError")
    if error:
        raise BenchError(f"{url}: {error}")
    return {k: float(v) for k, v in page.evaluate(_PHASES).items() if v is not None}


def phases_text(phases: dict[str, float]) -> str:
    """Where a draw's time went, e.g. "HTML at 120 ms, plotly.min.js at 640 ms, graph JSON 700-1400 ms, drawn at
    2900 ms (newPlot and layout 1500 ms)"."""
    parts = [f"HTML at {phases['html']:.0f} ms"] if "html" in phases else []
    if "plotly" in phases:
        parts.append(f"plotly.min.js at {phases['plotly']:.0f} ms")
    if "fetch" in phases and "json" in phases:
        parts.append(f"graph JSON {phases['fetch']:.0f}-{phases['json']:.0f} ms")
    if "drawn" in phases:
        after = f" (newPlot {phases['drawn'] - phases['json']:.0f} ms)" if "json" in phases else ""
        parts.append(f"drawn at {phases['drawn']:.0f} ms{after}")
    return ", ".join(parts)


def browser_figures(data: benchdata.BenchData, user: User, folder: Path, draws: int, write: Write) -> list[Figure]:
    version, nodes = graph_version(data)
    client = bench_client(user)
    try:
        version_url = page_url(version)
        graph_url = reverse("lineage:model_version_graph", args=[version.model.name, version.version])
    except Exception:  # the pages are somebody's work in progress
        version_url = graph_url = ""
    server_s, server_how = _graph_server_time(client, graph_url, version)
    password = secrets.token_urlsafe(24)
    user.set_password(password)
    user.save(update_fields=["password"])
    plan = DrawPlan(version_url, graph_url, _in_process_figure(version), nodes, user.get_username(), password)
    write(f"Lineage graph of {version.model.name} v{version.version} ({nodes} nodes) in Chromium, {draws} draws…")
    with dashboard_server(folder) as base:
        done, how = draw_times(base, plan, draws, write)
    times = [d["drawn"] / 1000 for d in done]
    p50 = percentile(times, 50)
    median = sorted(done, key=lambda d: d["drawn"])[(len(done) - 1) // 2]
    write(f"  p50 {p50:.3f} s ({how})")
    return [
        Figure("graph_server", f"graph figure on the server ({nodes} nodes)", seconds=server_s,
               note=server_how),
        Figure("graph_draw", f"lineage graph drawn in the browser ({nodes} nodes)", value=p50, unit="s",
               target=TARGET_DRAW_S,
               note=f"p50 of {len(times)} draws (max {max(times):.2f} s), navigation start to drawn: {how}; "
                    f"the median draw: {phases_text(median)}"),
    ]  # fmt: skip


def _graph_server_time(client: Client, graph_url: str, version: ModelVersion) -> tuple[float, str]:
    """The server's time for the graph: the endpoint through the test client when it answers 200, else building
    the figure in this process (the layout is most of it). Median of three after a warm-up."""
    how = "the graph endpoint through Django's test client"
    fn: Callable[[object], object] = lambda _: client.get(graph_url)  # noqa: E731
    try:
        ok = bool(graph_url) and client.get(graph_url).status_code == 200
    except Exception:  # work in progress
        ok = False
    if not ok:
        how, fn = (
            "selectors + core.dag.dag_figure in-process (no graph endpoint served)",
            (lambda _: _in_process_figure(version)),
        )
    return percentile(time_each([0, 1, 2], fn), 50), how
