"""A small OAuth2 / OpenID Connect provider on 127.0.0.1 for the social sign-in tests.

One server plays several providers, each under its own path ("tenant"): /google serves the URLs
allauth's google provider calls, /linkedin serves OpenID Connect discovery like LinkedIn. It
implements the authorization-code flow with PKCE, client authentication (post or basic), ID
tokens signed RS256 with a key generated here, userinfo, JWKS and Google's PEM certificates.
"""

import base64
import datetime
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

AUTHORIZE_PATHS = {"authorize", "o/oauth2/v2/auth"}
TOKEN_PATHS = {"token"}
USERINFO_PATHS = {"userinfo", "oauth2/v2/userinfo"}


class OpenIDProvider:
    def __init__(self, base_url):
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.address = (parts.hostname, parts.port)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-" + secrets.token_hex(4)
        self.clients = {}  # tenant -> {"client_id", "secret", "claims"}
        self.denied = set()  # tenants whose user refuses consent
        self.calls = []  # (method, tenant, endpoint, details) for assertions
        self._codes = {}
        self._access_tokens = {}
        self._lock = threading.Lock()
        self._server = None

    # --- set-up ---------------------------------------------------------------------------

    def issuer(self, tenant):
        return f"{self.base_url}/{tenant}"

    def register(self, tenant, *, client_id, secret, claims):
        """Register the client allowed at ``tenant`` and the person who signs in there."""
        self.clients[tenant] = {"client_id": client_id, "secret": secret, "claims": dict(claims)}
        self.denied.discard(tenant)

    def reset(self):
        with self._lock:
            self.clients.clear()
            self.denied.clear()
            self.calls.clear()
            self._codes.clear()
            self._access_tokens.clear()

    def start(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                provider._handle(self, "GET")

            def do_POST(self):
                provider._handle(self, "POST")

            def log_message(self, *args):  # keep test output quiet
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(self.address, Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # --- keys -----------------------------------------------------------------------------

    def jwks(self):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def pem_certificates(self):
        """Return the public key as Google publishes it: {kid: PEM certificate}."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-oidc-provider")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        return {self.kid: cert.public_bytes(serialization.Encoding.PEM).decode()}

    def id_token(self, tenant, *, nonce=None):
        client = self.clients[tenant]
        now = int(time.time())
        claims = {
            "iss": self.issuer(tenant),
            "aud": client["client_id"],
            "azp": client["client_id"],
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
            **client["claims"],
        }
        if nonce:
            claims["nonce"] = nonce
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": self.kid})

    # --- HTTP -----------------------------------------------------------------------------

    def _handle(self, request, method):
        url = urlsplit(request.path)
        tenant, _, endpoint = url.path.strip("/").partition("/")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = {}
        if method == "POST":
            length = int(request.headers.get("Content-Length") or 0)
            body = {k: v[0] for k, v in parse_qs(request.rfile.read(length).decode()).items()}
        with self._lock:
            self.calls.append((method, tenant, endpoint, {**query, **body}))
        if tenant not in self.clients:
            return self._json(request, 404, {"error": "unknown_tenant"})
        if endpoint == ".well-known/openid-configuration":
            return self._json(request, 200, self._discovery(tenant))
        if endpoint in AUTHORIZE_PATHS and method == "GET":
            return self._authorize(request, tenant, query)
        if endpoint in TOKEN_PATHS and method == "POST":
            return self._token(request, tenant, body)
        if endpoint in USERINFO_PATHS:
            return self._userinfo(request, tenant)
        if endpoint == "jwks":
            return self._json(request, 200, self.jwks())
        if endpoint == "oauth2/v1/certs":
            return self._json(request, 200, self.pem_certificates())
        return self._json(request, 404, {"error": "not_found"})

    def _discovery(self, tenant):
        issuer = self.issuer(tenant)
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
        }

    def _authorize(self, request, tenant, query):
        client = self.clients[tenant]
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != client["client_id"] or not redirect_uri:
            return self._json(request, 400, {"error": "invalid_client"})
        if query.get("response_type") != "code":
            return self._json(request, 400, {"error": "unsupported_response_type"})
        params = {"state": query.get("state", "")}
        if tenant in self.denied:
            params["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(16)
            with self._lock:
                self._codes[code] = {
                    "tenant": tenant,
                    "redirect_uri": redirect_uri,
                    "nonce": query.get("nonce"),
                    "code_challenge": query.get("code_challenge"),
                    "scope": query.get("scope", ""),
                }
            params["code"] = code
        request.send_response(302)
        request.send_header("Location", f"{redirect_uri}?{urlencode(params)}")
        request.end_headers()

    def _client_credentials(self, request, body):
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return client_id, secret
        return body.get("client_id"), body.get("client_secret")

    def _token(self, request, tenant, body):
        client = self.clients[tenant]
        client_id, secret = self._client_credentials(request, body)
        if (client_id, secret) != (client["client_id"], client["secret"]):
            return self._json(request, 401, {"error": "invalid_client"})
        with self._lock:
            grant = self._codes.pop(body.get("code", ""), None)  # a code works once
        if body.get("grant_type") != "authorization_code" or not grant or grant["tenant"] != tenant:
            return self._json(request, 400, {"error": "invalid_grant"})
        if body.get("redirect_uri") != grant["redirect_uri"]:
            return self._json(request, 400, {"error": "invalid_grant", "error_description": "redirect_uri"})
        if grant["code_challenge"]:
            verifier = body.get("code_verifier", "").encode()
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
            if challenge != grant["code_challenge"]:
                return self._json(request, 400, {"error": "invalid_grant", "error_description": "PKCE"})
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._access_tokens[access_token] = tenant
        return self._json(
            request,
            200,
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": grant["scope"],
                "id_token": self.id_token(tenant, nonce=grant["nonce"]),
            },
        )

    def _userinfo(self, request, tenant):
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        if self._access_tokens.get(token) != tenant:
            return self._json(request, 401, {"error": "invalid_token"})
        return self._json(request, 200, self.clients[tenant]["claims"])

    @staticmethod
    def _json(request, status, payload):
        data = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
