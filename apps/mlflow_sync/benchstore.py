"""A large, realistic MLflow SQLite store for the sync benchmark (``manage.py bench_mlflow``).

MLflow's client writes ~20 runs/s, so 20,000 runs would take a quarter of an hour. Instead MLflow itself creates the
schema (in a subprocess: only ``apps.mlflow_sync.client`` may import mlflow in this process) and this module fills its
tables in bulk with ``sqlite3``, the way MLflow's ``SqlAlchemyStore`` lays rows out: every NOT NULL and CHECK
constraint respected, ``workspace='default'``, latest metrics consistent with the metric history, model versions
pointing at real runs. The content is deterministic (seeded) apart from the time anchor (today, midnight UTC), and
the finished store is reused while a marker file next to it holds the same parameters.

With ``links`` (``StoreLinks``, for ``bench_lineage``) the same runs are joined to generated DVC repositories: their
``mlflow.source.git.commit`` tags name the repositories' commits and many log dataset inputs whose digests are the
md5s those commits pin. Those choices come from a random stream of their own, so everything else is the store
``bench_mlflow`` measures, row for row; without ``links`` the output is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Bump when the generated content changes: a store made by an older generator is then rebuilt, not reused.
GENERATOR_VERSION = 1
DB_NAME = "mlflow.db"
MARKER_NAME = "mlflow.db.bench.json"
DAY_MS = 86_400_000

_EXPERIMENT_NAMES = ["churn-prediction", "fraud-detection", "demand-forecast", "search-ranking", "image-classifier"]
_TEAMS = ["retention", "risk", "supply", "search", "vision"]
_USERS = ["alice", "bob", "carol", "dan", "erin", "farid", "grace", "heidi", "ivan", "judy", "ken", "lena"]
_SOURCES = ["src/train.py", "src/train_xgb.py", "pipelines/train.py", "notebooks/explore.ipynb", "src/finetune.py"]
_ADJECTIVES = ["bold", "calm", "eager", "fancy", "gentle", "honest", "jolly", "lucky", "mighty", "quiet", "rare"]
_ANIMALS = ["ant", "bat", "cod", "doe", "eel", "fox", "gnu", "hen", "owl", "ram", "yak", "koi", "elk", "emu"]
_OPTIMIZERS = ["adam", "adamw", "sgd", "rmsprop"]
_MODEL_TYPES = ["xgboost", "lightgbm", "random_forest", "mlp", "logreg"]
_PURPOSES = ["baseline", "sweep", "ablation", "retrain", "debug"]
# The one metric with a 20-step history, then the four logged once per run.
_HISTORY_METRIC = "loss"
_SINGLE_METRICS = ["accuracy", "auc", "f1", "rmse"]
HISTORY_STEPS = 20


@dataclass(frozen=True)
class BenchStoreSpec:
    """The parameters a store is keyed by (the marker file holds them)."""

    runs: int
    experiments: int
    models: int = 10
    versions_per_model: int = 20
    seed: int = 20_000
    generator: int = GENERATOR_VERSION


@dataclass(frozen=True)
class LinkedCommits:
    """One DVC repository as the runs see it: its commits, oldest first, as ``(sha, snapshot index)``, and per
    snapshot the tracked data (``(path, md5)``, sorted) it pins: what a run can name as its commit and log."""

    commits: tuple[tuple[str, int], ...]
    snapshots: tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True)
class StoreLinks:
    """Runs joined to DVC repositories (``ensure_bench_store(links=…)``). The runs name ``history``'s commits,
    spread over it in start order; ``unknown_share`` of them name a commit of no known repository instead, and
    ``wide_share`` a commit of ``wide``, whose head each experiment's newest finished run names too (and that run is
    the newest version of the experiment's first model). ``input_share`` of the runs at a known commit log one to
    three dataset inputs drawn from the data their commit pins: most by path with its md5, some by an ``s3://`` URI
    with its md5, a few with the md5 of another version of the path (a conflict); half as many of the runs at an
    unknown commit log one input by md5 alone. Model versions are made from runs at known commits only."""

    history: LinkedCommits
    wide: LinkedCommits | None = None
    wide_share: float = 0.01
    unknown_share: float = 0.08
    input_share: float = 0.6

    def fingerprint(self) -> str:
        """A digest of everything the links make the generator write (the marker holds it)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def ensure_bench_store(
    folder: Path,
    *,
    runs: int = 20_000,
    experiments: int = 5,
    models: int = 10,
    versions_per_model: int = 20,
    links: StoreLinks | None = None,
    log: Callable[[str], Any] = print,
) -> Path:
    """Return the path of ``folder/mlflow.db``, an MLflow SQLite store with ``runs`` runs in ``experiments``
    experiments (10 params, 5 metrics of which one has a 20-step history, 8 tags each) and ``models`` registered
    models with ``versions_per_model`` versions each (aliases, legacy stages, tags), pointing at finished runs (fewer
    versions when a small store has fewer finished runs). With ``links`` the runs are joined to DVC repositories
    (``StoreLinks``); the marker then holds the links' fingerprint too.

    The store is reused when the marker file next to it holds the same parameters; otherwise it is rebuilt in a
    temporary file and moved into place, so a half-built store is never reused. Refuses (``ValueError``) fewer than
    one run or experiment; raises ``RuntimeError`` when MLflow cannot create the schema or the rows break a foreign
    key.
    """
    if runs < 1 or experiments < 1:
        raise ValueError("The benchmark store needs at least one run and one experiment.")
    spec = BenchStoreSpec(runs=runs, experiments=experiments, models=models, versions_per_model=versions_per_model)
    linked = links.fingerprint() if links is not None else None
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / DB_NAME
    marker = folder / MARKER_NAME
    if db.is_file() and marker.is_file():
        try:
            held = json.loads(marker.read_text())
        except (OSError, ValueError):
            held = {}
        if held.get("spec") == asdict(spec) and held.get("links") == linked:
            log(f"Reusing the benchmark store {db} ({runs:,} runs, made {held.get('made_at', '?')}).")
            return db
    marker.unlink(missing_ok=True)
    started = time.perf_counter()
    tmp = folder / (DB_NAME + ".tmp")
    for stale in (tmp, tmp.with_name(tmp.name + "-journal")):
        stale.unlink(missing_ok=True)
    log(f"Building the benchmark store {db} ({runs:,} runs in {experiments} experiments)…")
    _create_schema(tmp, folder / "artifacts")
    log(f"  schema created by MLflow in {time.perf_counter() - started:.1f} s")
    counts = _fill(tmp, spec, artifact_root=folder / "artifacts", anchor_ms=_today_ms(), links=links)
    tmp.replace(db)
    elapsed = time.perf_counter() - started
    held = {"spec": asdict(spec), "counts": counts, "seconds": round(elapsed, 1), "made_at": time.strftime("%F %T")}
    if linked is not None:
        held["links"] = linked
    marker.write_text(json.dumps(held, indent=2))
    log(f"  built in {elapsed:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    return db


def _today_ms() -> int:
    """Today's midnight UTC in epoch ms: the anchor the 90 days of start times end at."""
    return int(time.time() * 1000) // DAY_MS * DAY_MS


def _create_schema(path: Path, artifact_root: Path) -> None:
    """Let MLflow create its tables (and the Default experiment, the ``default`` workspace and the alembic revision)
    at ``path``, in a subprocess. Raises ``RuntimeError`` with MLflow's output when it fails."""
    code = (
        "import sys\n"
        "from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore\n"
        "from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore\n"
        "uri = 'sqlite:///' + sys.argv[1]\n"
        "SqlAlchemyStore(uri, sys.argv[2])\n"
        "RegistryStore(uri)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), str(artifact_root)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not path.is_file():
        raise RuntimeError(f"MLflow could not create the benchmark store's schema:\n{done.stderr[-3000:]}")


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _run_uuid(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


@dataclass(slots=True)
class _Run:
    run_id: str
    experiment_id: int
    name: str
    user: str
    status: str
    start: int
    end: int | None
    duration: int


def _fill(
    path: Path, spec: BenchStoreSpec, *, artifact_root: Path, anchor_ms: int, links: StoreLinks | None = None
) -> dict[str, int]:
    """Insert every row in one transaction, check foreign keys, ``ANALYZE``. Returns row counts per table."""
    rng = random.Random(spec.seed)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")  # a fresh temporary file: nothing to roll back to
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("BEGIN")
        counts = {"experiments": _insert_experiments(conn, spec, artifact_root, anchor_ms)}
        runs = _make_runs(rng, spec, anchor_ms)
        plan = _plan_links(runs, links, seed=spec.seed) if links is not None else None
        counts.update(_insert_runs(conn, rng, runs, artifact_root, plan))
        if plan is not None:
            counts.update(_insert_inputs(conn, runs, plan))
        counts.update(_insert_registry(conn, rng, spec, runs, anchor_ms, plan))
        conn.execute("COMMIT")
        problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"The generated store breaks foreign keys, e.g. {problems[:3]}")
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode=DELETE")  # what MLflow's own SQLite stores use
    finally:
        conn.close()
    return counts


def _insert_experiments(conn: sqlite3.Connection, spec: BenchStoreSpec, root: Path, anchor_ms: int) -> int:
    created = anchor_ms - 120 * DAY_MS
    rows = []
    tags = []
    for i in range(1, spec.experiments + 1):
        name = _EXPERIMENT_NAMES[i - 1] if i <= len(_EXPERIMENT_NAMES) else f"experiment-{i:03d}"
        rows.append((i, name, f"{root}/{i}", "active", created + i * 3_600_000, anchor_ms, "default"))
        tags.append(("team", _TEAMS[(i - 1) % len(_TEAMS)], i))
        tags.append(("mlflow.note.content", f"Benchmark experiment {name}.", i))
    conn.executemany(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
        "last_update_time, workspace) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.executemany("INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?)", tags)
    return len(rows)


def _make_runs(rng: random.Random, spec: BenchStoreSpec, anchor_ms: int) -> list[_Run]:
    """The runs' attributes, oldest first: start times over the last 90 days, ~90% FINISHED, ~8% FAILED, ~2%
    RUNNING (those have no end time)."""
    runs = []
    for _ in range(spec.runs):
        start = anchor_ms - rng.randrange(90 * DAY_MS)
        duration = rng.randrange(60_000, 3 * 3_600_000)
        roll = rng.random()
        status = "FINISHED" if roll < 0.90 else "FAILED" if roll < 0.98 else "RUNNING"
        name = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_ANIMALS)}-{rng.randrange(1000)}"
        runs.append(
            _Run(
                run_id=_run_uuid(rng),
                experiment_id=rng.randrange(spec.experiments) + 1,
                name=name,
                user=rng.choice(_USERS),
                status=status,
                start=start,
                end=None if status == "RUNNING" else start + duration,
                duration=duration,
            )
        )
    runs.sort(key=lambda r: r.start)
    return runs


def _insert_runs(
    conn: sqlite3.Connection, rng: random.Random, runs: list[_Run], root: Path, plan: _LinkPlan | None = None
) -> dict[str, int]:
    commits = [_hex(rng, 160) for _ in range(max(1, len(runs) // 40))]  # drawn with links too: the stream stays
    conn.executemany(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, "
        "end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
        "VALUES (?, ?, 'UNKNOWN', '', '', ?, ?, ?, ?, '', 'active', ?, ?, NULL)",
        (
            (
                r.run_id,
                r.name,
                r.user,
                r.status,
                r.start,
                r.end,
                f"{root}/{r.experiment_id}/{r.run_id}/artifacts",
                r.experiment_id,
            )
            for r in runs
        ),
    )

    def params() -> Iterator[tuple[str, str, str]]:
        for r in runs:
            for key, value in (
                ("learning_rate", f"{10 ** rng.uniform(-4, -1):.6g}"),
                ("n_estimators", str(rng.randrange(50, 1000, 10))),
                ("max_depth", str(rng.randrange(2, 16))),
                ("batch_size", str(2 ** rng.randrange(4, 10))),
                ("optimizer", rng.choice(_OPTIMIZERS)),
                ("dropout", f"{rng.uniform(0, 0.5):.3f}"),
                ("seed", str(rng.randrange(100_000))),
                ("epochs", str(rng.randrange(1, 100))),
                ("weight_decay", f"{10 ** rng.uniform(-6, -2):.3g}"),
                ("model_type", rng.choice(_MODEL_TYPES)),
            ):
                yield key, value, r.run_id

    conn.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params())

    history: list[tuple[str, float, int, str, int]] = []
    latest: list[tuple[str, float, int, int, str]] = []
    for r in runs:
        base = rng.uniform(0.3, 2.5)
        decay = rng.uniform(0.05, 0.3)
        step_ms = max(1, r.duration // (HISTORY_STEPS + 1))
        value = base
        ts = r.start
        for step in range(HISTORY_STEPS):
            value = base * (1 - decay) ** step + rng.uniform(0, 0.01)
            ts = r.start + (step + 1) * step_ms
            history.append((_HISTORY_METRIC, value, ts, r.run_id, step))
        latest.append((_HISTORY_METRIC, value, ts, HISTORY_STEPS - 1, r.run_id))
        final_ts = r.end if r.end is not None else ts
        for key in _SINGLE_METRICS:
            single = rng.uniform(5, 50) if key == "rmse" else rng.uniform(0.5, 0.99)
            history.append((key, single, final_ts, r.run_id, 0))
            latest.append((key, single, final_ts, 0, r.run_id))
    conn.executemany(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, 0)", history
    )
    conn.executemany(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)", latest
    )

    def tags() -> Iterator[tuple[str, str, str]]:
        for i, r in enumerate(runs):
            script = _SOURCES[i % len(_SOURCES)]
            commit = commits[min(len(commits) - 1, i * len(commits) // len(runs))]
            if plan is not None:
                script, commit = plan.source_name.get(r.run_id, script), plan.commit[r.run_id]
            for key, value in (
                ("mlflow.user", r.user),
                ("mlflow.source.name", script),
                ("mlflow.source.type", "LOCAL"),
                ("mlflow.source.git.commit", commit),
                ("mlflow.runName", r.name),
                ("team", _TEAMS[(r.experiment_id - 1) % len(_TEAMS)]),
                ("purpose", rng.choice(_PURPOSES)),
                ("data_version", f"v{1 + i * 12 // len(runs)}.{rng.randrange(4)}"),
            ):
                yield key, value, r.run_id

    conn.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags())
    n = len(runs)
    return {"runs": n, "params": n * 10, "metrics": len(history), "latest_metrics": len(latest), "tags": n * 8}


def _insert_registry(
    conn: sqlite3.Connection,
    rng: random.Random,
    spec: BenchStoreSpec,
    runs: list[_Run],
    anchor_ms: int,
    plan: _LinkPlan | None = None,
) -> dict[str, int]:
    """Registered models (model i is trained in experiment i mod N), each with up to ``versions_per_model``
    versions made from its experiment's finished runs in start order. The last version of some models is in
    Production, some in Staging, older ones of some models Archived (legacy stages); aliases ``champion`` and
    ``challenger`` point at the best and the newest version. With links, versions are made from runs at known
    commits, and the first model of an experiment has its ``featured`` run as newest version."""
    by_experiment: dict[int, list[_Run]] = {}
    for r in runs:
        if r.status == "FINISHED":
            by_experiment.setdefault(r.experiment_id, []).append(r)
    models: list[tuple[Any, ...]] = []
    model_tags: list[tuple[Any, ...]] = []
    versions: list[tuple[Any, ...]] = []
    version_tags: list[tuple[Any, ...]] = []
    aliases: list[tuple[Any, ...]] = []
    used: set[str] = set()
    for m in range(spec.models):
        name = f"{_EXPERIMENT_NAMES[m % len(_EXPERIMENT_NAMES)]}-{_MODEL_TYPES[m % len(_MODEL_TYPES)]}-{m:02d}"
        candidates = [r for r in by_experiment.get(m % spec.experiments + 1, []) if r.run_id not in used]
        if plan is not None:
            candidates = [r for r in candidates if r.run_id in plan.joined]
        chosen = sorted(rng.sample(candidates, min(spec.versions_per_model, len(candidates))), key=lambda r: r.start)
        featured = plan.featured.get(m % spec.experiments + 1) if plan is not None else None
        if featured is not None and featured.run_id not in used and featured not in chosen:
            chosen = [*chosen[:-1], featured] if len(chosen) >= spec.versions_per_model else [*chosen, featured]
        if not chosen:
            continue
        used.update(r.run_id for r in chosen)
        created = chosen[0].end or chosen[0].start
        last = (chosen[-1].end or chosen[-1].start) + 3_600_000
        models.append((name, created, last, f"Benchmark model {m}: {_MODEL_TYPES[m % len(_MODEL_TYPES)]}.", "default"))
        model_tags += [("owner", rng.choice(_USERS), name, "default"), ("task", "classification", name, "default")]
        count = len(chosen)
        for v, r in enumerate(chosen, start=1):
            if v == count and m % 3 != 2:
                stage = "Production"
            elif v == count - 1 and m % 2 == 0:
                stage = "Staging"
            elif v < count - 5 and m % 4 == 0:
                stage = "Archived"
            else:
                stage = "None"
            source = f"runs:/{r.run_id}/model"
            ctime = (r.end or r.start) + rng.randrange(60_000, 3_600_000)
            utime = ctime + (rng.randrange(60_000, DAY_MS) if stage != "None" else 0)
            versions.append(
                (
                    name,
                    v,
                    ctime,
                    min(utime, anchor_ms),
                    None,
                    r.user,
                    stage,
                    source,
                    r.run_id,
                    "READY",
                    None,
                    None,
                    source,
                    "default",
                )
            )
            version_tags.append(("validation_status", rng.choice(["passed", "passed", "failed"]), name, v, "default"))
        aliases.append(("champion", max(1, count - 1 - rng.randrange(min(3, count))), name, "default"))
        aliases.append(("challenger", count, name, "default"))
    conn.executemany(
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace) "
        "VALUES (?, ?, ?, ?, ?)",
        models,
    )
    conn.executemany("INSERT INTO registered_model_tags (key, value, name, workspace) VALUES (?, ?, ?, ?)", model_tags)
    conn.executemany(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, "
        "current_stage, source, run_id, status, status_message, run_link, storage_location, workspace) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        versions,
    )
    conn.executemany(
        "INSERT INTO model_version_tags (key, value, name, version, workspace) VALUES (?, ?, ?, ?, ?)", version_tags
    )
    conn.executemany(
        "INSERT INTO registered_model_aliases (alias, version, name, workspace) VALUES (?, ?, ?, ?)", aliases
    )
    return {"registered_models": len(models), "model_versions": len(versions), "aliases": len(aliases)}


# --- runs joined to DVC repositories (``StoreLinks``) ---------------------------------------------------------------
@dataclass
class _LinkPlan:
    """What the links decide per run: its commit, its dataset inputs (name, digest, source type, source JSON)."""

    commit: dict[str, str]
    inputs: dict[str, list[tuple[str, str, str, str]]]
    joined: set[str]  # runs at a known commit
    featured: dict[int, _Run]  # experiment -> its newest finished run, at the wide repository's head
    source_name: dict[str, str]  # the featured runs' script: one that is no stage, so all their commit pins is theirs


def _plan_links(runs: list[_Run], links: StoreLinks, *, seed: int) -> _LinkPlan:
    """Every link decision, from a random stream of its own (the store's other content stays as without links)."""
    rng = random.Random(seed + 1)
    history = links.history
    if not history.commits:
        raise ValueError("The links name no commit.")
    versions: dict[str, set[str]] = {}
    for snapshot in history.snapshots:
        for path, md5 in snapshot:
            versions.setdefault(path, set()).add(md5)
    other_versions = {path: sorted(md5s) for path, md5s in versions.items() if len(md5s) > 1}
    featured: dict[int, _Run] = {}
    if links.wide is not None and links.wide.commits:
        for r in runs:  # oldest first: the last one seen is the newest
            if r.status == "FINISHED":
                featured[r.experiment_id] = r
    featured_ids = {r.run_id for r in featured.values()}
    wide_share = links.wide_share if links.wide is not None and links.wide.commits else 0.0
    plan = _LinkPlan(
        commit={},
        inputs={},
        joined=set(),
        featured=featured,
        source_name={r: "notebooks/explore.ipynb" for r in featured_ids},
    )
    for i, r in enumerate(runs):
        roll = rng.random()
        data: tuple[tuple[str, str], ...] = ()
        if r.run_id in featured_ids and links.wide is not None:
            sha, snap = links.wide.commits[-1]
            data = links.wide.snapshots[snap]
        elif links.wide is not None and roll < wide_share:
            sha, snap = links.wide.commits[rng.randrange(len(links.wide.commits))]
            data = links.wide.snapshots[snap]
        elif roll < wide_share + links.unknown_share:
            sha = _hex(rng, 160)
        else:
            sha, snap = history.commits[min(len(history.commits) - 1, i * len(history.commits) // len(runs))]
            data = history.snapshots[snap]
        plan.commit[r.run_id] = sha
        if data:
            plan.joined.add(r.run_id)
            if rng.random() < links.input_share:
                picked = rng.sample(data, min(len(data), rng.choice([1, 1, 1, 2, 2, 3])))
                plan.inputs[r.run_id] = [_input(rng, path, md5, other_versions.get(path, [])) for path, md5 in picked]
        elif rng.random() < links.input_share / 2:
            snapshot = history.snapshots[rng.randrange(len(history.snapshots))]
            if snapshot:
                path, md5 = snapshot[rng.randrange(len(snapshot))]
                plan.inputs[r.run_id] = [(path, md5, "s3", json.dumps({"uri": f"s3://bench-data/{path}"}))]
    return plan


def _input(rng: random.Random, path: str, md5: str, versions: list[str]) -> tuple[str, str, str, str]:
    """One dataset input of ``path`` pinned with ``md5``: by path (85%), by an s3 URI (10%), or by path with the
    md5 of another version of it (5%, when there is one: the run trained on data its commit does not pin)."""
    roll = rng.random()
    if roll < 0.85:
        return path, md5, "local", json.dumps({"uri": path})
    others = [v for v in versions if v != md5]
    if roll < 0.95 or not others:
        return path, md5, "s3", json.dumps({"uri": f"s3://bench-data/{path}"})
    return path, rng.choice(others), "local", json.dumps({"uri": path})


def _insert_inputs(conn: sqlite3.Connection, runs: list[_Run], plan: _LinkPlan) -> dict[str, int]:
    """The planned dataset inputs as MLflow's ``log_input`` stores them: one ``datasets`` row per experiment, name
    and digest, one ``inputs`` row per run and dataset, the ``mlflow.data.context`` input tag."""
    datasets: dict[tuple[int, str, str], tuple[str, str, str]] = {}
    inputs: list[tuple[str, str, str]] = []
    for r in runs:
        seen: set[str] = set()
        for name, digest, source_type, source in plan.inputs.get(r.run_id, []):
            key = (r.experiment_id, name, digest)
            if key not in datasets:
                datasets[key] = (str(uuid.UUID(bytes=hashlib.md5(repr(key).encode()).digest())), source_type, source)
            dataset_uuid = datasets[key][0]
            if dataset_uuid in seen:
                continue
            seen.add(dataset_uuid)
            input_uuid = str(uuid.UUID(bytes=hashlib.md5(f"{dataset_uuid}:{r.run_id}".encode()).digest()))
            inputs.append((input_uuid, dataset_uuid, r.run_id))
    conn.executemany(
        "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(u, exp, name, digest, st, src) for (exp, name, digest), (u, st, src) in datasets.items()],
    )
    conn.executemany(
        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) "
        "VALUES (?, 'DATASET', ?, 'RUN', ?, 0)",
        inputs,
    )
    conn.executemany(
        "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, 'mlflow.data.context', 'training')",
        [(i[0],) for i in inputs],
    )
    return {"datasets": len(datasets), "inputs": len(inputs)}
