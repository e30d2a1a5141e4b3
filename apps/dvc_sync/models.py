"""The mirror of DVC repositories: sources, commits and refs from git, and per DVC state (a ``Snapshot``: what the
DVC files of one or more commits say) the data versions pinned, the pipeline, ``artifacts:``, remotes and the files
that could not be parsed; GTO's artifact registry from git tags. git and DVC stay the sources of truth."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from urllib.parse import quote, urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from apps.core.models import SourceBase
from apps.core.validators import SOURCE_NAME_VALIDATOR, http_url_validator, is_http_url

SHA_RE = re.compile(r"[0-9a-fA-F]{7,64}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class DvcSource(SourceBase):
    """A git repository holding a DVC project. The dashboard reads it through its own clone under ``var/repos/``,
    fetched on each sync; it never checks anything out in the user's work tree. Credentials are never stored:
    a URL that needs them relies on the git credential setup of the process that syncs."""

    location = models.CharField(
        max_length=1000,
        help_text="Absolute path of a git repository on this machine, or a git URL (https://, ssh://, git@host:path).",
    )
    root = models.CharField(
        "DVC root",
        max_length=500,
        blank=True,
        help_text="For a DVC subproject (dvc init --subdir): its folder inside the repository. Blank: the top.",
    )
    refs = models.CharField(
        "refs to follow",
        max_length=1000,
        blank=True,
        help_text="Branch and tag names or glob patterns, separated by spaces. Blank: every branch and tag.",
    )
    # Links to the git web UI are built from this alone: never from the location, a remote or anything in the repo.
    web_url = models.CharField(
        "web UI URL",
        max_length=500,
        blank=True,
        validators=[http_url_validator],
        help_text="Base URL of the repository in its git web UI, e.g. https://github.com/org/repo. Blank: no links.",
    )

    class Meta(SourceBase.Meta):
        verbose_name = "DVC source"
        permissions = [("sync_dvcsource", "Can start a sync of a DVC source")]

    @property
    def ref_patterns(self) -> list[str]:
        return self.refs.split()

    def follows(self, ref_name: str) -> bool:
        """Whether a branch or tag name is followed (every one when no refs are configured)."""
        patterns = self.ref_patterns
        return not patterns or any(fnmatch.fnmatchcase(ref_name, p) for p in patterns)

    @property
    def web_host(self) -> str:
        """The host of the configured web UI (what a link says it leads to); "" when there is none."""
        return (urlsplit(self.web_url).hostname or "") if self._web_base else ""

    def commit_web_url(self, sha: str) -> str:
        """The commit's page in the git web UI (``<base>/commit/<sha>``, GitHub, Gitea and GitLab style); "" when
        no web URL is configured or ``sha`` is not 7 to 64 hex digits."""
        base = self._web_base
        if not base or not SHA_RE.fullmatch(sha):
            return ""
        return f"{base}/commit/{sha}"

    def file_web_url(self, sha: str, path: str) -> str:
        """A file at a commit in the git web UI (``<base>/blob/<sha>/<path>``, ``path`` from the repository's top,
        each segment quoted); "" when no web URL is configured, the sha is not hex or the path leaves the tree."""
        base = self._web_base
        segments = path.strip("/").split("/")
        if not base or not SHA_RE.fullmatch(sha) or any(s in ("", ".", "..") for s in segments):
            return ""
        return f"{base}/blob/{sha}/" + "/".join(quote(s, safe="") for s in segments)

    @property
    def _web_base(self) -> str:
        """The configured web URL without its trailing slash; "" when blank or, should a row have been written
        without validation, when it is not an http(s) URL."""
        return self.web_url.rstrip("/") if is_http_url(self.web_url) else ""

    def clean(self) -> None:
        root = self.root.strip().strip("/")
        if root and (posixpath.isabs(self.root) or ".." in root.split("/")):
            raise ValidationError({"root": "Give the subproject's folder relative to the repository, inside it."})
        self.root = posixpath.normpath(root) if root else ""
        self.location = self.location.strip()


class DvcRemote(models.Model):
    """A DVC remote an admin configured on a source: where the promotion gate "data retrievable" checks that the
    data versions a model was trained on can be pulled. Remotes named in the repository's ``.dvc/config`` are shown
    on the pages but never used for this: the dashboard does not fetch URLs it reads from a repository.
    Credentials are named by environment variable, never stored."""

    source = models.ForeignKey(DvcSource, on_delete=models.CASCADE, related_name="check_remotes")
    name = models.CharField(max_length=100, validators=[SOURCE_NAME_VALIDATOR])
    url = models.CharField(
        max_length=1000,
        help_text="Where `dvc push` stores the data: an absolute path on this machine, s3://bucket/path, gs://…, "
        "azure://…, ssh://host/path or https://host/path, without a user name or password.",
    )
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text='Other DVC remote options that are not secret, e.g. {"endpointurl": "https://minio:9000"}.',
    )
    credential_env = models.JSONField(
        "credentials (environment variables)",
        default=dict,
        blank=True,
        help_text='DVC remote options read from the environment, by variable name, e.g. {"access_key_id": '
        '"DVC_S3_KEY", "secret_access_key": "DVC_S3_SECRET"}.',
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        verbose_name = "DVC remote for data checks"
        ordering = ["source__name", "name"]
        constraints = [models.UniqueConstraint(fields=["source", "name"], name="dvc_remote_source_name")]

    def __str__(self) -> str:
        return f"{self.source.name}: {self.name}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        url = self.url.strip()
        self.url = url
        parts = urlsplit(url) if "://" in url else None
        if parts is None and not posixpath.isabs(url):
            errors["url"] = "Give an absolute path or a URL with a scheme (s3://, https://, …)."
        elif parts is not None and (parts.username or parts.password):
            errors["url"] = "Put no user name or password in the URL: name their variables under credentials."
        if not isinstance(self.options, dict) or any(
            not isinstance(k, str) or k == "url" or not isinstance(v, (str, int, float, bool))
            for k, v in (self.options or {}).items()
        ):
            errors["options"] = 'A JSON object of option names to plain values, such as {"region": "eu-west-1"}.'
        if not isinstance(self.credential_env, dict) or any(
            not isinstance(k, str) or not isinstance(v, str) or not ENV_NAME.fullmatch(v)
            for k, v in (self.credential_env or {}).items()
        ):
            errors["credential_env"] = 'A JSON object of option names to variable names: {"password": "DVC_PASS"}.'
        if errors:
            raise ValidationError(errors)


class Commit(models.Model):
    """A commit of a followed ref. ``snapshot`` is the DVC state at this commit (shared with the commits before it
    when this one changed no DVC file); ``dvc_changed`` marks the commits that changed one."""

    source = models.ForeignKey(DvcSource, on_delete=models.CASCADE, related_name="commits")
    sha = models.CharField(max_length=64)
    parents = models.JSONField(default=list)
    author_name = models.CharField(max_length=500, blank=True)
    author_email = models.CharField(max_length=500, blank=True)
    authored_at = models.DateTimeField()
    committed_at = models.DateTimeField()
    message = models.TextField(blank=True)
    # The order the sync met the commit in (parents before children): history order within a source.
    position = models.PositiveIntegerField(default=0)
    dvc_changed = models.BooleanField(default=False)
    snapshot = models.ForeignKey("Snapshot", null=True, blank=True, on_delete=models.SET_NULL, related_name="commits")
    # False once no followed ref reaches it any more (a force-push or a deleted branch); kept, not deleted.
    on_refs = models.BooleanField(default=True)
    # A parent the clone does not have (a shallow history): what came before is unknown.
    parents_missing = models.BooleanField(default=False)

    class Meta:
        ordering = ["-position"]
        constraints = [models.UniqueConstraint(fields=["source", "sha"], name="dvc_commit_unique_sha")]
        indexes = [
            models.Index(fields=["source", "position"], name="dvc_commit_position"),
            models.Index(fields=["sha"], name="dvc_commit_sha"),
        ]

    def __str__(self) -> str:
        return f"{self.sha[:10]} {self.summary}"

    @property
    def short_sha(self) -> str:
        return self.sha[:10]

    @property
    def summary(self) -> str:
        return self.message.split("\n", 1)[0]


class PipelineGraph(models.Model):
    """A pipeline's stage graph and outputs graph, as ``dvc dag`` and ``dvc dag --outs`` show them; shared by every
    snapshot whose files decide the same graph (``key``)."""

    source = models.ForeignKey(DvcSource, on_delete=models.CASCADE, related_name="graphs")
    key = models.CharField(max_length=64)
    stages = models.JSONField(default=dict)  # {"nodes": [...], "edges": [[upstream, downstream], ...]}
    outputs = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="dvc_graph_unique_key")]

    def __str__(self) -> str:
        return f"{self.source} graph {self.key[:10]}"


class Snapshot(models.Model):
    """What the DVC files at a commit say. ``manifest`` maps every file that decides it (DVC files, params and
    vars files, ignore files, ``.dvc/config``) to its git blob sha; equal manifests are one snapshot."""

    source = models.ForeignKey(DvcSource, on_delete=models.CASCADE, related_name="snapshots")
    key = models.CharField(max_length=64)
    manifest = models.JSONField(default=dict)
    graph = models.ForeignKey(PipelineGraph, null=True, blank=True, on_delete=models.SET_NULL)
    # {address: {"cmd", "wdir", "dvcfile", "desc", "frozen", "params": {file: {key: value}},
    #            "deps": [{"path", "hash"}], "outs": [{"path", "hash"}]}}
    stages = models.JSONField(default=dict)
    # The ``artifacts:`` sections of dvc.yaml files: {name: {"type", "path", "desc", "labels", "dvcfile"}}
    artifacts = models.JSONField(default=dict)
    remotes = models.JSONField(default=dict)  # {name: url}, without credentials
    # Per DVC file (from the repository's top): {"structure": …, "watched": [params and vars files]}
    files = models.JSONField(default=dict)
    # Files DVC could not load here: [{"path", "line", "message"}]; the rest of the snapshot is what loaded.
    problems = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="dvc_snapshot_unique_key")]

    def __str__(self) -> str:
        return f"{self.source} snapshot {self.key[:10]}"


class DataVersion(models.Model):
    """One version of a tracked path: the path (relative to the DVC root) with DVC's hash of its content
    (``md5`` for files, ``<md5>.dir`` for directories). Which commits pin it is in ``Pin``."""

    source = models.ForeignKey(DvcSource, on_delete=models.CASCADE, related_name="data_versions")
    path = models.CharField(max_length=1000)
    hash_name = models.CharField(max_length=40, blank=True)
    hash_value = models.CharField(max_length=200)
    size = models.BigIntegerField(null=True, blank=True)
    nfiles = models.IntegerField(null=True, blank=True)
    isdir = models.BooleanField(default=False)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["source", "path", "hash_name", "hash_value"], name="dvc_data_unique")
        ]
        indexes = [
            models.Index(fields=["hash_value"], name="dvc_data_hash"),
            models.Index(fields=["source", "path"], name="dvc_data_path"),
        ]

    def __str__(self) -> str:
        return f"{self.path} @ {self.short_hash}"

    @property
    def short_hash(self) -> str:
        return self.hash_value[:10] + (".dir" if self.hash_value.endswith(".dir") else "")


class Pin(models.Model):
    """A snapshot pins a data version: as a stage output (``.dvc`` file or ``dvc.lock`` out) or as a data
    dependency of a stage (``dvc.lock`` dep), with the import source when it came from ``dvc import``."""

    class Role(models.TextChoices):
        OUT = "out", "output"
        DEP = "dep", "dependency"

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="pins")
    data_version = models.ForeignKey(DataVersion, on_delete=models.CASCADE, related_name="pins")
    role = models.CharField(max_length=3, choices=Role.choices)
    stage = models.CharField(max_length=500)
    dvcfile = models.CharField(max_length=1000)
    frozen = models.BooleanField(default=False)
    import_url = models.CharField(max_length=1000, blank=True)
    import_rev = models.CharField(max_length=500, blank=True)
    import_rev_lock = models.CharField(max_length=64, blank=True)
    import_path = models.CharField(max_length=1000, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "data_version", "role", "stage"], name="dvc_pin_unique")
        ]

    def __str__(self) -> str:
        return f"{self.data_version} ({self.role} of {self.stage})"


class Ref(models.Model):
    """A followed branch or tag and the commit it points to; annotated tags keep their tagger and message."""

    class Kind(models.TextChoices):
        BRANCH = "branch", "branch"
        TAG = "tag", "tag"

    source = models.ForeignKey(DvcSource, on_delete=models.CASCADE, related_name="git_refs")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    name = models.CharField(max_length=500)
    sha = models.CharField(max_length=64)
    commit = models.ForeignKey(Commit, null=True, blank=True, on_delete=models.SET_NULL, related_name="refs")
    is_default = models.BooleanField(default=False)  # the branch the repository's HEAD points to
    tagger_name = models.CharField(max_length=500, blank=True)
    tagger_email = models.CharField(max_length=500, blank=True)
    tagged_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["source", "kind", "name"], name="dvc_ref_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class ArtifactEvent(models.Model):
    """One GTO event read from a git tag (``name@v1.2.3`` registers a version, ``name#prod#3`` assigns a stage,
    ``name@v1.2.3!`` / ``name#prod!#4`` deregister or unassign, ``name@deprecated`` deprecates), with the tagger."""

    class Action(models.TextChoices):
        REGISTER = "register", "registered"
        DEREGISTER = "deregister", "deregistered"
        ASSIGN = "assign", "assigned"
        UNASSIGN = "unassign", "unassigned"
        DEPRECATE = "deprecate", "deprecated"
        COMMIT = "commit", "annotated"

    source = models.ForeignKey(DvcSource, on_delete=models.CASCADE, related_name="artifact_events")
    artifact = models.CharField(max_length=500)
    action = models.CharField(max_length=10, choices=Action.choices)
    version = models.CharField(max_length=200, blank=True)
    stage = models.CharField(max_length=200, blank=True)
    tag = models.CharField(max_length=500)
    sha = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    author = models.CharField(max_length=500, blank=True)
    author_email = models.CharField(max_length=500, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "tag"]
        constraints = [models.UniqueConstraint(fields=["source", "tag", "action"], name="dvc_artifact_event_unique")]
        indexes = [models.Index(fields=["source", "artifact"], name="dvc_artifact_event_name")]

    def __str__(self) -> str:
        return self.tag


class ArtifactStage(models.Model):
    """Which version of a GTO artifact is in which stage now, as GTO computes it; replaced on every sync."""

    source = models.ForeignKey(DvcSource, on_delete=models.CASCADE, related_name="artifact_stages")
    artifact = models.CharField(max_length=500)
    stage = models.CharField(max_length=200)
    version = models.CharField(max_length=200)
    tag = models.CharField(max_length=500)
    sha = models.CharField(max_length=64)
    since = models.DateTimeField()
    by = models.CharField(max_length=500, blank=True)
    by_email = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["artifact", "stage"]
        constraints = [
            models.UniqueConstraint(fields=["source", "artifact", "stage", "version"], name="dvc_artifact_stage")
        ]

    def __str__(self) -> str:
        return f"{self.artifact} {self.version} in {self.stage}"
