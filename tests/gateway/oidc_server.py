"""Run the real OpenID provider (npm ``oidc-provider``) on loopback for the tests.

``npm ci`` installs it from ``oidc_provider/package-lock.json`` when
``node_modules`` is missing. The test generates the provider's RSA signing
key, so tests can also sign tokens with the provider's real key to probe one
claim check at a time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx
from authlib.jose import JsonWebKey

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
# login -> claims; groups map to tenant roles through TenantConfig.oidc_groups / members.
ACCOUNTS = {
    "sso-viewer": {"email": "sso.viewer@example.com", "email_verified": True, "groups": ["acme-viewers"]},
    "sso-editor": {"email": "sso.editor@example.com", "email_verified": True, "groups": ["acme-editors"]},
    "sso-member": {"email": "sso.acme@example.com", "email_verified": True, "groups": []},
    "sso-owner": {"email": "boss@example.com", "email_verified": True, "groups": ["platform-owners"]},
    # subject equal to a local account that is admin of acme: must not inherit its role
    "ada": {"email": "imposter@example.com", "email_verified": True, "groups": []},
    # claim a member's e-mail without the provider having verified it (false, absent, a string)
    "sso-unverified": {"email": "sso.acme@example.com", "email_verified": False, "groups": []},
    "sso-unstated": {"email": "sso.acme@example.com", "groups": []},
    "sso-stringly": {"email": "sso.acme@example.com", "email_verified": "true", "groups": []},
    # groups the tests change at the provider between two sign-ins (see OidcProvider.changed_claims)
    "sso-mover": {"email": "sso.mover@example.com", "email_verified": True, "groups": ["acme-editors"]},
    "sso-deputy": {"email": "deputy@example.com", "email_verified": True, "groups": ["platform-owners"]},
}


@dataclass
class OidcProvider:
    """A running provider and its private signing key."""

    issuer: str
    client_id: str
    client_secret: str
    accounts_file: Path
    private_jwk: dict = field(repr=False)

    @contextmanager
    def changed_claims(self, login: str, **claims: object) -> Iterator[None]:
        """Change some claims of one account at the provider (next sign-in on); restore them on exit."""
        accounts = json.loads(self.accounts_file.read_text())
        original = dict(accounts[login])
        accounts[login] = {**original, **claims}
        self.accounts_file.write_text(json.dumps(accounts))
        try:
            yield
        finally:
            accounts[login] = original
            self.accounts_file.write_text(json.dumps(accounts))


def ensure_installed() -> None:
    """``npm ci`` the provider when its node_modules folder is absent."""
    if (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed; the OIDC tests need node 20+ and npm")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True)


@contextmanager
def start_oidc_provider(redirect_uri: str, port: int, state_dir: Path) -> Iterator[OidcProvider]:
    """Start the provider process on ``port`` (its accounts file in ``state_dir``); stop it on exit."""
    ensure_installed()
    accounts_file = state_dir / "oidc_accounts.json"
    accounts_file.write_text(json.dumps(ACCOUNTS))
    key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    private = key.as_dict(is_private=True)
    private.update({"kid": "test-signing-key", "use": "sig", "alg": "RS256"})
    provider = OidcProvider(
        issuer=f"http://127.0.0.1:{port}",
        client_id="klikkflow-gateway",
        client_secret="s3cret-" + "c" * 32,
        accounts_file=accounts_file,
        private_jwk=private,
    )
    env = dict(os.environ)
    env.update(
        OIDC_PORT=str(port),
        OIDC_ISSUER=provider.issuer,
        OIDC_CLIENT_ID=provider.client_id,
        OIDC_CLIENT_SECRET=provider.client_secret,
        OIDC_REDIRECT_URI=redirect_uri,
        OIDC_POST_LOGOUT_REDIRECT_URI=redirect_uri.replace("/auth/callback", "/login"),
        OIDC_JWKS=json.dumps({"keys": [private]}),
        OIDC_ACCOUNTS_FILE=str(accounts_file),
        NODE_ENV="test",
    )
    process = subprocess.Popen(
        ["node", "server.mjs"],
        cwd=PROVIDER_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 30
        while True:
            assert time.time() < deadline, "OIDC provider did not start"
            assert process.poll() is None, process.stdout.read() if process.stdout else "provider exited"
            try:
                if (
                    httpx.get(provider.issuer + "/.well-known/openid-configuration", timeout=1).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def page_form(html: str) -> tuple[str, dict[str, str]]:
    """The action and the named input values of the first form on a provider page."""
    action = re.search(r'<form[^>]*action="([^"]+)"', html)
    assert action, html
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    return action.group(1), fields


def provider_sign_in(client: httpx.Client, authorize_url: str, login: str) -> str:
    """Drive the provider's login and consent pages; return the final redirect to the gateway callback."""
    response = client.get(authorize_url, follow_redirects=False)
    for _ in range(10):
        if response.status_code in (302, 303):
            location = urljoin(str(response.url), response.headers["location"])
            if "/auth/callback" in location:
                return location
            response = client.get(location, follow_redirects=False)
            continue
        assert response.status_code == 200, response.text
        action, fields = page_form(response.text)
        if 'name="login"' in response.text:
            fields.update(login=login, password="any-password")
        response = client.post(urljoin(str(response.url), action), data=fields, follow_redirects=False)
    raise AssertionError("provider sign-in did not finish")
