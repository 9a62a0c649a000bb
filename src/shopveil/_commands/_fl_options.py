"""Options ``shopveil fl simulate`` and ``shopveil fl serve`` read alike."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shopveil.errors import ParameterError

if TYPE_CHECKING:
    from shopveil.federated import FederatedRun

__all__ = [
    "AdaptiveClip", "Compress", "DPDelta", "DPEpsilon", "Db", "Json", "RequestId",
    "SecureAggregation", "Strategy", "choice", "compression", "federated_run",
]  # fmt: skip

Strategy = Annotated[
    str, typer.Option("--strategy", help="fedavg, or fedprox (proximal term 0.1).")
]
DPEpsilon = Annotated[
    float | None,
    typer.Option("--dp-epsilon", help="Customer-level DP-FedAvg at this ε per customer."),
]
DPDelta = Annotated[float, typer.Option("--dp-delta", help="δ of the DP run.")]
AdaptiveClip = Annotated[
    bool, typer.Option("--adaptive-clip", help="With DP: adapt the clip norm each round.")
]
SecureAggregation = Annotated[
    bool, typer.Option("--secure-aggregation", help="Mask updates: the server sees only the sum.")
]
Compress = Annotated[
    str, typer.Option("--compress", help="none, quantize:BITS or topk:FRACTION[:BITS].")
]
Db = Annotated[
    str | None, typer.Option("--db", help="Store URL for the budget ledger \\[default: local].")
]
RequestId = Annotated[
    str | None, typer.Option("--request-id", help="Retry-safe id of a DP run: charged once.")
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else a one-line error naming ``name``."""
    if value not in allowed:
        raise ParameterError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return value


def compression(value: str) -> tuple[str, int, float]:
    """``none``, ``quantize:BITS`` or ``topk:FRACTION[:BITS]``."""
    kind, _, rest = value.partition(":")
    try:
        if kind == "none" and not rest:
            return "none", 8, 0.25
        if kind == "quantize":
            return "quantize", int(rest or 4), 0.25
        if kind == "topk":
            fraction, _, bits = rest.partition(":")
            return "topk", int(bits or 8), float(fraction or 0.25)
    except ValueError:
        pass
    raise ParameterError(
        f"--compress {value!r} is not none, quantize:BITS or topk:FRACTION[:BITS]; "
        "e.g. --compress quantize:4"
    )


def federated_run(
    rounds: int, strategy: str, dp_epsilon: float | None, dp_delta: float, adaptive_clip: bool,
    secure_aggregation: bool, compress: str, timeout: float | None = None,
) -> FederatedRun:  # fmt: skip
    """The run the options describe (one-line errors naming the option)."""
    from shopveil._core.budgets import ApproxDP
    from shopveil.federated import (
        ClipMode,
        Compression,
        Compressor,
        DPFedAvgConfig,
        FederatedRun,
        LocalTraining,
    )

    choice("--strategy", strategy, ("fedavg", "fedprox"))
    kind, bits, fraction = compression(compress)
    if dp_epsilon is not None and not 0 < dp_epsilon < float("inf"):
        raise ParameterError(f"--dp-epsilon must be > 0, got {dp_epsilon}")
    if timeout is not None and not 0 < timeout < float("inf"):
        raise ParameterError(f"--round-timeout must be > 0 seconds, got {timeout}")
    dp = None
    if dp_epsilon is not None:
        mode = ClipMode.ADAPTIVE if adaptive_clip else ClipMode.FIXED
        dp = DPFedAvgConfig(ApproxDP(dp_epsilon, dp_delta), mode=mode)
    return FederatedRun(
        rounds=rounds,
        training=LocalTraining(
            epochs=5 if dp is not None else 1, mu=0.1 if strategy == "fedprox" else 0.0
        ),
        dp=dp,
        secure_aggregation=secure_aggregation,
        compression=Compression(Compressor(kind), bits, fraction),
        timeout=timeout,
    )
