"""What apps above ``mlflow_sync`` tell it: which registered models have a registry write of their own in flight.

A registry sync that reads MLflow while a promotion is being written could take the promotion's write for a change
made outside the dashboard, or put back the state from before it. ``promotions`` registers a function that names
the models with a write in flight; the sync leaves those models' mirror rows as they are and reads them again next
time, when the promotion has been confirmed (and its own mirror update made) or given up.
"""

from __future__ import annotations

from collections.abc import Callable

_in_flight: list[Callable[[int], set[int]]] = []


def register_registry_writer(in_flight: Callable[[int], set[int]]) -> None:
    """``in_flight(source_id)`` returns the ids of that source's ``RegisteredModel`` rows being written now."""
    if in_flight not in _in_flight:
        _in_flight.append(in_flight)


def registry_writes_in_flight(source_id: int) -> set[int]:
    found: set[int] = set()
    for provider in _in_flight:
        found |= provider(source_id)
    return found
