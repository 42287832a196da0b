"""The test suite cannot reach Telegram or Google."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import NetworkGuardError


@pytest.mark.parametrize("url", ["https://api.telegram.org/", "https://oauth2.googleapis.com/"])
def test_reaching_a_real_platform_host_fails_the_test(url: str) -> None:
    with pytest.raises(NetworkGuardError):
        httpx.get(url, timeout=2)
