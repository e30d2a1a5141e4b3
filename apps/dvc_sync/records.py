"""Plain records the DVC reader produces: what a commit pins."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrackedData:
    """One tracked path as a DVC file at a commit pins it: a stage output (``role="out"``) or a data dependency
    (``role="dep"``). ``path`` is relative to the DVC root; ``dvcfile`` is the ``.dvc`` file or ``dvc.lock`` entry's
    ``dvc.yaml`` that pins it; ``stage`` is DVC's address of the stage."""

    path: str
    role: str
    stage: str
    dvcfile: str
    hash_name: str = ""
    hash_value: str = ""
    size: int | None = None
    nfiles: int | None = None
    isdir: bool = False
    frozen: bool = False
    import_url: str = ""
    import_rev: str = ""
    import_rev_lock: str = ""
    import_path: str = ""
