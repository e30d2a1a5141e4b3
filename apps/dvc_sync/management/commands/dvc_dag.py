"""``manage.py dvc_dag --source NAME [--rev REV] [--outs] [--format dot|json]``: a commit's pipeline as the mirror
holds it, in the form ``dvc dag --dot`` (or ``dvc dag --outs --dot``) prints."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import AppError
from apps.dvc_sync import selectors
from apps.dvc_sync.graphs import to_dot


class Command(BaseCommand):
    help = (
        "Print the pipeline of a mirrored commit (default: the newest commit of the branch HEAD points to) as "
        "`dvc dag --dot` would, or as JSON. Uncommitted changes are never mirrored."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--source", required=True, help="name of the DVC source")
        parser.add_argument("--rev", default="", help="branch, tag or commit sha (default: the default branch)")
        parser.add_argument("--outs", action="store_true", help="the outputs graph (dvc dag --outs)")
        parser.add_argument("--format", choices=["dot", "json"], default="dot")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            source = selectors.source_get(options["source"])
            commit = selectors.commit_resolve(source, options["rev"] or None)
        except AppError as exc:
            raise CommandError(str(exc)) from exc
        pipeline = selectors.pipeline_of(commit)
        if pipeline is None:
            problems = commit.snapshot.problems if commit.snapshot else []
            reasons = "; ".join(f"{p['path']}: {p['message']}" for p in problems) or "no DVC pipeline was recorded"
            raise CommandError(f"Commit {commit.short_sha} of '{source.name}' has no pipeline graph: {reasons}")
        for problem in commit.snapshot.problems if commit.snapshot else []:
            where = f"{problem['path']}:{problem['line']}" if problem.get("line") else problem["path"]
            self.stderr.write(
                f"warning: at {commit.short_sha} DVC could not load {where}: "
                f"{problem['message']}; the pipeline below leaves it out."
            )
        graph = pipeline.outputs if options["outs"] else pipeline.stages
        if options["format"] == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "source": source.name,
                        "commit": commit.sha,
                        "graph": "outs" if options["outs"] else "stages",
                        "nodes": sorted(graph.nodes),
                        "edges": [list(e) for e in sorted(graph.edges)],
                    },
                    indent=2,
                )
            )
            return
        self.stdout.write(to_dot(graph), ending="")
