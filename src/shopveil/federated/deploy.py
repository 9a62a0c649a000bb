"""The Flower components of a real deployment: ``shopveil.federated.deploy:server`` and
``shopveil.federated.deploy:client`` (needs the ``fl`` extra; imports Flower).

``shopveil fl serve`` and ``shopveil fl join`` start the SuperLink and the SuperNodes
that run them; :func:`deployment_server` builds a ServerApp with an ``admit`` hook (the
consent register and the people ledger) for them.
"""

from shopveil.federated._deploy import (
    Admit,
    client,
    deployment_server,
    run_config,
    run_from_config,
    server,
)

__all__ = ["Admit", "client", "deployment_server", "run_config", "run_from_config", "server"]
