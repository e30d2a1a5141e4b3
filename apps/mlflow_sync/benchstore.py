"""A large, realistic MLflow SQLite store for the sync benchmark (``manage.py bench_mlflow``).

MLflow's client writes ~20 runs/s, so 20,000 runs would take a quarter of an hour. Instead MLflow itself creates the
schema (in a subprocess: only ``apps.mlflow_sync.client`` may import mlflow in this process) and this module fills its
tables in bulk with ``sqlite3``, the way MLflow's ``SqlAlchemyStore`` lays rows out: every NOT NULL and CHECK
constraint respected, ``workspace='default'``, latest metrics consistent with the metric history, model versions
pointing at real runs. The content is deterministic (seeded) apart from the time anchor (today, midnight UTC), and
the finished store is reused while a marker file next to it holds the same parameters.
"""

from __future__ import annotations

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


def ensure_bench_store(
    folder: Path, *, runs: int = 20_000, experiments: int = 5, log: Callable[[str], Any] = print
) -> Path:
    """Return the path of ``folder/mlflow.db``, an MLflow SQLite store with ``runs`` runs in ``experiments``
    experiments (10 params, 5 metrics of which one has a 20-step history, 8 tags each) and 10 registered models with
    20 versions each (aliases, legacy stages, tags), pointing at finished runs (fewer versions when a small store
    has fewer finished runs).

    The store is reused when the marker file next to it holds the same parameters; otherwise it is rebuilt in a
    temporary file and moved into place, so a half-built store is never reused. Refuses (``ValueError``) fewer than
    one run or experiment; raises ``RuntimeError`` when MLflow cannot create the schema or the rows break a foreign
    key.
    """
    if runs < 1 or experiments < 1:
        raise ValueError("The benchmark store needs at least one run and one experiment.")
    spec = BenchStoreSpec(runs=runs, experiments=experiments)
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / DB_NAME
    marker = folder / MARKER_NAME
    if db.is_file() and marker.is_file():
        try:
            held = json.loads(marker.read_text())
        except (OSError, ValueError):
            held = {}
        if held.get("spec") == asdict(spec):
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
    counts = _fill(tmp, spec, artifact_root=folder / "artifacts", anchor_ms=_today_ms())
    tmp.replace(db)
    elapsed = time.perf_counter() - started
    marker.write_text(
        json.dumps(
            {"spec": asdict(spec), "counts": counts, "seconds": round(elapsed, 1), "made_at": time.strftime("%F %T")},
            indent=2,
        )
    )
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


def _fill(path: Path, spec: BenchStoreSpec, *, artifact_root: Path, anchor_ms: int) -> dict[str, int]:
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
        counts.update(_insert_runs(conn, rng, runs, artifact_root))
        counts.update(_insert_registry(conn, rng, spec, runs, anchor_ms))
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


def _insert_runs(conn: sqlite3.Connection, rng: random.Random, runs: list[_Run], root: Path) -> dict[str, int]:
    commits = [_hex(rng, 160) for _ in range(max(1, len(runs) // 40))]
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
            for key, value in (
                ("mlflow.user", r.user),
                ("mlflow.source.name", _SOURCES[i % len(_SOURCES)]),
                ("mlflow.source.type", "LOCAL"),
                ("mlflow.source.git.commit", commits[min(len(commits) - 1, i * len(commits) // len(runs))]),
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
    conn: sqlite3.Connection, rng: random.Random, spec: BenchStoreSpec, runs: list[_Run], anchor_ms: int
) -> dict[str, int]:
    """Registered models (model i is trained in experiment i mod N), each with up to ``versions_per_model``
    versions made from its experiment's finished runs in start order. The last version of some models is in
    Production, some in Staging, older ones of some models Archived (legacy stages); aliases ``champion`` and
    ``challenger`` point at the best and the newest version."""
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
        chosen = sorted(rng.sample(candidates, min(spec.versions_per_model, len(candidates))), key=lambda r: r.start)
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
