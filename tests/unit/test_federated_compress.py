"""Uplink compression: bytes shrink, error feedback keeps what is dropped."""

from __future__ import annotations

import numpy as np
import pytest

from shopveil.errors import ParameterError
from shopveil.federated import Compression, Compressor
from shopveil.federated._compress import compress, decompress, payload_bytes


@pytest.mark.parametrize(
    "setting",
    [
        Compression(Compressor.QUANTIZE, bits=8),
        Compression(Compressor.QUANTIZE, bits=2),
        Compression(Compressor.TOPK, bits=4, fraction=0.1),
    ],
)
def test_error_feedback_sends_everything_eventually(setting: Compression) -> None:
    """The sum of what was sent plus the final residual is the sum of the updates."""
    rng = np.random.default_rng(1)
    residual = np.zeros(300)
    sent = np.zeros(300)
    truth = np.zeros(300)
    for _ in range(40):
        update = rng.normal(size=300)
        truth += update
        payload, residual = compress(update, residual, setting, rng)
        sent += decompress(payload, setting, 300)
    np.testing.assert_allclose(sent + residual, truth, atol=1e-9)
    assert np.abs(residual).max() < np.abs(truth).max()


def test_quantization_is_unbiased() -> None:
    rng = np.random.default_rng(2)
    update = rng.normal(size=50)
    setting = Compression(Compressor.QUANTIZE, bits=1)
    mean = np.mean(
        [
            decompress(compress(update, np.zeros(50), setting, rng)[0], setting, 50)
            for _ in range(4000)
        ],
        axis=0,
    )
    # float16 range ends: within their rounding, plus 4000 draws' noise
    np.testing.assert_allclose(mean, update, atol=0.1)


def test_bytes_shrink_as_promised() -> None:
    rng = np.random.default_rng(3)
    update = rng.normal(size=1000)
    plain = payload_bytes(compress(update, np.zeros(1000), Compression(), rng)[0])
    four = payload_bytes(
        compress(update, np.zeros(1000), Compression(Compressor.QUANTIZE, 4), rng)[0]
    )
    top = Compression(Compressor.TOPK, bits=8, fraction=0.01)
    sparse = payload_bytes(compress(update, np.zeros(1000), top, rng)[0])
    assert plain == 8000
    assert four == 500 + 4
    assert sparse == 10 + 40 + 4  # 10 codes, 10 uint32 indices, the range


def test_bad_settings_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match="bits"):
        Compression(Compressor.QUANTIZE, bits=3)
    with pytest.raises(ParameterError, match="fraction"):
        Compression(Compressor.TOPK, fraction=0)
