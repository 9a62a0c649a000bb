"""Personalization by local fine-tuning: each client's own model from the federated one.

After the federated rounds every client takes the final weights and trains them a little
more on its own customers only (:meth:`~shopveil.federated._client.LocalTask.update`,
the same local training it ran each round). The fine-tuned model stays on the client;
nothing more travels and nothing more is released, so a private run costs no more.
On non-IID silos (one client per country) the shared model is the body every client
starts from, the local steps its head.
"""

from __future__ import annotations

import numpy as np

from shopveil._core.rng import secure_rng
from shopveil.federated._client import LocalTask
from shopveil.federated._model import LocalTraining

__all__ = ["client_of", "personalized"]


def personalized(
    task: LocalTask,
    weights: np.ndarray,
    shards: list[np.ndarray],
    training: LocalTraining,
    *,
    seed: int | None = None,
) -> list[np.ndarray]:
    """Per client, ``weights`` fine-tuned on its shard (unchanged for an empty shard)."""
    out = []
    for k, index in enumerate(shards):
        rng = secure_rng() if seed is None else np.random.default_rng([seed, k, 1 << 20])
        change = task.update(weights, index, training, rng) if len(index) else 0.0
        out.append(np.asarray(weights + change))
    return out


def client_of(country: tuple[str, ...], shards: list[np.ndarray]) -> dict[str, int]:
    """The client that holds each country's training customers (the largest such)."""
    names = np.array(country)
    held: dict[str, tuple[int, int]] = {}
    for k, index in enumerate(shards):
        found, counts = np.unique(names[index], return_counts=True)
        for name, count in zip(found.tolist(), counts.tolist(), strict=True):
            if count > held.get(name, (-1, 0))[1]:
                held[name] = (k, count)
    return {name: k for name, (k, _) in held.items()}
