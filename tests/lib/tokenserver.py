"""A token issuer for docker-registry's `auth: token` (the Docker Hub flow), stdlib http.server.

    GET  /token?service=S&scope=repository:NAME:pull,push     (Basic alice:secret, or anonymous)
    POST /token  grant_type=password&username=..&password=..&service=..&scope=..   (OAuth2 form)
    -> {"token": JWT, "access_token": JWT, "expires_in": 300, "issued_at": "..."}

Wrong credentials get 401. Anonymous requests get a token with no access (so the registry
answers 401 insufficient_scope), unless `anonymous_pull` is set: then pull is granted.

The JWT is what distribution 2.8 (registry/auth/token/token.go) verifies: RS256, header `x5c`
(the signing certificate, base64 DER, checked against `rootcertbundle`) and `kid` (the libtrust
key ID of the public key, looked up among the bundle's keys when there is no x5c); claims iss,
sub, aud (a string), exp, nbf, iat, jti, access [{type, name, actions}].
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from .http import Background
from .registry import PASSWORD, TOKEN_ISSUER, TOKEN_SERVICE, USERNAME


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(spki_der: bytes) -> str:
    """libtrust's key ID: base32 of the first 240 bits of sha256(DER SubjectPublicKeyInfo),
    in groups of 4 joined by ':' (12 groups)."""
    s = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode().rstrip("=")
    return ":".join(s[i:i + 4] for i in range(0, len(s), 4))


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """'repository:a/b:pull,push' -> ('repository', 'a/b', ['pull', 'push'])."""
    typ, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not typ or not name:
        return None
    return typ, name, [a for a in actions.split(",") if a]


class TokenServer:
    """Attributes: url, realm (url + /token), port, service, issuer, cert_path, key_path,
    users {name: password}, anonymous_pull, header_mode ("x5c", "kid" or "both"),
    requests (a list of {"method", "path", "query", "user", "status", "scopes"})."""

    def __init__(self, workdir: str, *, users: dict[str, str] | None = None,
                 service: str = TOKEN_SERVICE, issuer: str = TOKEN_ISSUER,
                 header_mode: str = "both", anonymous_pull: bool = False, expires_in: int = 300):
        self.workdir = workdir
        self.users = dict(users or {USERNAME: PASSWORD})
        self.service, self.issuer = service, issuer
        self.header_mode = header_mode
        self.anonymous_pull = anonymous_pull
        self.expires_in = expires_in
        self.key_path = os.path.join(workdir, "token.key")
        self.cert_path = os.path.join(workdir, "token.crt")
        self.requests: list[dict] = []
        self._server: Background | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def realm(self) -> str:
        return self.url + "/token"

    # -- keys --

    def _make_keys(self) -> None:
        os.makedirs(self.workdir, exist_ok=True)
        if not (os.path.exists(self.key_path) and os.path.exists(self.cert_path)):
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                 "-keyout", self.key_path, "-out", self.cert_path, "-days", "30",
                 "-subj", "/CN=pypod-test-token-issuer"],
                check=True, capture_output=True, timeout=60)
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        with open(self.key_path, "rb") as f:
            self._key = serialization.load_pem_private_key(f.read(), password=None)
        with open(self.cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = libtrust_key_id(spki)

    # -- tokens --

    def issue(self, subject: str, access: list[dict], audience: str | None = None,
              expires_in: int | None = None, issuer: str | None = None) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256"}
        if self.header_mode in ("kid", "both"):
            header["kid"] = self.kid
        if self.header_mode in ("x5c", "both"):
            header["x5c"] = [base64.b64encode(self.cert_der).decode()]
        now = int(time.time())
        claims = {
            "iss": issuer or self.issuer,
            "sub": subject,
            "aud": audience or self.service,
            "exp": now + (self.expires_in if expires_in is None else expires_in),
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        sig = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)

    def grant(self, user: str | None, scopes: list[str]) -> list[dict]:
        access = []
        for sc in scopes:
            for one in sc.split(" "):
                parsed = parse_scope(one)
                if not parsed:
                    continue
                typ, name, actions = parsed
                if user:
                    allowed = [a for a in actions if a in ("pull", "push", "delete", "*")]
                elif self.anonymous_pull:
                    allowed = [a for a in actions if a == "pull"]
                else:
                    allowed = []
                access.append({"type": typ, "name": name, "actions": allowed})
        return access

    # -- HTTP --

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # keep pytest output clean
                pass

            def _reply(self, status: int, body: dict, extra: dict | None = None):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _serve(self, method: str, q: dict[str, list[str]]):
                path = urlsplit(self.path).path
                record = {"method": method, "path": path, "query": q, "user": None,
                          "scopes": q.get("scope", []), "status": None}
                server.requests.append(record)
                if path != "/token":
                    record["status"] = 404
                    return self._reply(404, {"errors": [{"code": "NOT_FOUND"}]})
                user = None
                authz = self.headers.get("Authorization", "")
                if authz.lower().startswith("basic "):
                    try:
                        u, _, p = base64.b64decode(authz[6:]).decode().partition(":")
                    except Exception:
                        u, p = "", None
                    user, pw = u, p
                elif method == "POST" and q.get("username"):
                    user, pw = q["username"][0], (q.get("password") or [""])[0]
                if user is not None and server.users.get(user) != pw:
                    record["status"] = 401
                    record["user"] = user
                    return self._reply(401, {"errors": [{"code": "UNAUTHORIZED",
                                                         "message": "bad credentials"}]},
                                       {"WWW-Authenticate": 'Basic realm="pypod-test-token"'})
                record["user"] = user
                service = (q.get("service") or [server.service])[0]
                token = server.issue(user or "", server.grant(user, q.get("scope", [])),
                                     audience=service)
                record["status"] = 200
                self._reply(200, {
                    "token": token, "access_token": token, "expires_in": server.expires_in,
                    "issued_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                })

            def do_GET(self):
                self._serve("GET", parse_qs(urlsplit(self.path).query))

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                q = parse_qs(urlsplit(self.path).query)
                for k, v in parse_qs(body).items():
                    q.setdefault(k, []).extend(v)
                self._serve("POST", q)

        return Handler

    def start(self) -> "TokenServer":
        self._make_keys()
        self._server = Background(self._handler(), name="token-server")
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server:
            self._server.close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
