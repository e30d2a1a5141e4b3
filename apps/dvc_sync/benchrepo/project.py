"""The generated DVC project at one moment: its layout, its state, and the files DVC would have written for it.

The files are what DVC itself writes: ``.dvc/config`` and ``.dvc/.gitignore`` as ``dvc init`` leaves them,
``.dvcignore``, ``.dvc`` files and the ``.gitignore`` beside them as ``dvc add`` writes them, a ``dvc.yaml`` with a
``foreach`` stage over a list in ``params.yaml`` and a ``dvc.lock`` in DVC 3's format (``schema: '2.0'``,
``hash: md5``) whose hashes of code files are the real md5 of those files. The data files themselves are not in git,
as in a real DVC repository; their hashes are made up (seeded) but consistent: an output's hash follows from its
stage's inputs. YAML is written by hand, in DVC's own layout, so the bytes are stable across library versions.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# Bump when the generated content changes: a repository made by an older generator is then rebuilt, not reused.
GENERATOR_VERSION = 1

_REGIONS = [
    "us-east", "us-west", "canada", "brazil", "latam", "uk", "eu-west", "eu-central", "nordics", "mena",
    "africa", "india", "apac", "japan", "korea", "oceania",
]  # fmt: skip
_GROUPS = ["text", "numeric", "categorical", "dates", "geo", "images", "sessions", "prices", "reviews", "clicks"]
_MODELS = ["logreg", "xgboost", "lightgbm", "random_forest", "mlp", "catboost", "svm", "knn"]
_EXTERNAL = ["holidays", "currencies", "postcodes", "stopwords", "brands", "categories"]
CHECKS = ["drift", "fairness", "calibration", "latency", "shap_summary", "error_analysis", "robustness", "leakage"]
CODE_VERBS = ["Refactor", "Fix", "Tidy", "Speed up", "Document", "Handle edge case in", "Add logging to", "Test"]

_DVC_GITIGNORE = "/config.local\n/tmp\n/cache\n"
_DVCIGNORE = (
    "# Add patterns of files dvc should ignore, which could improve\n"
    "# the performance. Learn more at\n"
    "# https://dvc.org/doc/user-guide/dvcignore\n"
)
_GITIGNORE = "__pycache__/\n*.pyc\n.venv/\n.ipynb_checkpoints/\n"
# A shared-filesystem remote: an s3:// one would need the dvc-s3 plugin for some DVC commands, and the remote's
# kind does not matter to the mirror (it keeps names and URLs only).
_DVC_CONFIG = "[core]\n    remote = storage\n['remote \"storage\"']\n    url = /srv/dvc-store/churn\n"


@dataclass(frozen=True)
class BenchRepoSpec:
    """The parameters a repository is keyed by (the stamp file holds them)."""

    commits: int
    dvc_commits: int
    stages: int
    tracked: int
    seed: int = 3_000
    generator: int = GENERATOR_VERSION


# --- the project's layout ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Names derived from the spec: ``len(regions) + len(groups) + 2 * len(models) + 8`` stages in the first
    pipeline (``ingest@<region>`` from the ``foreach``, one ``featurize_<group>`` per group, ``train_<model>`` and
    ``evaluate_<model>`` per model, and eight more)."""

    regions: list[str]
    groups: list[str]
    models: list[str]
    raw_files: dict[str, list[str]]  # region -> tracked paths
    external_files: list[str]

    @property
    def tracked(self) -> list[str]:
        return [p for r in self.regions for p in self.raw_files[r]] + self.external_files


def names(pool: list[str], n: int, prefix: str) -> list[str]:
    return pool[:n] + [f"{prefix}{i:02d}" for i in range(len(pool), n)]


def layout_for(spec: BenchRepoSpec) -> Layout:
    """About 30% of the stages from the ``foreach``, 30% training and evaluation, the rest features and the fixed
    eight; the tracked files spread over the regions, with about 4% (at least one) external reference files.
    Refuses (``ValueError``) fewer than 13 stages, or fewer tracked files than regions + 1."""
    n_regions = max(2, round(spec.stages * 0.3))
    n_models = max(1, round(spec.stages * 0.15))
    if spec.stages - 8 - n_regions - 2 * n_models < 1:
        n_regions, n_models = 2, 1  # a small pipeline: the fewest regions and models, so features are left
    n_groups = spec.stages - 8 - n_regions - 2 * n_models
    if n_groups < 1:
        raise ValueError("The benchmark pipeline needs at least 13 stages.")
    regions = names(_REGIONS, n_regions, "region-")
    per_region = max(1, (spec.tracked - max(1, spec.tracked // 25)) // n_regions)
    n_external = spec.tracked - per_region * n_regions
    if n_external < 1:
        raise ValueError(f"A pipeline of {spec.stages} stages needs at least {n_regions + 1} tracked files.")
    return Layout(
        regions=regions,
        groups=names(_GROUPS, n_groups, "group-"),
        models=names(_MODELS, n_models, "model-"),
        raw_files={r: [f"data/raw/{r}/part-{i:02d}.csv" for i in range(per_region)] for r in regions},
        external_files=[f"data/external/{name}.csv" for name in names(_EXTERNAL, n_external, "reference-")],
    )


@dataclass(frozen=True)
class _Stage:
    """One stage as ``dvc.yaml`` writes it; ``${item}`` in the ``foreach`` template."""

    name: str
    cmd: str
    deps: list[str]
    outs: list[str]
    params: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)  # ``cache: false``, as metrics usually are
    nondeterministic: bool = False  # training: a re-run gives new output hashes even with the same inputs

    def expand(self, item: str) -> _Stage:
        def sub(values: list[str]) -> list[str]:
            return [v.replace("${item}", item) for v in values]

        return _Stage(
            f"{self.name}@{item}", self.cmd.replace("${item}", item), sub(self.deps), sub(self.outs),
            sub(self.params), sub(self.metrics), self.nondeterministic,
        )  # fmt: skip


_INGEST = _Stage(
    "ingest",
    "python src/ingest.py --region ${item} --out data/interim/${item}.parquet",
    deps=["src/ingest.py", "data/raw/${item}"],
    outs=["data/interim/${item}.parquet"],
    params=["ingest.sample_rate"],
)


def _plain_stages(layout: Layout, checks: list[str]) -> list[_Stage]:
    """The stages after the ``foreach``, in dependency order (the lock's hashes are computed in this order)."""
    stages = [
        _Stage("enrich", "python src/enrich.py data/external", ["src/enrich.py", "data/external"],
               ["data/lookup/enrichment.parquet"]),
        # A directory dependency: it follows the ``foreach`` list without naming its items.
        _Stage("merge", "python src/merge.py data/interim", ["src/merge.py", "data/interim",
               "data/lookup/enrichment.parquet"], ["data/merged.parquet"]),
        _Stage("split", "python src/split.py", ["src/split.py", "data/merged.parquet"],
               ["data/split/train.parquet", "data/split/test.parquet"], params=["prepare.split", "prepare.seed"]),
    ]  # fmt: skip
    for i, g in enumerate(layout.groups):
        stages.append(
            _Stage(
                f"featurize_{g}",
                f"python src/features/{g}.py",
                [f"src/features/{g}.py", "src/features/common.py", "data/split/train.parquet",
                 "data/split/test.parquet"],
                [f"data/features/{g}.parquet"],
                params=[f"featurize.{g}.max_features"] if i % 2 == 0 else [],
            )
        )  # fmt: skip
    stages.append(
        _Stage("assemble", "python src/assemble.py",
               ["src/assemble.py", *(f"data/features/{g}.parquet" for g in layout.groups)],
               ["data/features/all.parquet"])
    )  # fmt: skip
    for m in layout.models:
        stages.append(
            _Stage(f"train_{m}", f"python src/train.py --model {m}", ["src/train.py", "data/features/all.parquet"],
                   [f"models/{m}.pkl"], params=[f"train.{m}.lr", f"train.{m}.epochs"], nondeterministic=True)
        )  # fmt: skip
    for m in layout.models:
        stages.append(
            _Stage(f"evaluate_{m}", f"python src/evaluate.py --model {m}",
                   ["src/evaluate.py", f"models/{m}.pkl", "data/split/test.parquet"],
                   [f"reports/{m}/predictions.csv"], metrics=[f"reports/{m}/metrics.json"])
        )  # fmt: skip
    stages += [
        _Stage("select", "python src/select.py", ["src/select.py", *(f"reports/{m}/metrics.json"
               for m in layout.models)], ["models/best.pkl"], params=["select.metric"]),
        _Stage("export", "python src/export.py", ["src/export.py", "models/best.pkl"], ["dist/model.onnx"]),
        _Stage("report", "python src/report.py", ["src/report.py", *(f"reports/{m}/metrics.json"
               for m in layout.models)], ["docs/summary.html"]),
        _Stage("publish", "python src/publish.py", ["src/publish.py", "dist/model.onnx", "docs/summary.html"],
               ["dist/release.json"]),
    ]  # fmt: skip
    for check in checks:
        stages.append(
            _Stage(f"check_{check}", f"python src/checks.py --check {check}",
                   ["src/checks.py", "models/best.pkl", "data/split/test.parquet"], [],
                   metrics=[f"reports/checks/{check}.json"])
        )  # fmt: skip
    return stages


def _code_paths(layout: Layout) -> list[str]:
    return [
        "README.md", "requirements.txt", "src/__init__.py", "src/ingest.py", "src/enrich.py", "src/merge.py",
        "src/split.py", "src/features/__init__.py", "src/features/common.py",
        *(f"src/features/{g}.py" for g in layout.groups),
        "src/assemble.py", "src/train.py", "src/evaluate.py", "src/select.py", "src/export.py", "src/report.py",
        "src/publish.py", "src/checks.py", "src/utils/io.py", "src/utils/logs.py", "tests/test_split.py",
        "tests/test_features.py", "tests/test_train.py", "notebooks/explore.py",
    ]  # fmt: skip


# --- the state of the project at a commit --------------------------------------------------------------------------
@dataclass
class State:
    layout: Layout
    rng: random.Random
    code: dict[str, list[str]]
    data: dict[str, tuple[str, int]]  # tracked path -> (md5, size) as its .dvc file says
    active: list[str]  # the ``foreach`` list (``regions`` in params.yaml)
    params: dict[str, Any]
    checks: list[str] = field(default_factory=list)  # stages added by later dvc.yaml commits
    repro: int = 0
    edits: int = 0
    lock: str = ""  # dvc.lock as last committed: it goes stale when data or code change, until a ``dvc repro``

    def stages(self) -> list[_Stage]:
        return [_INGEST.expand(r) for r in self.active] + _plain_stages(self.layout, self.checks)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def random_data(rng: random.Random) -> tuple[str, int]:
    return f"{rng.getrandbits(128):032x}", rng.randrange(10_000, 50_000_000)


def initial_state(spec: BenchRepoSpec, layout: Layout) -> State:
    rng = random.Random(spec.seed)
    code = {path: code_header(path) + [code_line(rng, path, i) for i in range(6)] for path in _code_paths(layout)}
    params: dict[str, Any] = {
        "ingest": {"sample_rate": 1.0},
        "prepare": {"split": 0.2, "seed": 20_230},
        "featurize": {g: {"max_features": 500 * (i + 1)} for i, g in enumerate(layout.groups)},
        "train": {m: {"lr": 0.05, "epochs": 10 + 5 * i} for i, m in enumerate(layout.models)},
        "select": {"metric": "auc"},
    }
    state = State(
        layout=layout,
        rng=rng,
        code=code,
        data={p: random_data(rng) for p in layout.tracked},
        active=list(layout.regions),
        params=params,
    )
    state.lock = dvc_lock(state)
    return state


def code_header(path: str) -> list[str]:
    if path.endswith(".md"):
        return ["# Churn pipeline", "", "Data and models are versioned with DVC: `dvc pull`, then `dvc repro`.", ""]
    if path.endswith(".txt"):
        return ["dvc[s3]==3.67.1", "pandas>=2.2", "scikit-learn>=1.5"]
    return [f'"""{path}: part of the churn pipeline."""', "", "import math", ""]


def code_line(rng: random.Random, path: str, n: int) -> str:
    if path.endswith(".md"):
        return f"- {rng.choice(CODE_VERBS).lower()} step {n}: see `{rng.choice(['dvc.yaml', 'params.yaml'])}`."
    if path.endswith(".txt"):
        return f"package-{n}>={rng.randrange(1, 9)}.{rng.randrange(20)}"
    if rng.random() < 0.5:
        return f"THRESHOLD_{n} = {rng.uniform(0, 1):.4f}"
    return f"def step_{n}(x: float) -> float: return math.fsum([x, {rng.randrange(100)}]) / {rng.randrange(1, 9)}"


# --- rendering: what DVC would have written ------------------------------------------------------------------------
# What YAML would read back as something else than the string: numbers (a hex hash of digits only, or of digits and
# one "e", is one) and booleans. The generator writes no other strings that need quotes (no ": ", no leading "*").
_NOT_A_STRING = re.compile(r"[0-9.+-]*(e[0-9+-]*)?(\.dir)?|true|false|yes|no|null|on|off|y|n", re.IGNORECASE)


def _scalar(value: Any) -> str:
    """A YAML scalar as DVC's writer would put it: numbers bare, strings bare unless they would read back as
    something else."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    return f"'{text}'" if _NOT_A_STRING.fullmatch(text) else text


def _yaml_map(data: dict[str, Any], indent: int = 0) -> Iterator[str]:
    pad = " " * indent
    for key, value in data.items():
        if isinstance(value, dict):
            yield f"{pad}{key}:"
            yield from _yaml_map(value, indent + 2)
        elif isinstance(value, list):
            yield f"{pad}{key}:"
            for item in value:
                yield f"{pad}- {_scalar(item)}"
        else:
            yield f"{pad}{key}: {_scalar(value)}"


def _params_yaml(state: State) -> str:
    return "\n".join(_yaml_map(_param_root(state))) + "\n"


def _stage_yaml(stage: _Stage, indent: int) -> list[str]:
    pad = " " * indent
    lines = [f"{pad}cmd: {stage.cmd}", f"{pad}deps:", *(f"{pad}- {d}" for d in stage.deps)]
    if stage.params:
        lines += [f"{pad}params:", *(f"{pad}- {p}" for p in stage.params)]
    if stage.outs:
        lines += [f"{pad}outs:", *(f"{pad}- {o}" for o in stage.outs)]
    if stage.metrics:
        lines += [f"{pad}metrics:"] + [
            line for m in stage.metrics for line in (f"{pad}- {m}:", f"{pad}    cache: false")
        ]
    return lines


def _dvc_yaml(state: State) -> str:
    lines = ["stages:", f"  {_INGEST.name}:", "    foreach: ${regions}", "    do:", *_stage_yaml(_INGEST, 6)]
    for stage in _plain_stages(state.layout, state.checks):
        lines += [f"  {stage.name}:", *_stage_yaml(stage, 4)]
    return "\n".join(lines) + "\n"


def dvc_file(path: str, md5: str, size: int) -> str:
    """A ``.dvc`` file exactly as ``dvc add`` writes it (the path relative to the file's directory)."""
    name = path.rsplit("/", 1)[-1]
    return f"outs:\n- md5: {_scalar(md5)}\n  size: {size}\n  hash: md5\n  path: {name}\n"


def _param_value(params: dict[str, Any], key: str) -> Any:
    value: Any = params
    for part in key.split("."):
        value = value[part]
    return value


def dvc_lock(state: State) -> str:
    """``dvc.lock`` as ``dvc repro`` would leave it now: code hashes are the real md5 of the code files, data hashes
    those of the ``.dvc`` files, each output's hash follows from its stage's inputs (and the run, for training)."""
    known: dict[str, tuple[str, int]] = dict(state.data)
    for path, lines in state.code.items():
        content = code_text(lines)
        known[path] = (_md5(content), len(content.encode()))
    lines = ["schema: '2.0'", "stages:"]
    for stage in state.stages():
        entries = [(d, *_hash_of(known, d)) for d in stage.deps]
        params = {p: _param_value(_param_root(state), p) for p in stage.params}
        salt = f"{state.repro}" if stage.nondeterministic else ""
        seed = _md5(json.dumps([stage.name, stage.cmd, entries, params, salt], sort_keys=True, default=str))
        outs: list[tuple[str, str, int, int | None]] = []
        for i, out in enumerate(sorted(stage.outs + stage.metrics)):
            md5 = _md5(f"{seed}:{i}")
            size = 1_000 + int(md5[:6], 16) * 37 if out in stage.outs else 120 + int(md5[:2], 16)
            known[out] = (md5, size)
            outs.append((out, md5, size, None))
        lines += [f"  {stage.name}:", f"    cmd: {stage.cmd}", "    deps:"]
        lines += _lock_entries(sorted(entries))
        if params:
            lines += ["    params:", "      params.yaml:"]
            lines += [f"        {k}: {_scalar(v)}" for k, v in sorted(params.items())]
        if outs:
            lines += ["    outs:", *_lock_entries(outs)]
    return "\n".join(lines) + "\n"


def _param_root(state: State) -> dict[str, Any]:
    """params.yaml's content: the ``foreach`` list first, then the stages' parameters."""
    return {"regions": state.active, **state.params}


def _hash_of(known: dict[str, tuple[str, int]], path: str) -> tuple[str, int, int | None]:
    """(md5, size, nfiles) of a file, or of a directory (``.dir`` hash over what it holds, as DVC records it)."""
    if path in known:
        return (*known[path], None)
    prefix = path.rstrip("/") + "/"
    inside = sorted((p[len(prefix) :], *v) for p, v in known.items() if p.startswith(prefix))
    if not inside:
        raise ValueError(f"The generated pipeline depends on {path}, which nothing produces.")
    return _md5(json.dumps(inside)) + ".dir", sum(size for _, _, size in inside), len(inside)


def _lock_entries(entries: list[tuple[str, str, int, int | None]]) -> list[str]:
    lines = []
    for path, md5, size, nfiles in entries:
        lines += [f"    - path: {path}", "      hash: md5", f"      md5: {_scalar(md5)}", f"      size: {size}"]
        if nfiles is not None:
            lines.append(f"      nfiles: {nfiles}")
    return lines


def _gitignores(state: State) -> dict[str, str]:
    """The ``.gitignore`` files ``dvc add`` and ``dvc repro`` leave beside cached outputs (metrics are not cached)."""
    by_dir: dict[str, list[str]] = {}
    for path in list(state.data) + [o for s in state.stages() for o in s.outs]:  # all of them inside a folder
        folder, _, name = path.rpartition("/")
        by_dir.setdefault(folder, []).append(f"/{name}")
    return {f"{folder}/.gitignore": "\n".join(entries) + "\n" for folder, entries in by_dir.items()}


def code_text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def project_files(state: State) -> dict[str, str]:
    """Every file of the project in git at this state, by path (``dvc.lock`` as last committed)."""
    return {
        ".gitignore": _GITIGNORE,
        ".dvc/config": _DVC_CONFIG,
        ".dvc/.gitignore": _DVC_GITIGNORE,
        ".dvcignore": _DVCIGNORE,
        "params.yaml": _params_yaml(state),
        "dvc.yaml": _dvc_yaml(state),
        "dvc.lock": state.lock,
        **{path + ".dvc": dvc_file(path, *v) for path, v in state.data.items()},
        **_gitignores(state),
        **{path: code_text(lines) for path, lines in state.code.items()},
    }
