"""Customer-level membership inference against real recommenders fitted on purchases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from _purchases import purchases
from shopveil.attacks import MembershipConfig, config_from_model_file, membership_attack
from shopveil.dp import Ledger
from shopveil.errors import ParameterError, SourceError
from shopveil.learn import FitContext, NoSignalWarning, build_recommender, save_recommender


def test_a_memorizing_als_leaks_membership() -> None:
    data = purchases()
    config = MembershipConfig("als", options={"factors": 48, "reg": 0.01}, shadows=4, targets=5)
    result = membership_attack(data, config)
    assert result.members + result.nonmembers == 5 * result.customers
    assert result.attacks["lira_offline"].auc > 0.65
    assert result.attacks["threshold"].auc > 0.55
    assert result.as_dict()["auc"] == round(result.attacks["lira_offline"].auc, 4)


def test_dp_popularity_at_small_epsilon_shows_no_membership() -> None:
    data = purchases(seed=1)
    config = MembershipConfig("dp-popularity", epsilon=0.1, shadows=4, targets=5)
    result = membership_attack(data, config)
    # ε = 0.1 bounds any attack's AUC near 0.5; a leak of the DP counts would show here.
    for name in ("threshold", "lira_offline"):
        assert abs(result.attacks[name].auc - 0.5) < 0.06


def test_progress_is_reported_per_fit() -> None:
    seen: list[tuple[int, int]] = []
    config = MembershipConfig("popularity", shadows=2)
    membership_attack(purchases(customers=60), config, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"model": "nope"}, "unknown model 'nope'"),
        ({"model": "dp-als"}, "give a finite --epsilon"),
        ({"shadows": 1}, "shadows must be an int >= 2"),
        ({"shadows": 2, "targets": 4}, "targets must be at most"),
    ],
)
def test_bad_configs_name_the_parameter(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ParameterError, match=needle):
        MembershipConfig(**kwargs)  # type: ignore[arg-type]


def test_too_few_customers_is_refused() -> None:
    with pytest.raises(ParameterError, match="at least 20 customers"):
        membership_attack(purchases(customers=10), MembershipConfig("popularity", shadows=2))


def test_a_model_file_without_privacy_metadata_is_refused(tmp_path: object) -> None:
    import json
    from pathlib import Path

    path = Path(str(tmp_path)) / "bare.npz"
    meta = json.dumps({"format": 1, "kind": "als", "config": {}}).encode()
    np.savez(path, __shopveil_model__=np.frombuffer(meta, dtype=np.uint8))
    with pytest.raises(SourceError, match="no privacy metadata"):
        config_from_model_file(path)


def test_a_saved_model_is_attacked_with_its_own_configuration(
    tmp_path: object, scratch_ledger: Ledger
) -> None:
    from pathlib import Path

    data = purchases(customers=60)
    config = build_recommender("dp-als", 2.0, {"rank": 3})
    with warnings.catch_warnings():  # 60 customers: the factors may drown in the noise
        warnings.simplefilter("ignore", NoSignalWarning)
        fitted = config.fit(data, FitContext(ledger=scratch_ledger))
    path = save_recommender(fitted, Path(str(tmp_path)) / "m.npz", train=data, config=config)
    attack = config_from_model_file(path, shadows=3)
    assert (attack.model, attack.options["rank"], attack.shadows) == ("dp-als", 3, 3)
    assert attack.epsilon is not None and 1.9 < attack.epsilon <= 2.0
