"""The direct, read-only read of an MLflow SQL tracking store (SQLite or PostgreSQL).

MLflow's client lists ~550 runs/s here; a plain read of its tables ~33,000/s. This module reads those tables the
way MLflow's own SqlAlchemyStore lays them out, only at schema revisions it knows (``SUPPORTED_REVISIONS``), inside
one read-only snapshot, and never imports mlflow. Everything it returns is a plain record (``records.py``).
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlparse

from apps.core.errors import SyncError
from apps.mlflow_sync.records import (
    ExperimentRecord,
    InputRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
    logged_model_id_from_source,
)
from apps.mlflow_sync.uris import redact, sqlite_path

# Alembic revisions of MLflow's schema whose tables and columns this reader was written against: from the one that
# added ``workspace`` columns (MLflow 3.17's line) to MLflow 3.17.2's head.
SUPPORTED_REVISIONS = frozenset(
    {
        "1b5f0d9ad7c1",
        "e1f2a3b4c5d6",
        "76601a5f987d",
        "c3d6457b6d8a",
        "a5b4c3d2e1f0",
        "ae8bbe7743c9",
        "7d34483879f0",
        "da6fb0208061",
        "89d3d66ed43f",
        "b7e4c1a90f23",
        "a8b9c0d1e2f3",
        "c1d2e3f4a5b6",
        "c3d9e7f1a2b4",
        "6f8d9c3b2a1e",
        "1971f2d9a75b",
        "17e22815139b",
        "b7e2c1a4d9f3",
        "75868b020152",
        "dc11669786a5",
    }
)
CHUNK = 900  # ids per IN (...) list: under SQLite's default 999 variables


def _crc(value: object) -> int:
    """The content hash SQLite sums for fingerprints (registered as ``lineage_hash``)."""
    return zlib.crc32(str(value).encode()) if value is not None else 0


def _fail(what: str, hint: str) -> SyncError:
    return SyncError(what, hint=hint)


class SqlStore:
    """A read-only snapshot of one MLflow SQL store. Use as a context manager; every read sees the same snapshot.

    Refuses (``SyncError``) a missing, locked or corrupt SQLite file, an unreachable database or wrong credentials,
    and a schema revision outside ``SUPPORTED_REVISIONS``.
    """

    def __init__(self, uri: str, *, username: str = "", password: str = "", timeout: float = 10.0) -> None:
        self.uri = uri
        self.username = username
        self.password = password
        self.timeout = timeout
        self.scheme = urlparse(uri).scheme.lower()
        self.is_sqlite = self.scheme == "sqlite"
        self._conn: Any = None
        self.revision = ""

    # --- connection ---------------------------------------------------------------------------------------------
    def __enter__(self) -> SqlStore:
        if self.is_sqlite:
            self._open_sqlite()
        else:
            self._open_postgres()
        self.revision = self._read_revision()
        if self.revision not in SUPPORTED_REVISIONS:
            self.close()
            raise _fail(
                f"The MLflow database is at schema revision {self.revision!r}, which the direct read does not know "
                "(it supports MLflow 3.17's schema).",
                "Point this source at that store's `mlflow server` over http (tracking URI http://host:port), "
                "which reads any revision its own MLflow version supports.",
            )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
            except Exception:  # closing after a failure: nothing left to roll back
                pass
            self._conn.close()
            self._conn = None

    def _open_sqlite(self) -> None:
        path = sqlite_path(self.uri)
        if not path.is_file():
            raise _fail(f"The MLflow SQLite file {path} does not exist.", "Check the source's tracking URI.")
        try:
            conn = sqlite3.connect(
                f"file:{quote(str(path))}?mode=ro",
                uri=True,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.create_function("lineage_hash", 1, _crc, deterministic=True)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._sqlite_error(exc) from exc
        self._conn = conn
        self._placeholder = "?"

    def _sqlite_error(self, exc: sqlite3.DatabaseError) -> SyncError:
        text = str(exc).lower()
        path = sqlite_path(self.uri)
        if "locked" in text or "busy" in text:
            return _fail(
                f"The MLflow SQLite file {path} is locked by another process ({exc}).",
                "Wait for the process writing to it to finish (or stop it) and sync again.",
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return _fail(
                f"The MLflow SQLite file {path} is corrupt ({exc}).",
                "Restore it from a backup or repair it (sqlite3 .recover); the mirrored data is kept as it was.",
            )
        if "no such table" in text or "no such column" in text:
            return _fail(
                f"{path} is not an MLflow tracking store this reader understands ({exc}).",
                "Check the tracking URI, or point the source at that store's `mlflow server` over http.",
            )
        return _fail(f"Could not read the MLflow SQLite file {path}: {exc}.", "Check the file and its permissions.")

    def _open_postgres(self) -> None:
        import psycopg

        parsed = urlparse(self.uri)
        host = parsed.hostname or "localhost"
        # MLflow's SQLAlchemy URLs may name a driver (postgresql+psycopg2://); libpq wants postgresql:// and keeps
        # the URI's own query parameters (sslmode, options, host=/socket).
        conninfo = "postgresql:" + self.uri.split(":", 1)[1]
        extra: dict[str, Any] = {"connect_timeout": max(1, int(self.timeout)), "autocommit": False}
        if self.username:
            extra["user"] = self.username
        if self.password:
            extra["password"] = self.password
        try:
            conn = psycopg.connect(conninfo, **extra)
            # One snapshot for the whole read: PostgreSQL's readers block none of MLflow's writers.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        except psycopg.OperationalError as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            low = text.lower()
            if "password" in low or "authentication" in low or ("role" in low and "does not exist" in low):
                raise _fail(
                    f"The MLflow database at {host} refused the credentials ({redact(text)}).",
                    "Check the source's username/password variables and their values in the environment.",
                ) from exc
            raise _fail(
                f"Cannot reach the MLflow database at {host}:{parsed.port or 5432} ({redact(text)}).",
                "Check that the database is running and reachable from this machine, then sync again.",
            ) from exc
        self._conn = conn
        self._placeholder = "%s"

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state. On SQLite it is a short read transaction: MLflow's SQLite store
        runs in rollback-journal mode, where a reader blocks every writer's commit, so the sync never holds one
        across its own writes (training scripts would fail with "database is locked"). On PostgreSQL the whole read
        is one REPEATABLE READ snapshot already."""
        if not self.is_sqlite:
            yield
            return
        try:
            self._conn.execute("BEGIN")
        except sqlite3.DatabaseError as exc:
            raise self._sqlite_error(exc) from exc
        try:
            yield
        finally:
            self._conn.execute("ROLLBACK")

    def _hash(self, expr: str) -> str:
        """SQL for a 32-bit content hash of a text expression: summing them cannot overflow."""
        if self.is_sqlite:
            return f"lineage_hash({expr})"
        return f"(('x' || substr(md5({expr}), 1, 8))::bit(32)::int)::bigint"

    def _text(self, column: str) -> str:
        return column if self.is_sqlite else f"({column})::text"

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._placeholder != "?":
            sql = sql.replace("?", self._placeholder)
        try:
            cur = self._conn.execute(sql, tuple(params))
            return list(cur.fetchall())
        except sqlite3.DatabaseError as exc:
            raise self._sqlite_error(exc) from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                raise _fail(
                    f"Reading the MLflow database failed: {redact(str(exc))}.", "Check the database and sync again."
                ) from exc
            raise

    def _read_revision(self) -> str:
        try:
            rows = self._query("SELECT version_num FROM alembic_version")
        except SyncError as exc:
            raise _fail(
                f"{redact(self.uri)} does not look like an MLflow tracking store (no alembic_version table).",
                "Check the tracking URI.",
            ) from exc
        return str(rows[0][0]) if rows else ""

    def _in(self, sql: str, ids: Sequence[str], extra: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            out.extend(self._query(sql.replace("(:ids)", f"({marks})"), [*extra, *chunk]))
        return out

    # --- reads --------------------------------------------------------------------------------------------------
    def experiments(self) -> list[ExperimentRecord]:
        """Every experiment, deleted ones included, with its tags."""
        with self.snapshot():
            return self._experiments()

    def _experiments(self) -> list[ExperimentRecord]:
        tags: dict[str, dict[str, str]] = {}
        for key, value, exp_id in self._query("SELECT key, value, experiment_id FROM experiment_tags"):
            tags.setdefault(str(exp_id), {})[key] = value or ""
        return [
            ExperimentRecord(
                experiment_id=str(exp_id),
                name=name,
                artifact_location=loc or "",
                lifecycle_stage=stage or "active",
                creation_time=ctime,
                last_update_time=utime,
                tags=tags.get(str(exp_id), {}),
                workspace=ws or "default",
            )
            for exp_id, name, loc, stage, ctime, utime, ws in self._query(
                "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, "
                "workspace FROM experiments"
            )
        ]

    def file_state(self) -> str:
        """For a SQLite store, what says the file is byte-for-byte as it was: SQLite's file change counter (header
        offset 24, bumped by every write transaction in rollback-journal mode) with the size and modification time
        of the database and of its write-ahead log (WAL mode does not bump the counter). Empty for other stores."""
        if not self.is_sqlite:
            return ""
        path = sqlite_path(self.uri)
        parts = []
        with open(path, "rb") as f:
            parts.append(f.read(100)[24:28].hex())
        for candidate in (path, path.with_name(path.name + "-wal")):
            try:
                st = candidate.stat()
            except FileNotFoundError:
                parts.append("-")
            else:
                parts.append(f"{st.st_size}:{st.st_mtime_ns}")
        return "|".join(parts)

    def _tag_hash(self) -> str:
        return self._hash("key || '=' || coalesce(value, '')")

    def _metric_hash(self) -> str:
        parts = " || '@' || ".join(
            ["key", self._text("value"), self._text("step"), self._text("coalesce(timestamp, 0)"), self._text("is_nan")]
        )
        return self._hash(parts)

    _RUNS_SQL = "SELECT run_uuid, status, end_time, lifecycle_stage, name, experiment_id FROM runs"

    @staticmethod
    def _marks(table_counts: list[Any], runs: list[tuple[Any, ...]]) -> dict[str, Any]:
        digest = hashlib.sha256()
        for rec in sorted(runs, key=lambda r: r[0]):
            digest.update(repr(tuple(rec)).encode())
        return {"tables": [str(v) for v in table_counts], "runs": digest.hexdigest()}

    def marks(self) -> dict[str, Any]:
        """Whole-store watermarks: when every one equals the last sync's, no run changed.

        Params are immutable in MLflow, so their count is enough; tags can be overwritten in place (same row, same
        length) and latest metrics move with every log_metric, so both are summed as content hashes; runs change
        status, name and lifecycle, and the runs table is small enough to hash whole. ``scan`` computes the same
        marks from its per-run figures.
        """
        with self.snapshot():
            row = self._query(
                "SELECT (SELECT count(*) FROM params), (SELECT count(*) FROM tags), "
                f"(SELECT coalesce(sum({self._tag_hash()}), 0) FROM tags), (SELECT count(*) FROM latest_metrics), "
                f"(SELECT coalesce(sum({self._metric_hash()}), 0) FROM latest_metrics), "
                "(SELECT count(*) FROM inputs WHERE destination_type = 'RUN'), (SELECT count(*) FROM input_tags)"
            )[0]
            runs = self._query(self._RUNS_SQL)
        return self._marks(list(row), runs)

    def scan(self) -> tuple[dict[str, str], dict[str, Any]]:
        """A fingerprint per run (status, end time, lifecycle, name, and counts and content hashes of its params,
        tags, latest metrics and inputs), and the store's marks, from one snapshot. A run whose fingerprint moved
        changed after it was last mirrored."""
        parts: dict[str, list[str]] = {}
        totals: list[Any] = []
        with self.snapshot():
            runs = self._query(self._RUNS_SQL)
            for run_id, status, end_time, stage, name, exp_id in runs:
                parts[run_id] = [str(status), str(end_time), str(stage), str(name), str(exp_id)]
            for sql in (
                "SELECT run_uuid, count(*), 0 FROM params GROUP BY run_uuid",
                f"SELECT run_uuid, count(*), coalesce(sum({self._tag_hash()}), 0) FROM tags GROUP BY run_uuid",
                f"SELECT run_uuid, count(*), coalesce(sum({self._metric_hash()}), 0) FROM latest_metrics "
                "GROUP BY run_uuid",
                "SELECT destination_id, count(*), 0 FROM inputs WHERE destination_type = 'RUN' GROUP BY destination_id",
            ):
                found: dict[str, str] = {}
                count_total: Any = 0
                hash_total: Any = 0
                for run_id, count, total in self._query(sql):
                    found[run_id] = f"{count}:{total}"
                    count_total += count
                    hash_total += total
                for run_id, values in parts.items():
                    values.append(found.get(run_id, "-"))
                totals.append((count_total, hash_total))
            input_tags = self._query("SELECT count(*) FROM input_tags")[0][0]
        (n_params, _), (n_tags, tag_sum), (n_metrics, metric_sum), (n_inputs, _) = totals
        marks = self._marks([n_params, n_tags, tag_sum, n_metrics, metric_sum, n_inputs, input_tags], runs)
        probes = {run_id: hashlib.sha1("|".join(values).encode()).hexdigest() for run_id, values in parts.items()}
        return probes, marks

    def runs(
        self, run_ids: Sequence[str], probes: dict[str, str] | None = None, *, batch: int = 1000
    ) -> Iterator[list[RunRecord]]:
        """The given runs, complete (params, latest metrics, tags, dataset inputs), in batches of ``batch`` runs.

        When most of the store is asked for (a first or full sync) each batch is read as a range of run ids through
        the ``run_uuid`` indexes instead of id lists: cheaper than an index lookup per run, and memory stays bounded
        by the batch, not by the store."""
        dense = bool(probes) and len(run_ids) > len(probes or {}) // 2
        ordered = sorted(run_ids) if dense else list(run_ids)
        for start in range(0, len(ordered), batch):
            chunk = ordered[start : start + batch]
            with self.snapshot():  # released before the caller writes the batch
                records = self._run_batch(chunk, probes or {}, window=(chunk[0], chunk[-1]) if dense else None)
            yield records

    def _run_batch(
        self, ids: Sequence[str], probes: dict[str, str], *, window: tuple[str, str] | None = None
    ) -> list[RunRecord]:
        def rows(base: str, id_column: str, keys: Sequence[str]) -> list[tuple[Any, ...]]:
            joiner = " AND " if " WHERE " in base else " WHERE "
            if window is not None:
                return self._query(f"{base}{joiner}{id_column} BETWEEN ? AND ?", window)
            return self._in(f"{base}{joiner}{id_column} IN (:ids)", keys)

        records: dict[str, RunRecord] = {}
        wanted = set(ids)
        for run_id, exp_id, name, status, start, end, user, stage, art in rows(
            "SELECT run_uuid, experiment_id, name, status, start_time, end_time, user_id, lifecycle_stage, "
            "artifact_uri FROM runs",
            "run_uuid",
            ids,
        ):
            if run_id not in wanted:
                continue
            records[run_id] = RunRecord(
                run_id=run_id,
                experiment_id=str(exp_id),
                name=name or "",
                status=status or "FINISHED",
                start_time=start,
                end_time=end,
                user_id=user or "",
                lifecycle_stage=stage or "active",
                artifact_uri=art or "",
                probe=probes.get(run_id, ""),
            )
        for run_id, key, value in rows("SELECT run_uuid, key, value FROM params", "run_uuid", ids):
            if run_id in records:
                records[run_id].params[key] = value
        for run_id, key, value, step, ts, is_nan in rows(
            "SELECT run_uuid, key, value, step, timestamp, is_nan FROM latest_metrics", "run_uuid", ids
        ):
            if run_id in records:
                records[run_id].metrics[key] = (None if is_nan else float(value), int(step or 0), ts)
        for run_id, key, value in rows("SELECT run_uuid, key, value FROM tags", "run_uuid", ids):
            if run_id in records:
                records[run_id].tags[key] = value or ""
        inputs = rows(
            "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source "
            "FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id "
            "WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN'",
            "i.destination_id",
            ids,
        )
        inputs = [row for row in inputs if row[0] in records]
        input_tags: dict[str, dict[str, str]] = {}
        for input_uuid, name, value in self._in(
            "SELECT input_uuid, name, value FROM input_tags WHERE input_uuid IN (:ids)", [r[1] for r in inputs]
        ):
            input_tags.setdefault(input_uuid, {})[name] = value
        for run_id, input_uuid, name, digest, source_type, source in inputs:
            tags = input_tags.get(input_uuid, {})
            records[run_id].inputs.append(
                InputRecord(
                    name=name,
                    digest=digest,
                    source_type=source_type or "",
                    source=source or "",
                    context=tags.get("mlflow.data.context", ""),
                    tags=tags,
                )
            )
        return [records[i] for i in ids if i in records]

    def registry(self) -> list[RegisteredModelRecord]:
        """Every registered model with its tags, aliases and versions (with their tags and logged-model tags)."""
        with self.snapshot():
            return self._registry()

    def _registry(self) -> list[RegisteredModelRecord]:
        models: dict[tuple[str, str], RegisteredModelRecord] = {}
        for name, ctime, utime, desc, ws in self._query(
            "SELECT name, creation_time, last_updated_time, description, workspace FROM registered_models"
        ):
            models[(ws, name)] = RegisteredModelRecord(
                name=name, description=desc or "", creation_time=ctime, last_updated_time=utime, workspace=ws
            )
        for key, value, name, ws in self._query("SELECT key, value, name, workspace FROM registered_model_tags"):
            if (ws, name) in models:
                models[(ws, name)].tags[key] = value or ""
        for alias, version, name, ws in self._query(
            "SELECT alias, version, name, workspace FROM registered_model_aliases"
        ):
            if (ws, name) in models:
                models[(ws, name)].aliases[alias] = int(version)
        versions: dict[tuple[str, str, int], ModelVersionRecord] = {}
        for row in self._query(
            "SELECT name, version, creation_time, last_updated_time, description, user_id, current_stage, source, "
            "run_id, status, status_message, run_link, workspace FROM model_versions "
            # MLflow deletes a version by moving it to this internal stage; its own API no longer lists it.
            "WHERE current_stage IS NULL OR current_stage <> 'Deleted_Internal'"
        ):
            name, version, ctime, utime, desc, user, stage, source, run_id, status, msg, link, ws = row
            versions[(ws, name, int(version))] = ModelVersionRecord(
                name=name,
                version=int(version),
                creation_time=ctime,
                last_updated_time=utime,
                description=desc or "",
                user_id=user or "",
                stage=stage or "None",
                source=source or "",
                run_id=run_id or "",
                status=status or "",
                status_message=msg or "",
                run_link=link or "",
                workspace=ws,
                model_id=logged_model_id_from_source(source or ""),
            )
        for key, value, name, version, ws in self._query(
            "SELECT key, value, name, version, workspace FROM model_version_tags"
        ):
            if (ws, name, int(version)) in versions:
                versions[(ws, name, int(version))].tags[key] = value or ""
        model_ids = sorted({v.model_id for v in versions.values() if v.model_id})
        logged_tags: dict[str, dict[str, str]] = {}
        for model_id, key, value in self._in(
            "SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN (:ids)", model_ids
        ):
            logged_tags.setdefault(model_id, {})[key] = value or ""
        for (ws, name, _), record in sorted(versions.items()):
            record.logged_model_tags = logged_tags.get(record.model_id, {})
            model = models.get((ws, name))
            if model is not None:
                record.aliases = sorted(a for a, v in model.aliases.items() if v == record.version)
                model.versions.append(record)
        return list(models.values())

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, int, float | None]]:
        """Every logged value of one metric of one run as (step, timestamp ms, value or None for NaN)."""
        return [
            (int(step), int(ts), None if is_nan else float(value))
            for step, ts, value, is_nan in self._query(
                "SELECT step, timestamp, value, is_nan FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY step, timestamp",
                [run_id, key],
            )
        ]
