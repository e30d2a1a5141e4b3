"""The one place that imports ``mlflow``: MLflow's own client for stores the product does not read directly
(``http(s)://`` tracking servers and other URIs), for metric histories, and for registry writes.

``import mlflow`` costs ~3 s and ~200 MB, so it happens inside these functions, never at Django start-up.
Every function returns plain records and turns MLflow's failures into ``SyncError`` with what to do.
"""

from __future__ import annotations

import math
import os
import queue
import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from apps.core.errors import SyncError
from apps.mlflow_sync.records import (
    ExperimentRecord,
    InputRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RegistryState,
    RunRecord,
    logged_model_id_from_source,
)
from apps.mlflow_sync.uris import redact

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# MLflow's client reads credentials and HTTP settings from the process environment on every request, so a sync that
# sets a source's credentials holds this lock until it is done: two sources never see each other's secrets.
_ENV_LOCK = threading.RLock()
_CREDENTIAL_VARS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")
PAGE_SIZE = 1000


@contextmanager
def mlflow_environment(*, username: str = "", password: str = "", token: str = "", timeout: int = 30) -> Iterator[None]:
    """Set the credentials and HTTP limits MLflow's client reads from the environment, under a process-wide lock, and
    restore the previous values afterwards. A down server fails fast instead of retrying for minutes."""
    wanted = {
        "MLFLOW_TRACKING_USERNAME": username,
        "MLFLOW_TRACKING_PASSWORD": password,
        "MLFLOW_TRACKING_TOKEN": token,
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    }
    with _ENV_LOCK:
        saved: dict[str, str | None] = {k: os.environ.get(k) for k in (*wanted, "MLFLOW_REGISTRY_URI")}
        try:
            # The source's registry URI is always passed explicitly; an ambient one would override every source.
            os.environ.pop("MLFLOW_REGISTRY_URI", None)
            for key, value in wanted.items():
                if value:
                    os.environ[key] = value
                else:
                    os.environ.pop(key, None)
            yield
        finally:
            for key, old in saved.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old


def make_client(tracking_uri: str, registry_uri: str = "") -> MlflowClient:
    """An ``MlflowClient`` for one source, with its registry URI given explicitly. Raises ``SyncError`` when MLflow
    refuses the URIs."""
    from mlflow.tracking import MlflowClient

    return _guard(
        tracking_uri, lambda: MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)
    )


def translate_error(exc: Exception, uri: str) -> SyncError:
    """Say what an MLflow client failure means for the user, and what to do."""
    text = redact(str(exc))
    uri = redact(uri)
    low = text.lower()
    first = text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
    # A status code, not digits of a port or an address ("127.0.0.1:44035" holds "403").
    status_refused = re.search(r"(?<![\d.:])40[13](?!\d)", low) is not None
    if status_refused or "unauthenticated" in low or "unauthorized" in low or "permission_denied" in low:
        return SyncError(
            f"The MLflow server at {uri} refused the credentials ({first}).",
            hint="Check the source's username/password (or token) variables and their values in the environment.",
        )
    if "timed out" in low or "timeout" in low:
        return SyncError(
            f"The MLflow server at {uri} did not answer in time ({first}).",
            hint="The server may be overloaded; sync again later. Runs mirrored so far are kept.",
        )
    if "connection" in low or "max retries" in low or "refused" in low or "name or service" in low:
        return SyncError(
            f"Cannot reach the MLflow server at {uri} ({first}).",
            hint="Check that the tracking server is running and the URI is right, then sync again.",
        )
    if "unsupported" in low and "revision" in low or "database schema" in low or "alembic" in low:
        return SyncError(
            f"MLflow's client refuses the store at {uri}: {first}",
            hint="Point this source at that store's `mlflow server` over http.",
        )
    return SyncError(f"MLflow reported an error for {uri}: {first}", hint="Check the source and sync again.")


def _guard(uri: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except SyncError:
        raise
    except Exception as exc:  # MLflow raises MlflowException, requests errors and sqlalchemy errors alike
        raise translate_error(exc, uri) from exc


def paged(call: Callable[[str | None], Any]) -> Iterator[Any]:
    """Every item of a paged MLflow listing, following its page tokens."""
    token: str | None = None
    while True:
        page = call(token)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def _finite(value: Any) -> float | None:
    """NaN as None; ±inf as ±max float, which is how MLflow's SQL store keeps them (JSON has no infinity)."""
    number = float(value)
    if math.isnan(number):
        return None
    if math.isinf(number):
        return math.copysign(sys.float_info.max, number)
    return number


def _experiment(e: Any) -> ExperimentRecord:
    return ExperimentRecord(
        experiment_id=str(e.experiment_id),
        name=e.name,
        artifact_location=e.artifact_location or "",
        lifecycle_stage=e.lifecycle_stage or "active",
        creation_time=e.creation_time,
        last_update_time=e.last_update_time,
        tags=dict(e.tags or {}),
    )


def _run(r: Any) -> RunRecord:
    info, data = r.info, r.data
    inputs = []
    for ds_input in getattr(r.inputs, "dataset_inputs", None) or []:
        ds = ds_input.dataset
        tags = {t.key: t.value for t in ds_input.tags or []}
        inputs.append(
            InputRecord(
                name=ds.name,
                digest=ds.digest,
                source_type=ds.source_type or "",
                source=ds.source or "",
                context=tags.get("mlflow.data.context", ""),
                tags=tags,
            )
        )
    metrics: dict[str, tuple[float | None, int, int | None]] = {}
    for m in getattr(data, "_metric_objs", None) or []:
        value = _finite(m.value)
        metrics[m.key] = (value, int(m.step or 0), m.timestamp)
    if not metrics:
        metrics = {k: (_finite(v), 0, None) for k, v in (data.metrics or {}).items()}
    return RunRecord(
        run_id=info.run_id,
        experiment_id=str(info.experiment_id),
        name=info.run_name or "",
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        user_id=info.user_id or "",
        lifecycle_stage=info.lifecycle_stage or "active",
        artifact_uri=info.artifact_uri or "",
        params=dict(data.params or {}),
        metrics=metrics,
        tags=dict(data.tags or {}),
        inputs=inputs,
    )


def client_experiments(client: MlflowClient, uri: str) -> list[ExperimentRecord]:
    """Every experiment, deleted ones included."""
    from mlflow.entities import ViewType

    return _guard(
        uri,
        lambda: [
            _experiment(e)
            for e in paged(
                lambda t: client.search_experiments(view_type=ViewType.ALL, max_results=PAGE_SIZE, page_token=t)
            )
        ],
    )


def client_runs(
    client: MlflowClient, uri: str, experiment_ids: list[str], *, filter_string: str = "", workers: int = 4
) -> Iterator[list[RunRecord]]:
    """Runs of the experiments (deleted ones included) matching ``filter_string``, listed in parallel per experiment
    and yielded a page at a time as pages arrive (so the caller writes, and beats its heartbeat, while listing goes
    on). The first failure stops the listing and is raised as ``SyncError``."""
    from mlflow.entities import ViewType

    if not experiment_ids:
        return
    pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=8)
    stop = threading.Event()

    def one_experiment(exp_id: str) -> None:
        token: str | None = None
        try:
            while not stop.is_set():
                page = client.search_runs(
                    [exp_id],
                    filter_string=filter_string,
                    run_view_type=ViewType.ALL,
                    max_results=PAGE_SIZE,
                    page_token=token,
                )
                pages.put(("page", [_run(r) for r in page]))
                token = page.token
                if not token:
                    break
        except Exception as exc:  # handed to the consumer, which turns it into a SyncError
            pages.put(("error", exc))
        finally:
            pages.put(("done", None))

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(experiment_ids)))) as pool:
        for exp_id in experiment_ids:
            pool.submit(one_experiment, exp_id)
        remaining = len(experiment_ids)
        try:
            while remaining:
                kind, item = pages.get()
                if kind == "done":
                    remaining -= 1
                elif kind == "error":
                    raise translate_error(item, uri) from item
                else:
                    yield item
        finally:
            stop.set()
            while remaining:  # let the workers finish their current put and exit
                if pages.get()[0] == "done":
                    remaining -= 1


def client_registry(
    client: MlflowClient, uri: str, *, beat: Callable[[int], None] | None = None
) -> list[RegisteredModelRecord]:
    """Every registered model with tags, aliases (from ``get_registered_model``: search results leave them empty)
    and versions with their tags and their logged model's tags. ``beat`` is called as models are read."""

    def read() -> list[RegisteredModelRecord]:
        from mlflow.exceptions import MlflowException

        by_name: dict[str, list[Any]] = {}
        # One paged listing of every version, grouped here: a filter on the name would need quoting rules MLflow's
        # filter parser does not have for names holding quotes.
        for mv in paged(lambda t: client.search_model_versions(max_results=PAGE_SIZE, page_token=t)):
            by_name.setdefault(mv.name, []).append(mv)
        models = []
        for n, rm in enumerate(paged(lambda t: client.search_registered_models(max_results=PAGE_SIZE, page_token=t))):
            if beat is not None and n % 20 == 0:
                beat(n)
            full = client.get_registered_model(rm.name)
            aliases = {a: int(v) for a, v in (full.aliases or {}).items()}
            record = RegisteredModelRecord(
                name=rm.name,
                description=rm.description or "",
                creation_time=rm.creation_timestamp,
                last_updated_time=rm.last_updated_timestamp,
                tags=dict(rm.tags or {}),
                aliases=aliases,
            )
            for mv in sorted(by_name.get(rm.name, []), key=lambda v: int(v.version)):
                model_id = getattr(mv, "model_id", None) or logged_model_id_from_source(mv.source or "")
                logged_tags: dict[str, str] = {}
                if model_id:
                    try:
                        logged_tags = dict(client.get_logged_model(model_id).tags or {})
                    except MlflowException as exc:
                        # A version can outlive its logged model; any other failure must not silently drop
                        # tags such as mlflow.source.git.dirty, so it fails the sync.
                        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                            raise
                version = int(mv.version)
                record.versions.append(
                    ModelVersionRecord(
                        name=rm.name,
                        version=version,
                        run_id=mv.run_id or "",
                        source=mv.source or "",
                        status=mv.status or "",
                        status_message=mv.status_message or "",
                        stage=mv.current_stage or "None",
                        description=mv.description or "",
                        user_id=mv.user_id or "",
                        run_link=mv.run_link or "",
                        creation_time=mv.creation_timestamp,
                        last_updated_time=mv.last_updated_timestamp,
                        tags=dict(mv.tags or {}),
                        aliases=sorted(a for a, v in aliases.items() if v == version),
                        model_id=model_id or "",
                        logged_model_tags=logged_tags,
                    )
                )
            models.append(record)
        return models

    return _guard(uri, read)


def client_metric_history(client: MlflowClient, uri: str, run_id: str, key: str) -> list[tuple[int, int, float | None]]:
    """Every logged value of one metric as (step, timestamp ms, value or None for NaN)."""
    return _guard(
        uri,
        lambda: [(int(m.step), int(m.timestamp), _finite(m.value)) for m in client.get_metric_history(run_id, key)],
    )


# --- registry writes (promotions) ---------------------------------------------------------------------------------
class RegistryUnavailable(SyncError):
    """MLflow could not be reached or did not answer in time: the same call may succeed later."""


class RegistryRefused(SyncError):
    """MLflow answered and refused (no such model or version, a bad value, no permission): retrying will not help."""


def _registry_guard(uri: str, fn: Callable[[], Any]) -> Any:
    """Run a registry call, telling a failure worth retrying (``RegistryUnavailable``: unreachable, timed out, a 5xx)
    from a refusal (``RegistryRefused``)."""
    try:
        return fn()
    except Exception as exc:  # MLflow raises MlflowException, requests errors and sqlalchemy errors alike
        error = translate_error(exc, uri)
        low = str(exc).lower()
        code = str(getattr(exc, "error_code", "") or "")
        status = getattr(exc, "get_http_status_code", None)
        transient = (
            error.message.startswith(("Cannot reach", f"The MLflow server at {redact(uri)} did not answer"))
            or code in ("TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED")
            or (callable(status) and status() >= 500 and code in ("", "INTERNAL_ERROR"))
            # urllib3 gave up on a server answering 5xx (the body, with MLflow's own error, never arrived)
            or re.search(r"too many 5\d\d error responses", low) is not None
            or "database is locked" in low
        )
        cls = RegistryUnavailable if transient else RegistryRefused
        raise cls(error.message, hint=error.hint) from exc


def registry_read(client: MlflowClient, uri: str, name: str) -> RegistryState:
    """A registered model's aliases and the stage of each of its live versions, read from MLflow now."""

    def read() -> RegistryState:
        aliases = {a: int(v) for a, v in (client.get_registered_model(name).aliases or {}).items()}
        if "'" not in name:
            versions = paged(
                lambda t: client.search_model_versions(f"name = '{name}'", max_results=PAGE_SIZE, page_token=t)
            )
        else:  # MLflow's filter language cannot quote this name: list every version and keep the model's
            versions = (
                mv
                for mv in paged(lambda t: client.search_model_versions(max_results=PAGE_SIZE, page_token=t))
                if mv.name == name
            )
        stages = {int(mv.version): mv.current_stage or "None" for mv in versions if mv.name == name}
        return RegistryState(aliases=aliases, stages=stages)

    return _registry_guard(uri, read)


def registry_set_alias(client: MlflowClient, uri: str, name: str, alias: str, version: int) -> None:
    _registry_guard(uri, lambda: client.set_registered_model_alias(name, alias, str(version)))


def registry_set_stage(
    client: MlflowClient, uri: str, name: str, version: int, stage: str, *, archive_existing: bool
) -> None:
    """Move a version to a legacy stage (deprecated in MLflow 3, still honoured by registries that use stages)."""
    import warnings

    def transition() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            client.transition_model_version_stage(name, str(version), stage, archive_existing_versions=archive_existing)

    _registry_guard(uri, transition)
