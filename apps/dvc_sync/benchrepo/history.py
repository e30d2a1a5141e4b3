"""The generated repository's history: the project's first commit, then code-only and DVC-changing commits.

Of the DVC-changing ones, most update one or a few ``.dvc`` files, about a fifth are ``dvc repro``-style
``dvc.lock`` updates, some change ``params.yaml`` (one in six of those the ``foreach`` list, and so the graph) and a
few add a stage to ``dvc.yaml``; everything but plain data updates comes with the ``dvc.lock`` that ``dvc repro``
would leave. All of it follows from the spec's seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apps.dvc_sync.benchrepo.project import (
    CHECKS,
    CODE_VERBS,
    BenchRepoSpec,
    State,
    code_header,
    code_line,
    code_text,
    dvc_lock,
    initial_state,
    layout_for,
    names,
    project_files,
    random_data,
)


@dataclass
class Commit:
    """One commit to write: its kind (``init``, ``code``, or the DVC change it makes), message and changed files."""

    kind: str
    message: str
    files: dict[str, str | None]  # path -> new content, None to delete


def _mix(n: int, rng: random.Random) -> list[str]:
    """Kinds of the DVC-changing commits after the first, shuffled: ~1.5% add a stage, ~8% change params.yaml, ~22%
    are ``dvc repro`` lock updates, the rest update ``.dvc`` files."""
    yaml = round(n * 0.015) or (1 if n >= 8 else 0)
    params = round(n * 0.08)
    lock = round(n * 0.22)
    kinds = ["dvc.yaml"] * yaml + ["params"] * params + ["dvc.lock"] * lock
    kinds += [".dvc"] * (n - len(kinds))
    rng.shuffle(kinds)
    # About one params change in six edits the ``foreach`` list; the first of them always does.
    seen = 0
    for i, kind in enumerate(kinds):
        if kind == "params":
            if seen % 6 == 0:
                kinds[i] = "foreach"
            seen += 1
    return kinds


def _changed(before: dict[str, str], after: dict[str, str]) -> dict[str, str | None]:
    """The files that differ, with their new content (None: deleted; no kind of commit deletes files today)."""
    changes: dict[str, str | None] = {p: c for p, c in after.items() if before.get(p) != c}
    changes.update({p: None for p in before if p not in after})
    return changes


def _dvc_commit(state: State, kind: str) -> Commit:
    """Apply one DVC-changing commit of ``kind`` to ``state``; returns its message and changed files."""
    rng, layout = state.rng, state.layout
    before = project_files(state)
    if kind == ".dvc":
        count = rng.choice([1, 1, 1, 1, 2, 2, 3, 5])
        region = rng.choice(layout.regions + ["external"])
        pool = layout.external_files if region == "external" else layout.raw_files[region]
        paths = sorted(rng.sample(pool, min(count, len(pool))))
        for path in paths:
            state.data[path] = random_data(rng)
        message = f"Update {paths[0]}" if len(paths) == 1 else f"Refresh {len(paths)} files of data/{region}"
    elif kind == "dvc.lock":
        state.repro += 1
        message = rng.choice(["dvc repro", "Re-run the pipeline", "dvc repro: retrain on fresh data", "Reproduce"])
    elif kind == "foreach":
        state.repro += 1
        dropped = [r for r in layout.regions if r not in state.active]
        if dropped and (rng.random() < 0.5 or len(state.active) <= 1):
            region = rng.choice(dropped)
            state.active = [r for r in layout.regions if r in state.active or r == region]
            message = f"Add region {region} back to the pipeline"
        else:
            region = rng.choice(state.active)
            state.active.remove(region)
            message = f"Drop region {region} from the pipeline"
    elif kind == "params":
        state.repro += 1
        if rng.random() < 0.7:
            model = rng.choice(layout.models)
            key = rng.choice(["lr", "epochs"])
            value: Any = round(rng.uniform(0.001, 0.3), 4) if key == "lr" else rng.randrange(5, 200)
            state.params["train"][model][key] = value
            message = f"Tune train.{model}.{key} = {value}"
        else:
            value = round(rng.uniform(0.1, 0.3), 2)
            state.params["prepare"]["split"] = value
            message = f"Hold out {value:.0%} for testing"
    elif kind == "dvc.yaml":
        state.repro += 1
        check = names(CHECKS, len(state.checks) + 1, "check-")[-1]
        state.checks.append(check)
        message = f"Add the {check} check stage"
    else:
        raise ValueError(f"Unknown commit kind {kind!r}")
    if kind != ".dvc":
        state.lock = dvc_lock(state)  # these commits are what `dvc repro` left after the change
    return Commit(kind, message, _changed(before, project_files(state)))


def _code_commit(state: State) -> Commit:
    """Edit one to three code files of ``state`` (a line changed or added); returns the commit. DVC files are left
    as they are, so ``dvc.lock`` goes stale as it does between two ``dvc repro`` runs."""
    rng = state.rng
    paths = sorted(rng.sample(sorted(state.code), rng.choice([1, 1, 1, 2, 2, 3])))
    changes: dict[str, str | None] = {}
    for path in paths:
        lines = state.code[path]
        head = len(code_header(path))
        state.edits += 1  # numbers new lines, so an edit never restores an earlier content
        line = code_line(rng, path, state.edits)
        if len(lines) - head < 60 and rng.random() < 0.5:
            lines.append(line)
        else:
            lines[rng.randrange(head, len(lines))] = line
        changes[path] = code_text(lines)
    verb = rng.choice(CODE_VERBS) if paths[0].endswith(".py") else "Update"
    return Commit("code", f"{verb} {paths[0]}", changes)


def history(spec: BenchRepoSpec) -> Iterator[Commit]:
    """Every commit of the repository, oldest first: the project's first commit, then code and DVC commits."""
    layout = layout_for(spec)
    state = initial_state(spec, layout)
    yield Commit("init", "Start the churn pipeline (dvc init, dvc add, dvc repro)", dict(project_files(state)))
    order = random.Random(spec.seed + 1)
    dvc_at = set(order.sample(range(1, spec.commits), spec.dvc_commits - 1))
    kinds = iter(_mix(spec.dvc_commits - 1, order))
    for i in range(1, spec.commits):
        yield _dvc_commit(state, next(kinds)) if i in dvc_at else _code_commit(state)
