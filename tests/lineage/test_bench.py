"""``manage.py bench_lineage`` on tiny joined bench data: the harness mirrors and joins it, measures and prints every
figure and writes them, and leaves no bench source behind. The real sizes run only in ``make bench``; the MLflow
server and the browser are left out here (``--skip-rest --skip-browser``)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.dvc_sync.models import DvcSource
from apps.lineage.bench.timing import percentile
from apps.mlflow_sync.models import MlflowSource

TINY = [
    "--runs", "80", "--versions", "5", "--commits", "24", "--dvc-commits", "5", "--stages", "13", "--tracked", "20",
    "--graph-stages", "13", "--graph-tracked", "20", "--impact-sample", "4", "--skip-rest", "--skip-browser",
]  # fmt: skip
FIGURES = {
    "join_full": "lineage join, 80 runs",
    "join_incremental": "lineage recompute after 1 new DVC commit",
    "page_p50": "model version page p50",
    "page_p95": "model version page p95",
    "impact_p50": "impact query p50",
    "impact_p95": "impact query p95",
}


@pytest.mark.django_db
def test_it_measures_every_figure_on_joined_data_and_cleans_up(tmp_path: Path) -> None:
    out = StringIO()
    call_command("bench_lineage", "--folder", str(tmp_path), *TINY, stdout=out)

    printed = out.getvalue()
    for label in FIGURES.values():
        assert label in printed
    assert "Targets missed" in printed or "All targets met." in printed
    results = json.loads((tmp_path / "lineage-results.json").read_text())
    figures = {f["key"]: f for f in results["figures"]}
    assert set(FIGURES) <= set(figures)
    assert figures["page_p95"]["target"] == 100.0 and figures["impact_p95"]["target"] == 50.0
    assert "complete" in figures["join_full"]["note"]  # runs were joined to DVC data, not just mirrored
    assert not MlflowSource.objects.filter(name__startswith="bench-lineage").exists()
    assert not DvcSource.objects.filter(name__startswith="bench-lineage").exists()


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 21)], 95) == 19.0
