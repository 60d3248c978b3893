"""Settings read from the environment: numbers of seconds are finite and in range."""

from __future__ import annotations

import pytest

from pipelines.settings import ConfigError, lock_wait


def test_lock_wait_takes_zero_and_refuses_negative_or_not_finite() -> None:
    assert lock_wait({}) == 600
    assert lock_wait({"RECON_LOCK_WAIT": "0"}) == 0
    assert lock_wait({"RECON_LOCK_WAIT": "2.5"}) == 2.5
    for bad in ("-1", "nan", "inf", "soon"):
        with pytest.raises(ConfigError, match="RECON_LOCK_WAIT"):
            lock_wait({"RECON_LOCK_WAIT": bad})
    with pytest.raises(ConfigError, match="--lock-wait"):
        lock_wait({}, float("nan"))
