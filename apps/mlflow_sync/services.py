"""Writes of the MLflow mirror: adding sources and syncing them.

One service (``mlflow_source_sync``) backs every entry point: ``manage.py sync_mlflow``, the Celery task, the
scheduler and the "Sync now" button, all through ``apps.core.services.sync_source``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.services import audit_record, audit_saved, audit_snapshot
from apps.core import services as core_services
from apps.core.errors import SourceError, SyncError
from apps.core.registry import Progress
from apps.mlflow_sync import client as mlflow_client
from apps.mlflow_sync import history, hooks
from apps.mlflow_sync.history import NO_STAGE, ModelState
from apps.mlflow_sync.models import (
    SQL_SCHEMES,
    DatasetInput,
    Experiment,
    MetricHistory,
    MlflowSource,
    ModelVersion,
    RegisteredModel,
    RegistryChange,
    Run,
    uri_scheme,
)
from apps.mlflow_sync.records import ExperimentRecord, RegisteredModelRecord, RegistryState, RunRecord
from apps.mlflow_sync.sqlstore import SqlStore


def _ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


# --- sources ------------------------------------------------------------------------------------------------------
def mlflow_source_add(
    *,
    name: str,
    tracking_uri: str,
    registry_uri: str = "",
    username_env: str = "",
    password_env: str = "",
    token_env: str = "",
    ui_url: str = "",
    actor: Actor | None = None,
) -> tuple[MlflowSource, bool]:
    """Add an MLflow source and return it with ``created``, recording ``source.added``. The same name and URI again
    changes nothing; the same name with another URI is refused, as are bad names, unsupported URIs, ``sqlite:``
    files that do not exist and a ``ui_url`` (the MLflow UI the pages link to) that is not an http(s) URL."""
    existing = MlflowSource.objects.filter(name=name).first()
    if existing is not None:
        if existing.tracking_uri == tracking_uri:
            return existing, False
        raise SourceError(
            f"An MLflow source named '{name}' already exists with tracking URI {existing.tracking_uri}.",
            hint="Choose another name, or change the existing source in the admin.",
        )
    source = MlflowSource(
        name=name,
        tracking_uri=tracking_uri,
        registry_uri=registry_uri,
        username_env=username_env or "",
        password_env=password_env or "",
        token_env=token_env or "",
        ui_url=ui_url or "",
    )
    core_services.source_check(source)
    with transaction.atomic():
        source.save()
        _record_source("source.added", source, actor, after=audit_snapshot(source, SOURCE_FIELDS))
    return source, True


# What a source's events show of it: never a secret (the credentials are names of environment variables).
SOURCE_FIELDS = (
    "name",
    "tracking_uri",
    "registry_uri",
    "ui_url",
    "username_env",
    "password_env",
    "token_env",
    "enabled",
)


def _record_source(action: str, source: MlflowSource, actor: Actor | None, **changes: Any) -> None:
    audit_record(
        action=action,
        target_type="mlflow_source",
        target_id=source.pk,
        target_text=source.name,
        actor=actor,
        **changes,
    )


def mlflow_source_save(*, source: MlflowSource, actor: Actor) -> MlflowSource:
    """Save a source edited in the admin (already validated by its form), recording ``source.added`` or
    ``source.changed`` with the fields before and after. Saving without a change records nothing."""
    audit_saved(
        source, fields=SOURCE_FIELDS, kind="source", target_type="mlflow_source", target_text=source.name, actor=actor
    )
    return source


def mlflow_source_delete(*, source: MlflowSource, actor: Actor) -> None:
    """Delete a source and its whole mirror, recording ``source.deleted`` (the audit log keeps its history)."""
    with transaction.atomic():
        before = audit_snapshot(source, SOURCE_FIELDS)
        source_id, name = source.pk, source.name
        source.delete()
        audit_record(
            action="source.deleted",
            target_type="mlflow_source",
            target_id=source_id,
            target_text=name,
            actor=actor,
            before=before,
        )


def mlflow_source_ensure_default() -> MlflowSource | None:
    """Add the source named by ``MLFLOW_TRACKING_URI`` in the environment (as "default") unless a source with that
    URI exists. Returns it, or None when the variable is unset or names a store that cannot be added."""
    uri = settings.MLFLOW_DEFAULT_SOURCE_URI
    if not uri:
        return None
    found = MlflowSource.objects.filter(tracking_uri=uri).first()
    if found is not None:
        return found
    name = "default" if not MlflowSource.objects.filter(name="default").exists() else "env-default"
    try:
        return mlflow_source_add(name=name, tracking_uri=uri, actor=Actor.system("MLFLOW_TRACKING_URI"))[0]
    except SourceError:
        return None


def _credentials(source: MlflowSource) -> dict[str, str]:
    """The source's secrets, read from the environment by the variable names it stores. A named variable that is
    unset is an error: syncing without the credentials would fail later with a vaguer message."""
    values = {}
    for field, key in (("username_env", "username"), ("password_env", "password"), ("token_env", "token")):
        var = getattr(source, field)
        if var:
            if var not in os.environ:
                raise SyncError(
                    f"Source '{source.name}' takes its {key} from ${var}, which is not set in this process.",
                    hint=f"Set {var} in the environment of the web server, worker and scheduler.",
                )
            values[key] = os.environ[var]
    return values


# --- writing records --------------------------------------------------------------------------------------------
def _upsert_experiments(source: MlflowSource, records: list[ExperimentRecord]) -> dict[str, int]:
    objs = [
        Experiment(
            source=source,
            workspace=r.workspace,
            experiment_id=r.experiment_id,
            name=r.name,
            artifact_location=r.artifact_location,
            lifecycle_stage=r.lifecycle_stage,
            creation_time=_ms(r.creation_time),
            last_update_time=_ms(r.last_update_time),
            tags=r.tags,
            deleted=r.lifecycle_stage == "deleted",
        )
        for r in records
    ]
    with transaction.atomic():
        Experiment.objects.bulk_create(
            objs,
            update_conflicts=True,
            unique_fields=["source", "workspace", "experiment_id"],
            update_fields=[
                "name",
                "artifact_location",
                "lifecycle_stage",
                "creation_time",
                "last_update_time",
                "tags",
                "deleted",
            ],
        )
        seen = {r.experiment_id for r in records}
        Experiment.objects.filter(source=source).exclude(experiment_id__in=seen).update(deleted=True)
    return dict(Experiment.objects.filter(source=source).values_list("experiment_id", "pk"))


_RUN_COLUMNS = [
    "source_id",
    "run_id",
    "experiment_id",
    "name",
    "status",
    "start_time",
    "end_time",
    "user_id",
    "lifecycle_stage",
    "artifact_uri",
    "params",
    "metrics",
    "metric_steps",
    "tags",
    "git_commit",
    "git_branch",
    "git_repo_url",
    "source_name",
    "parent_run_id",
    "probe",
    "deleted",
    "synced_at",
]
_JSON_COLUMNS = {"params", "metrics", "metric_steps", "tags"}


def _run_upsert_sql() -> str:
    """``INSERT … ON CONFLICT (source, run_id) DO UPDATE``, the same on SQLite (3.24+) and PostgreSQL. Rows are
    written with ``executemany`` rather than ``bulk_create``: preparing 20,000 model instances field by field cost
    more than reading them from MLflow."""
    qn = connection.ops.quote_name
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    values = ", ".join(f"%s{cast}" if c in _JSON_COLUMNS else "%s" for c in _RUN_COLUMNS)
    updates = ", ".join(f"{qn(c)} = excluded.{qn(c)}" for c in _RUN_COLUMNS if c not in ("source_id", "run_id"))
    return (
        f"INSERT INTO {qn(Run._meta.db_table)} ({', '.join(qn(c) for c in _RUN_COLUMNS)}) VALUES ({values}) "
        f"ON CONFLICT ({qn('source_id')}, {qn('run_id')}) DO UPDATE SET {updates}"
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _adapt_datetime(value: datetime | None) -> Any:
    """What Django's backend would store for an aware UTC datetime, without its per-value overhead (20,000 runs
    have 40,000 of them): SQLite keeps naive UTC text, PostgreSQL takes the aware value."""
    if value is None or connection.vendor != "sqlite":
        return value
    return str(value.replace(tzinfo=None))


def _run_row(source_id: int, r: RunRecord, experiments: dict[str, int], now: Any) -> tuple[Any, ...]:
    adapt = _adapt_datetime
    tags = r.tags
    return (
        source_id,
        r.run_id,
        experiments.get(r.experiment_id),
        r.name[:250],
        r.status,
        adapt(_ms(r.start_time)),
        adapt(_ms(r.end_time)),
        r.user_id[:256],
        r.lifecycle_stage,
        r.artifact_uri,
        _json(r.params),
        _json({k: v[0] for k, v in r.metrics.items()}),
        _json({k: [v[1], v[2]] for k, v in r.metrics.items()}),
        _json(tags),
        tags.get("mlflow.source.git.commit", "")[:64],
        tags.get("mlflow.source.git.branch", "")[:250],
        tags.get("mlflow.source.git.repoURL", ""),
        tags.get("mlflow.source.name", ""),
        tags.get("mlflow.parentRunId", "")[:64],
        r.probe,
        r.lifecycle_stage == "deleted",
        now,
    )


def _write_run_batch(source: MlflowSource, records: list[RunRecord], experiments: dict[str, int]) -> int:
    """Upsert one batch of runs with their dataset inputs in one transaction: a run is never half-written."""
    if not records:
        return 0
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    rows = [_run_row(source.pk, r, experiments, now) for r in records]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.executemany(_run_upsert_sql(), rows)
        DatasetInput.objects.filter(run__source=source, run__run_id__in=[r.run_id for r in records]).delete()
        with_inputs = [r for r in records if r.inputs]
        if with_inputs:
            pks = dict(
                Run.objects.filter(source=source, run_id__in=[r.run_id for r in with_inputs]).values_list(
                    "run_id", "pk"
                )
            )
            DatasetInput.objects.bulk_create(
                [
                    DatasetInput(
                        run_id=pks[r.run_id],
                        name=i.name[:500],
                        digest=i.digest[:64],
                        source_type=i.source_type[:64],
                        source=i.source,
                        context=i.context[:255],
                        tags=i.tags,
                    )
                    for r in with_inputs
                    for i in r.inputs
                ],
                batch_size=500,
            )
    return len(records)


def _mark_runs_gone(source: MlflowSource, run_ids: Iterable[str]) -> int:
    """Runs MLflow no longer has (garbage-collected) stay in the mirror, marked deleted."""
    ids = list(run_ids)
    marked = 0
    for start in range(0, len(ids), 900):
        # The probe is cleared so that a run which comes back (a restored backup) is written again in full.
        marked += Run.objects.filter(source=source, run_id__in=ids[start : start + 900], deleted=False).update(
            deleted=True, probe="", synced_at=timezone.now()
        )
    return marked


def _mirror_states(source: MlflowSource) -> dict[tuple[str, str], tuple[int, ModelState, datetime | None]]:
    """The mirror's registry state of each live model: (workspace, name) → (row id, state, observed_at)."""
    stages: dict[int, dict[int, str]] = {}
    for model_pk, version, stage in ModelVersion.objects.filter(source=source, deleted=False).values_list(
        "model_id", "version", "stage"
    ):
        stages.setdefault(model_pk, {})[version] = stage or NO_STAGE
    return {
        (ws, name): (pk, ModelState(aliases={a: int(v) for a, v in (aliases or {}).items()}, stages=stages.get(pk, {})),
                     observed)
        for pk, ws, name, aliases, observed in RegisteredModel.objects.filter(source=source, deleted=False).values_list(
            "pk", "workspace", "name", "aliases", "observed_at"
        )
    }  # fmt: skip


def _record_state(model: RegisteredModelRecord) -> ModelState:
    return ModelState(aliases=dict(model.aliases), stages={v.version: v.stage or NO_STAGE for v in model.versions})


SYNC_ACTOR = Actor.system("sync")


def _record_history(
    source: MlflowSource,
    before: dict[tuple[str, str], tuple[int, ModelState, datetime | None]],
    after: dict[tuple[str, str], ModelState],
    model_pks: dict[tuple[str, str], int],
    *,
    baseline_at: datetime | None,
    previous_read: datetime | None,
    read_started: datetime,
    now: datetime,
) -> int:
    """Write the registry's history for what this reading saw: on the source's first registry sync a ``baseline``
    event per model (what held which alias and stage); afterwards an ``observed`` event per change since the model
    was last compared (made outside the dashboard, between that reading and this one). Returns how many changes
    were recorded."""
    rows: list[RegistryChange] = []
    recorded = 0
    if baseline_at is None:
        for key, state in sorted(after.items()):
            changes = history.baseline(state)
            event = audit_record(
                action="registry.baseline",
                target_type="registered_model",
                target_id=model_pks[key],
                target_text=key[1],
                actor=SYNC_ACTOR,
                after={
                    "source": source.name,
                    "aliases": state.aliases,
                    "stages": {str(v): stage for v, stage in sorted(state.stages.items())},
                    "change": "first seen: " + (", ".join(history.describe(c) for c in changes) or "no alias or stage"),
                },
            )
            rows += [
                RegistryChange(model_id=model_pks[key], kind=RegistryChange.Kind.BASELINE, field=c.field, name=c.name,
                               version=c.version, before=c.before, after=c.after, at=now, event=event)
                for c in changes
            ]  # fmt: skip
        MlflowSource.objects.filter(pk=source.pk).update(registry_baseline_at=now)
        source.registry_baseline_at = now
    else:
        for key in sorted(before.keys() | after.keys()):
            old = before.get(key)
            since = (old[2] if old is not None else None) or previous_read or baseline_at
            model_pk = model_pks[key]
            for change in history.registry_diff(old[1] if old is not None else None, after.get(key)):
                event = audit_record(
                    action="registry.observed",
                    target_type="registered_model",
                    target_id=model_pk,
                    target_text=key[1],
                    actor=SYNC_ACTOR,
                    after={
                        "source": source.name,
                        **change.as_dict(),
                        "observed_between": [since.isoformat() if since else None, now.isoformat()],
                        "made_by": "outside the dashboard (MLflow records no user or time for this)",
                    },
                )
                rows.append(
                    RegistryChange(model_id=model_pk, kind=RegistryChange.Kind.OBSERVED, field=change.field,
                                   name=change.name, version=change.version, before=change.before,
                                   after=change.after, at=now, not_before=since, event=event)
                )  # fmt: skip
                recorded += 1
    RegistryChange.objects.bulk_create(rows, batch_size=500)
    written = [model_pks[key] for key in after]
    RegisteredModel.objects.filter(pk__in=written).update(observed_at=read_started)
    return recorded


def _write_registry(
    source: MlflowSource, models: list[RegisteredModelRecord], *, read_started: datetime, writes_at_read: int
) -> dict[str, int]:
    """Upsert every registered model and version in one transaction; those MLflow no longer has are marked deleted;
    and record what changed (``_record_history``). A model with a promotion being written, or written by one since
    this reading began (the source's ``registry_writes`` has moved past ``writes_at_read`` for it), is left as the
    mirror holds it ("deferred": the next sync reads it again). Returns counts."""
    now = timezone.now()
    with transaction.atomic():
        # Serialised with a promotion confirming (which takes the same lock) so neither undoes the other.
        locked = MlflowSource.objects.select_for_update().get(pk=source.pk)
        baseline_at = locked.registry_baseline_at
        before = _mirror_states(source)
        busy = hooks.registry_writes_in_flight(source.pk) | set(
            RegisteredModel.objects.filter(source=source, mirror_write_seq__gt=writes_at_read).values_list(
                "pk", flat=True
            )
        )
        deferred = {key for key, (pk, _, _) in before.items() if pk in busy}
        models = [m for m in models if (m.workspace, m.name) not in deferred]
        RegisteredModel.objects.bulk_create(
            [
                RegisteredModel(
                    source=source,
                    workspace=m.workspace,
                    name=m.name,
                    description=m.description,
                    creation_time=_ms(m.creation_time),
                    last_updated_time=_ms(m.last_updated_time),
                    tags=m.tags,
                    aliases=m.aliases,
                    deleted=False,
                    synced_at=now,
                )
                for m in models
            ],
            update_conflicts=True,
            unique_fields=["source", "workspace", "name"],
            update_fields=[
                "description",
                "creation_time",
                "last_updated_time",
                "tags",
                "aliases",
                "deleted",
                "synced_at",
            ],
        )
        model_pks = {
            (ws, name): pk
            for ws, name, pk in RegisteredModel.objects.filter(source=source).values_list("workspace", "name", "pk")
        }
        live_models = {model_pks[(m.workspace, m.name)] for m in models}
        kept = live_models | busy
        RegisteredModel.objects.filter(source=source).exclude(pk__in=kept).update(
            deleted=True, aliases={}, synced_at=now
        )
        versions = [
            ModelVersion(
                source=source,
                model_id=model_pks[(m.workspace, m.name)],
                version=v.version,
                mlflow_run_id=v.run_id,
                artifact_source=v.source,
                status=v.status,
                status_message=v.status_message,
                stage=v.stage or "None",
                aliases=v.aliases,
                tags=v.tags,
                description=v.description,
                user_id=v.user_id,
                run_link=v.run_link,
                creation_time=_ms(v.creation_time),
                last_updated_time=_ms(v.last_updated_time),
                logged_model_id=v.model_id,
                logged_model_tags=v.logged_model_tags,
                deleted=False,
                synced_at=now,
            )
            for m in models
            for v in m.versions
        ]
        ModelVersion.objects.bulk_create(
            versions,
            update_conflicts=True,
            unique_fields=["model", "version"],
            update_fields=[
                "mlflow_run_id",
                "artifact_source",
                "status",
                "status_message",
                "stage",
                "aliases",
                "tags",
                "description",
                "user_id",
                "run_link",
                "creation_time",
                "last_updated_time",
                "logged_model_id",
                "logged_model_tags",
                "deleted",
                "synced_at",
            ],
            batch_size=500,
        )
        live_versions = {(v.model_id, v.version) for v in versions}
        gone = [
            pk
            for pk, model_pk, version in ModelVersion.objects.filter(source=source, deleted=False).values_list(
                "pk", "model_id", "version"
            )
            if (model_pk, version) not in live_versions and model_pk not in busy
        ]
        ModelVersion.objects.filter(pk__in=gone).update(deleted=True, aliases=[], synced_at=now)
        after = {(m.workspace, m.name): _record_state(m) for m in models}
        previous = source.sync_state.get("registry", {}).get("read_at")
        observed = _record_history(
            source,
            {key: value for key, value in before.items() if key not in deferred},
            after,
            model_pks,
            baseline_at=baseline_at,
            previous_read=datetime.fromisoformat(previous) if previous else None,
            read_started=read_started,
            now=now,
        )
    return {
        "models": len(models),
        "versions": len(versions),
        "versions_deleted": len(gone),
        "registry_changes": observed,
        "registry_deferred": len(deferred),
    }


def _registry_digest(models: list[RegisteredModelRecord]) -> str:
    ordered = sorted(models, key=lambda m: (m.workspace, m.name))
    for model in ordered:
        model.versions.sort(key=lambda v: v.version)
    return hashlib.sha1(repr(ordered).encode()).hexdigest()


def _link_versions_to_runs(source: MlflowSource) -> None:
    ModelVersion.objects.filter(source=source).exclude(mlflow_run_id="").update(
        run=Subquery(Run.objects.filter(source=source, run_id=OuterRef("mlflow_run_id")).values("pk")[:1])
    )


def _save_state(source: MlflowSource, updates: dict[str, dict[str, Any]]) -> None:
    merged = {**source.sync_state, **updates}
    MlflowSource.objects.filter(pk=source.pk).update(sync_state=merged)
    source.sync_state = merged


# --- the sync -----------------------------------------------------------------------------------------------------
def mlflow_source_sync(source_id: int, *, full: bool = False, progress: Progress) -> dict[str, int]:
    """Mirror one MLflow source: experiments, runs that are new or changed since the last sync, and the whole
    registry. Returns counts. Raises ``SyncError`` (unreachable server, bad credentials, locked/corrupt file, unknown
    schema revision, a failure while paging); batches written before a failure stay, each complete, and the source's
    watermarks advance only when everything, registry included, succeeded."""
    # A process that imported mlflow tracks ~300k objects; freezing them keeps the collector from rescanning them
    # for every batch of records this sync allocates.
    gc.freeze()
    try:
        return _sync(source_id, full=full, progress=progress)
    finally:
        gc.unfreeze()


def _sync(source_id: int, *, full: bool, progress: Progress) -> dict[str, int]:
    source = MlflowSource.objects.get(pk=source_id)
    creds = _credentials(source)
    user, password = creds.get("username", ""), creds.get("password", "")
    tracking_sql = uri_scheme(source.tracking_uri) in SQL_SCHEMES
    registry_uri = source.effective_registry_uri
    registry_sql = uri_scheme(registry_uri) in SQL_SCHEMES
    counts: dict[str, int] = {}
    with ExitStack() as stack:
        client: Any = None
        if not (tracking_sql and registry_sql):
            stack.enter_context(
                mlflow_client.mlflow_environment(username=user, password=password, token=creds.get("token", ""))
            )
            # A registry-only client must not open MLflow's own store on a SQL tracking database.
            client = mlflow_client.make_client(registry_uri if tracking_sql else source.tracking_uri, registry_uri)
        if tracking_sql:
            store = stack.enter_context(SqlStore(source.tracking_uri, username=user, password=password))
            run_counts, state = _sync_runs_sql(source, store, full=full, progress=progress)
        else:
            run_counts, state = _sync_runs_client(source, client, full=full, progress=progress)
        counts.update(run_counts)
        progress(done=counts["runs_seen"], total=counts["runs_seen"], phase="registry")
        read_started = timezone.now()
        # One read of the source's registry marks: the promotions' write counter, and whether a baseline exists.
        writes_at_read, baseline_at = MlflowSource.objects.values_list("registry_writes", "registry_baseline_at").get(
            pk=source.pk
        )
        if registry_sql:
            if registry_uri != source.tracking_uri or not tracking_sql:
                store = stack.enter_context(SqlStore(registry_uri, username=user, password=password))
            registry = store.registry()
        else:
            registry = mlflow_client.client_registry(
                client, registry_uri, beat=lambda n: progress(done=n, total=0, phase="registry")
            )
        # Every alias is re-read each sync (an alias move touches no timestamp); the mirror is written only when
        # what was read differs from what the last sync wrote.
        digest = _registry_digest(registry)
        first = baseline_at is None
        if full or first or digest != source.sync_state.get("registry", {}).get("digest"):
            counts.update(_write_registry(source, registry, read_started=read_started, writes_at_read=writes_at_read))
            _link_versions_to_runs(source)
            if counts.get("registry_deferred"):
                digest = ""  # some models were left as they were: the next sync writes them
        else:
            # Nothing changed since the last reading: every model was compared with this one too.
            RegisteredModel.objects.filter(source=source, deleted=False).update(observed_at=read_started)
            if counts["runs_written"]:
                _link_versions_to_runs(source)
        state["registry"] = {"digest": digest, "read_at": read_started.isoformat()}
    _save_state(source, state)
    counts.pop("runs_seen", None)
    return counts


def _sync_runs_sql(
    source: MlflowSource, store: SqlStore, *, full: bool, progress: Progress
) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """The direct path. Whole-store marks decide whether anything changed; if so, per-run probes find what."""
    state = dict(source.sync_state.get("sql", {}))
    progress(done=0, total=0, phase="experiments")
    experiments = _upsert_experiments(source, store.experiments())
    file_state = store.file_state()
    unchanged_file = file_state and file_state == state.get("file_state") and state.get("revision") == store.revision
    if full or not state:
        marks = None  # everything is read anyway; the scan below yields the marks
    elif unchanged_file:
        marks = state["marks"]  # the file has not been written since the last sync: nothing can have changed
    else:
        marks = store.marks()
    counts = {"experiments": len(experiments), "runs_written": 0, "runs_deleted": 0, "runs_seen": 0}
    if marks is None or state.get("marks") != marks or state.get("revision") != store.revision:
        progress(done=0, total=0, phase="comparing runs")
        probes, marks = store.scan()
        known = dict(Run.objects.filter(source=source).values_list("run_id", "probe"))
        changed = sorted(r for r, p in probes.items() if full or known.get(r) != p)
        done = 0
        for batch in store.runs(changed, probes, batch=2000):
            done += _write_run_batch(source, batch, experiments)
            progress(done=done, total=len(changed), phase="runs", counts={"runs_written": done})
        counts["runs_written"] = done
        counts["runs_deleted"] = _mark_runs_gone(source, set(known) - set(probes))
        counts["runs_seen"] = len(probes)
    new_state = {
        "marks": marks,
        "file_state": file_state,
        "revision": store.revision,
        "synced_at": timezone.now().isoformat(),
        "syncs": int(state.get("syncs", 0)) + 1,
    }
    return counts, {"sql": new_state}


def _probe(record: RunRecord) -> str:
    payload = [
        record.status,
        record.end_time,
        record.lifecycle_stage,
        record.name,
        record.experiment_id,
        sorted(record.params.items()),
        sorted((k, list(v)) for k, v in record.metrics.items()),
        sorted(record.tags.items()),
        [(i.name, i.digest, i.source, i.context) for i in record.inputs],
    ]
    return hashlib.sha1(json.dumps(payload, default=str).encode()).hexdigest()


def _sync_runs_client(
    source: MlflowSource, client: Any, *, full: bool, progress: Progress
) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """The client path: re-list RUNNING and recently started runs each sync, everything every N syncs (MLflow keeps
    no change time for runs, so this is the only way to see edits through its API)."""
    state = dict(source.sync_state.get("rest", {}))
    syncs = int(state.get("syncs", 0))
    reconcile = full or "reconciled_at" not in state or syncs % max(1, settings.MLFLOW_REST_FULL_EVERY) == 0
    started_ms = int(time.time() * 1000)
    progress(done=0, total=0, phase="experiments")
    records = mlflow_client.client_experiments(client, source.tracking_uri)
    experiments = _upsert_experiments(source, records)
    exp_ids = [r.experiment_id for r in records]
    known = dict(Run.objects.filter(source=source).values_list("run_id", "probe"))
    seen: set[str] = set()
    written = 0

    def consume(pages: Iterable[list[RunRecord]]) -> None:
        nonlocal written
        for page in pages:
            fresh = [r for r in page if r.run_id not in seen]
            seen.update(r.run_id for r in fresh)
            for r in fresh:
                r.probe = _probe(r)
            changed = [r for r in fresh if full or known.get(r.run_id) != r.probe]
            written += _write_run_batch(source, changed, experiments)
            progress(done=len(seen), total=max(len(seen), len(known)), phase="runs", counts={"runs_written": written})

    if reconcile:
        consume(mlflow_client.client_runs(client, source.tracking_uri, exp_ids))
    else:
        since = int(state.get("last_started_ms", started_ms)) - settings.MLFLOW_REST_RECENT_HOURS * 3600 * 1000
        consume(
            mlflow_client.client_runs(
                client, source.tracking_uri, exp_ids, filter_string=f"attributes.start_time >= {since}"
            )
        )
        consume(
            mlflow_client.client_runs(
                client, source.tracking_uri, exp_ids, filter_string="attributes.status = 'RUNNING'"
            )
        )
        # Runs the mirror still holds as running but that started before the window: look them up by id.
        still_open = set(
            Run.objects.filter(source=source, status=Run.Status.RUNNING, deleted=False).values_list("run_id", flat=True)
        )
        open_runs = sorted(still_open - seen)
        for start in range(0, len(open_runs), 100):
            quoted = ",".join(f"'{r}'" for r in open_runs[start : start + 100])
            consume(
                mlflow_client.client_runs(
                    client, source.tracking_uri, exp_ids, filter_string=f"attributes.run_id IN ({quoted})"
                )
            )
    gone = _mark_runs_gone(source, set(known) - seen) if reconcile else 0
    new_state = {**state, "syncs": syncs + 1, "last_started_ms": started_ms}
    if reconcile:
        new_state["reconciled_at"] = timezone.now().isoformat()
    counts = {"experiments": len(experiments), "runs_written": written, "runs_deleted": gone, "runs_seen": len(seen)}
    return counts, {"rest": new_state}


# --- metric history (on demand, cached) --------------------------------------------------------------------------
def run_metric_history(*, run: Run, key: str) -> list[list[Any]]:
    """The full history of one metric of a mirrored run as [[step, timestamp_ms, value], …], fetched from MLflow the
    first time and cached until the run's latest value of that metric moves. Raises ``SyncError`` when MLflow cannot
    be read (the page then shows the latest value only)."""
    marker = json.dumps([run.metrics.get(key), run.metric_steps.get(key)], default=str)
    cached = MetricHistory.objects.filter(run=run, key=key).first()
    if cached is not None and cached.latest_marker == marker:
        return list(cached.points)
    source = run.source
    creds = _credentials(source)
    if uri_scheme(source.tracking_uri) in SQL_SCHEMES:
        with SqlStore(
            source.tracking_uri, username=creds.get("username", ""), password=creds.get("password", "")
        ) as store:
            points = store.metric_history(run.run_id, key)
    else:
        with mlflow_client.mlflow_environment(
            username=creds.get("username", ""), password=creds.get("password", ""), token=creds.get("token", "")
        ):
            client = mlflow_client.make_client(source.tracking_uri, source.effective_registry_uri)
            points = mlflow_client.client_metric_history(client, source.tracking_uri, run.run_id, key)
    rows = [list(p) for p in points]
    MetricHistory.objects.update_or_create(run=run, key=key, defaults={"points": rows, "latest_marker": marker})
    return rows


# --- registry writes: what promotions call -----------------------------------------------------------------------
class RegistrySession:
    """MLflow's registry of one source, for a promotion: read a model's state, move an alias, move a stage. Every
    call raises ``client.RegistryUnavailable`` (try again later) or ``client.RegistryRefused``."""

    def __init__(self, source: MlflowSource, client: Any) -> None:
        self.source = source
        self.client = client
        self.uri = source.effective_registry_uri

    def read(self, name: str) -> RegistryState:
        return mlflow_client.registry_read(self.client, self.uri, name)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        mlflow_client.registry_set_alias(self.client, self.uri, name, alias, version)

    def set_stage(self, name: str, version: int, stage: str, *, archive_existing: bool) -> None:
        mlflow_client.registry_set_stage(self.client, self.uri, name, version, stage, archive_existing=archive_existing)


@contextmanager
def registry_session(source: MlflowSource, *, timeout: int = 15) -> Iterator[RegistrySession]:
    """A session on the source's registry with its credentials set (and MLflow's HTTP limits short: a promotion
    that cannot reach MLflow stays pending and is retried later). Raises ``RegistryUnavailable`` when a credential
    variable is unset or the client cannot be made."""
    try:
        creds = _credentials(source)
    except SyncError as exc:
        raise mlflow_client.RegistryUnavailable(exc.message, hint=exc.hint) from exc
    with mlflow_client.mlflow_environment(
        username=creds.get("username", ""),
        password=creds.get("password", ""),
        token=creds.get("token", ""),
        timeout=timeout,
    ):
        try:
            client = mlflow_client.make_client(source.effective_registry_uri, source.effective_registry_uri)
        except SyncError as exc:
            raise mlflow_client.RegistryUnavailable(exc.message, hint=exc.hint) from exc
        yield RegistrySession(source, client)


def registry_lock(source_id: int) -> None:
    """Take the source's registry lock in the caller's transaction (PostgreSQL: the source row, ``FOR UPDATE``;
    SQLite: its single writer already serialises). A registry sync's write and a promotion's confirmation both take
    it first, before any other lock (the audit log's last), so they never undo each other or deadlock."""
    MlflowSource.objects.select_for_update().filter(pk=source_id).values_list("pk", flat=True).first()


def registry_mirror_promotion(
    *,
    model: RegisteredModel,
    version: int,
    alias: str | None,
    stage: str,
    archive_existing: bool,
    confirmed: RegistryState,
    event: Any,
    actor: str,
    reason: str,
    not_before: datetime | None,
) -> list[RegistryChange]:
    """Bring the mirror up to what a promotion did in MLflow, in the caller's transaction (the one recording it),
    so that no sync takes it for a change made outside the dashboard: ``alias`` (None: it did not land) now on
    ``version`` and, with a ``stage``, the version in it and (``archive_existing``) the versions MLflow archived out
    of it. Other differences the re-read ``confirmed`` shows are left for the next sync to observe. The stored
    registry digest is cleared, so the next sync compares MLflow with the mirror whatever it reads. Returns the
    ``promoted`` history rows written."""
    now = timezone.now()
    source = MlflowSource.objects.select_for_update().get(pk=model.source_id)
    source.registry_writes += 1
    state = dict(source.sync_state or {})
    state["registry"] = {**state.get("registry", {}), "digest": ""}
    source.sync_state = state
    source.save(update_fields=["registry_writes", "sync_state"])
    model = RegisteredModel.objects.get(pk=model.pk)
    versions = {v.version: v for v in ModelVersion.objects.filter(model=model, deleted=False)}
    changes: list[history.Change] = []
    old_holder = (model.aliases or {}).get(alias) if alias else None
    if alias and old_holder != version:
        changes.append(
            history.Change("alias", alias, version, "" if old_holder is None else str(old_holder), str(version))
        )
        model.aliases = {**(model.aliases or {}), alias: version}
        for mv in versions.values():
            held = set(mv.aliases or [])
            wanted = held | {alias} if mv.version == version else held - {alias}
            if wanted != held:
                mv.aliases = sorted(wanted)
                mv.save(update_fields=["aliases"])
    if stage:
        moved = {version: stage}
        if archive_existing:
            moved.update(
                {v: "Archived" for v, mv in versions.items()
                 if v != version and mv.stage == stage and confirmed.stages.get(v) == "Archived"}
            )  # fmt: skip
        for v, new_stage in sorted(moved.items()):
            row = versions.get(v)
            if row is not None and row.stage != new_stage:
                changes.append(history.Change("stage", "", v, row.stage, new_stage))
                row.stage = new_stage
                row.save(update_fields=["stage"])
    model.mirror_write_seq = source.registry_writes
    model.save(update_fields=["aliases", "mirror_write_seq"])
    rows = [
        RegistryChange(model=model, kind=RegistryChange.Kind.PROMOTED, field=c.field, name=c.name, version=c.version,
                       before=c.before, after=c.after, at=now, not_before=not_before, actor=actor[:150],
                       reason=reason, event=event)
        for c in changes
    ]  # fmt: skip
    RegistryChange.objects.bulk_create(rows)
    return rows
