"""Google's OAuth 2.0 device flow ("TVs and Limited Input devices"), over httpx.

google-auth and google-auth-oauthlib implement the installed-app and web flows but not this one,
so this small client speaks it: `start` asks the device endpoint for a code the person types at
Google's page, `poll` asks the token endpoint until the person decides, honouring `interval` and
`slow_down` (RFC 8628, section 3.5).

Errors, translated into core.errors at this boundary:

    AuthError
     +-- DeviceFlowError            Google refused the flow (`reason` is its OAuth error code)
          +-- DeviceAccessDeniedError     the person refused access
          +-- DeviceCodeExpiredError      nobody decided before the code expired
    TransientPublishError           Google could not be reached or answered 5xx

No exception text or log line carries the device code or a token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.errors import AuthError, TransientPublishError

logger = logging.getLogger(__name__)

YOUTUBE_SCOPE = "https://www.googleapis.com/auth/youtube"
DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
#: What RFC 8628 has a client wait when the server names no interval, and add on slow_down.
DEFAULT_INTERVAL_S = 5.0
SLOW_DOWN_STEP_S = 5.0
#: Waits after a poll Google did not answer (network, 5xx), before the interval applies again.
UNREACHABLE_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


class DeviceFlowError(AuthError):
    """Google refused the device flow; `reason` is its OAuth error code."""


class DeviceAccessDeniedError(DeviceFlowError):
    """The person refused access on Google's page."""


class DeviceCodeExpiredError(DeviceFlowError):
    """The code expired before anybody decided."""


@dataclass(frozen=True)
class DeviceCode:
    """What the device endpoint hands out: the code to show, and the secret to poll with."""

    device_code: str = field(repr=False)
    user_code: str
    verification_url: str
    expires_in_s: float
    interval_s: float


@dataclass(frozen=True)
class DeviceTokens:
    """What the token endpoint answers once the person allowed access."""

    access_token: str = field(repr=False)
    #: None when Google kept an earlier grant and sent no new refresh token.
    refresh_token: str | None = field(repr=False)
    scope: str


class DeviceFlowClient:
    """Runs the device flow against a device endpoint and a token endpoint."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        device_uri: str,
        token_uri: str,
        *,
        slow_down_step_s: float = SLOW_DOWN_STEP_S,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self.device_uri = device_uri
        self.token_uri = token_uri
        self._slow_down_step_s = slow_down_step_s
        self._sleep = sleep
        self._monotonic = monotonic

    async def start(self, client_id: str, scope: str = YOUTUBE_SCOPE) -> DeviceCode:
        """Ask for a device code and the user code a person types at the verification page."""
        status, body = await self._post(self.device_uri, {"client_id": client_id, "scope": scope})
        if status != 200:
            raise _refusal(body, status)
        try:
            code = DeviceCode(
                device_code=str(body["device_code"]),
                user_code=str(body["user_code"]),
                # Google names it verification_url; RFC 8628 verification_uri.
                verification_url=str(body.get("verification_url") or body["verification_uri"]),
                expires_in_s=float(body["expires_in"]),
                interval_s=float(body.get("interval") or DEFAULT_INTERVAL_S),
            )
        except (KeyError, TypeError, ValueError):
            raise DeviceFlowError(
                "the device endpoint answered without a usable code", reason="bad_response"
            ) from None
        logger.info("device code issued, valid %.0f s", code.expires_in_s)
        return code

    async def poll(self, code: DeviceCode, client_id: str, client_secret: str) -> DeviceTokens:
        """Wait for the person's decision; return the tokens, or raise why there are none."""
        form = {
            "client_id": client_id,
            "client_secret": client_secret,
            "device_code": code.device_code,
            "grant_type": DEVICE_GRANT_TYPE,
        }
        deadline = self._monotonic() + code.expires_in_s
        interval = code.interval_s
        unreachable = 0
        while True:
            wait = interval
            if unreachable:
                wait = max(wait, UNREACHABLE_BACKOFF_S[min(unreachable, 5) - 1])
            await self._sleep(wait)
            if self._monotonic() >= deadline:
                raise DeviceCodeExpiredError("the device code expired", reason="expired_token")
            try:
                status, body = await self._post(self.token_uri, form)
            except TransientPublishError as exc:
                unreachable += 1
                logger.warning("device-code poll failed (%s); polling on", exc.reason)
                continue
            unreachable = 0
            error = str(body.get("error") or "") if status != 200 else ""
            if status == 200 and body.get("access_token"):
                return _tokens(body)
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += self._slow_down_step_s
                logger.debug("device-code poll: slow down to every %.1f s", interval)
                continue
            raise _refusal(body, status)

    async def _post(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST a form; return the status and the JSON object, with transport errors translated."""
        try:
            response = await self._http.post(
                url, data=form, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            # The exception's text may quote the request; only its type is kept.
            raise TransientPublishError(
                f"Google's OAuth endpoint could not be reached ({type(exc).__name__})",
                reason="network",
            ) from None
        if response.status_code >= 500:
            raise TransientPublishError(
                f"Google's OAuth endpoint answered {response.status_code}",
                reason="backendError",
                status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise DeviceFlowError(
                f"Google's OAuth endpoint answered {response.status_code} without JSON",
                reason="bad_response",
                status=response.status_code,
            )
        return response.status_code, body


def _tokens(body: dict[str, Any]) -> DeviceTokens:
    refresh = body.get("refresh_token")
    return DeviceTokens(
        access_token=str(body["access_token"]),
        refresh_token=str(refresh) if refresh else None,
        scope=str(body.get("scope") or ""),
    )


def _refusal(body: dict[str, Any], status: int) -> DeviceFlowError:
    """Return the error for an answer that ends the flow; only Google's error code is kept."""
    error = str(body.get("error") or f"http_{status}")
    if error == "access_denied":
        return DeviceAccessDeniedError("the person refused access", reason=error, status=status)
    if error == "expired_token":
        return DeviceCodeExpiredError("the device code expired", reason=error, status=status)
    return DeviceFlowError(f"Google refused the device flow: {error}", reason=error, status=status)
