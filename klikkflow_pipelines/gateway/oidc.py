"""OpenID Connect sign-in with authlib: authorization code + PKCE, state, nonce, JWKS-checked ID tokens."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.jose.errors import JoseError
from authlib.oidc.core import CodeIDToken
from joserfc.errors import JoseError as JoseRfcError

from klikkflow_pipelines.gateway.settings import OidcSettings

#: Asymmetric algorithms only: ``none`` and HMAC (key confusion) are never accepted.
ALLOWED_ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
]
CLOCK_SKEW_SECONDS = 60


class OidcError(Exception):
    """Sign-in through the OpenID provider failed; the message says why."""


@dataclass(frozen=True)
class OidcIdentity:
    """Who signed in, from a validated ID token (``email`` only when the provider verified it)."""

    subject: str
    email: str | None
    groups: list[str]
    claims: dict[str, Any]

    @property
    def username(self) -> str:
        """The name the gateway uses: the e-mail when present, else ``oidc:<sub>``."""
        return self.email or f"oidc:{self.subject}"


@dataclass(frozen=True)
class AuthorizationRequest:
    """What to remember between redirect and callback."""

    url: str
    state: str
    nonce: str
    code_verifier: str


class OidcClient:
    """The gateway's relying party for one OpenID provider."""

    def __init__(self, settings: OidcSettings, redirect_uri: str) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None
        self._jwks_fetched = 0.0
        self._jwt = JsonWebToken(ALLOWED_ALGORITHMS)

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once)."""
        if self._metadata is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.get(url)
                response.raise_for_status()
                data = response.json()
            if data.get("issuer") != self.settings.issuer:
                raise OidcError(
                    f"discovery issuer {data.get('issuer')!r} differs from {self.settings.issuer!r}"
                )
            self._metadata = data
        return self._metadata

    async def jwks(self, refresh: bool = False) -> dict[str, Any]:
        """The provider's signing keys (re-fetched at most every 60 s on an unknown key id)."""
        if self._jwks is None or (refresh and time.time() - self._jwks_fetched > 60):
            meta = await self.metadata()
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.get(meta["jwks_uri"])
                response.raise_for_status()
                self._jwks = response.json()
            self._jwks_fetched = time.time()
        return self._jwks

    async def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to end its session at the provider too (RP-initiated logout),
        or None when the provider has no ``end_session_endpoint``."""
        endpoint = (await self.metadata()).get("end_session_endpoint")
        if not endpoint:
            return None
        query = urlencode(
            {"client_id": self.settings.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            scope=self.settings.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=10,
        )

    async def authorization_request(self) -> AuthorizationRequest:
        """A fresh authorization URL with state, nonce and a PKCE S256 challenge."""
        meta = await self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
            )
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def exchange_code(self, code: str, code_verifier: str) -> str:
        """Exchange the authorization code (with the PKCE verifier) for an ID token."""
        meta = await self.metadata()
        try:
            async with self._client() as client:
                token = await client.fetch_token(
                    meta["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
        except Exception as exc:  # authlib raises OAuthError, httpx errors, JSON errors
            raise OidcError(f"token exchange failed: {exc}") from exc
        id_token = token.get("id_token")
        if not id_token:
            raise OidcError("the provider returned no ID token")
        return id_token

    async def validate_id_token(self, id_token: str, nonce: str, now: float | None = None) -> OidcIdentity:
        """Check signature (provider JWKS), issuer, audience, expiry, issued-at and nonce."""
        claims_options = {
            "iss": {"essential": True, "value": self.settings.issuer},
            "aud": {"essential": True, "value": self.settings.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        }
        params = {"nonce": nonce, "client_id": self.settings.client_id}
        for attempt in (False, True):
            keys = JsonWebKey.import_key_set(await self.jwks(refresh=attempt))
            try:
                claims = self._jwt.decode(
                    id_token,
                    keys,
                    claims_cls=CodeIDToken,
                    claims_options=claims_options,
                    claims_params=params,
                )
                claims.validate(now=int(now or time.time()), leeway=CLOCK_SKEW_SECONDS)
                break
            except ValueError as exc:  # authlib: unknown kid → ValueError; refetch keys once
                if attempt:
                    raise OidcError(f"ID token rejected: {exc}") from exc
            except (JoseError, JoseRfcError) as exc:  # authlib 1.9 raises joserfc's errors
                raise OidcError(f"ID token rejected: {exc}") from exc
        else:  # pragma: no cover - loop always breaks or raises
            raise OidcError("ID token rejected")
        groups = claims.get(self.settings.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        # Only a JSON ``true`` vouches for the address: absent, false or a string such as "true"
        # leaves it out, so it can neither match a tenant's members nor name the user.
        email = claims.get("email") if claims.get("email_verified") is True else None
        return OidcIdentity(subject=str(claims["sub"]), email=email, groups=list(groups), claims=dict(claims))
