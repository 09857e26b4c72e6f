"""Failed key checks counted per key id and per client address, checks in flight included."""

from __future__ import annotations

from serving.access.attempts import FailedAttempts


def test_failed_attempts_are_limited_per_key_id_and_per_client():
    now = [0.0]
    attempts = FailedAttempts(per_key_id=3, per_client=5, window_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        assert attempts.retry_after("settlement", "10.0.0.1") is None
        attempts.failed("settlement", "10.0.0.1")
        now[0] += 1
    assert (
        attempts.retry_after("settlement", "10.0.0.9") == 57
    )  # the key id, from anywhere: 60 s after the first failure
    assert attempts.retry_after("analyst", "10.0.0.1") is None  # the address: 3 of 5
    attempts.failed("analyst", "10.0.0.1")
    attempts.failed(None, "10.0.0.1")
    assert attempts.retry_after("analyst", "10.0.0.1") == 57  # the address is at 5
    now[0] = 61
    assert attempts.retry_after("settlement", "10.0.0.1") is None  # the window moved on


def test_checks_in_flight_count_until_they_are_done():
    """80 guesses at once: only as many are hashed as the limit allows, the rest wait."""
    attempts = FailedAttempts(per_key_id=3, per_client=100, clock=lambda: 0.0)
    for _ in range(3):
        assert attempts.retry_after("settlement", "10.0.0.1") is None
        attempts.begin("settlement", "10.0.0.1")
    assert attempts.retry_after("settlement", "10.0.0.2") == 1  # try again shortly
    attempts.end("settlement", "10.0.0.1", failed=False)  # the real key, verified
    assert attempts.retry_after("settlement", "10.0.0.2") is None
    attempts.end("settlement", "10.0.0.1", failed=True)
    attempts.end("settlement", "10.0.0.1", failed=True)
    attempts.begin("settlement", "10.0.0.1")
    assert attempts.retry_after("settlement", "10.0.0.2") == 60  # two failures and one running
