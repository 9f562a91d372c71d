"""A Docker Registry HTTP API v2 client: ping, Bearer/Basic auth, manifests, streamed blobs.

Imported only by commands that talk to a registry (requests costs ~110 ms to import).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import requests

from pypod import __version__
from pypod.errors import AuthError, DigestMismatch, RegistryError
from pypod.image import mediatypes as mt

USER_AGENT = f"pypod/{__version__}"
TIMEOUT = (30, 120)  # connect, read


@dataclass
class Challenge:
    scheme: str                 # "bearer" | "basic"
    params: dict[str, str]


def parse_www_authenticate(header: str) -> Challenge | None:
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'([A-Za-z_]+)="([^"]*)"', rest)}
    for k, v in re.findall(r'([A-Za-z_]+)=([^",\s]+)', rest):
        params.setdefault(k.lower(), v)
    return Challenge(scheme.lower(), params)


def certs_dirs(host: str, cert_dir: str | None) -> list[Path]:
    if cert_dir:
        return [Path(cert_dir)]
    from pypod.paths import config_home

    return [config_home() / "containers" / "certs.d" / host, Path("/etc/containers/certs.d") / host,
            Path("/etc/docker/certs.d") / host]


def _tls_settings(host: str, cert_dir: str | None):
    verify: bool | str = True
    cert = None
    for d in certs_dirs(host, cert_dir):
        if not d.is_dir():
            continue
        cas = sorted(d.glob("*.crt"))
        if cas:
            verify = str(cas[0])
        certs = sorted(d.glob("*.cert"))
        if certs:
            key = certs[0].with_suffix(".key")
            if key.exists():
                cert = (str(certs[0]), str(key))
        break
    return verify, cert


class RegistryClient:
    """One registry host (a location from registries.conf), with credentials and a token cache."""

    def __init__(self, host: str, *, insecure: bool = False, tls_verify: bool | None = None,
                 creds: tuple[str, str] | None = None, authfile: str | None = None,
                 cert_dir: str | None = None):
        self.host = host
        # docker.io's API lives at registry-1.docker.io.
        self.api_host = "registry-1.docker.io" if host == "docker.io" else host
        self.insecure = insecure if tls_verify is None else not tls_verify
        self.creds = creds
        self.authfile = authfile
        self.cert_dir = cert_dir
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        verify, cert = _tls_settings(host, cert_dir)
        self.session.verify = False if self.insecure else verify
        if cert:
            self.session.cert = cert
        self.base: str | None = None
        self.challenge: Challenge | None = None
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        if self.insecure:
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    # -- connection and auth -------------------------------------------------------------------
    def _credentials(self, repository: str | None = None) -> tuple[str, str] | None:
        if self.creds:
            return self.creds
        from pypod.image import auth

        return auth.get_credentials(self.host, repository, authfile=self.authfile)

    def ping(self) -> None:
        """Find the scheme and the auth challenge (GET /v2/)."""
        if self.base:
            return
        schemes = ["https", "http"] if self.insecure else ["https"]
        last: Exception | None = None
        for scheme in schemes:
            url = f"{scheme}://{self.api_host}/v2/"
            try:
                r = self.session.get(url, timeout=TIMEOUT)
            except requests.exceptions.SSLError as e:
                last = e
                continue
            except requests.exceptions.ConnectionError as e:
                last = e
                if scheme == "https" and self.insecure:
                    continue
                break
            if r.status_code in (200, 401):
                self.base = f"{scheme}://{self.api_host}"
                if r.status_code == 401:
                    self.challenge = parse_www_authenticate(r.headers.get("WWW-Authenticate", ""))
                return
            last = RegistryError(f"unexpected status {r.status_code} from {url}")
        raise RegistryError(f"pinging container registry {self.host}: {_short(last)}")

    def _token(self, scope: str, repository: str | None) -> str | None:
        ch = self.challenge
        if ch is None:
            return None
        with self._lock:
            if scope in self._tokens:
                return self._tokens[scope]
        if ch.scheme == "basic":
            creds = self._credentials(repository)
            if not creds:
                return None
            tok = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        elif ch.scheme == "bearer":
            realm = ch.params.get("realm")
            if not realm:
                raise AuthError(f"{self.host}: bearer challenge without a realm")
            params = {}
            if ch.params.get("service"):
                params["service"] = ch.params["service"]
            if scope:
                params["scope"] = scope
            creds = self._credentials(repository)
            try:
                r = self.session.get(realm, params=params, auth=creds, timeout=TIMEOUT)
            except requests.exceptions.RequestException as e:
                raise AuthError(f"getting a token from {realm}: {_short(e)}") from None
            if r.status_code == 401:
                raise AuthError(f"authenticating to {self.host}: invalid username/password")
            if r.status_code != 200:
                raise AuthError(f"getting a token from {realm}: status {r.status_code}")
            body = r.json()
            token = body.get("token") or body.get("access_token")
            if not token:
                raise AuthError(f"the token server {realm} returned no token")
            tok = "Bearer " + token
        else:
            raise AuthError(f"{self.host}: unsupported auth scheme {ch.scheme!r}")
        with self._lock:
            self._tokens[scope] = tok
        return tok

    def request(self, method: str, path: str, *, repository: str, actions: str = "pull",
                headers: dict | None = None, stream: bool = False, data=None,
                allow_redirects: bool = True) -> requests.Response:
        self.ping()
        scope = f"repository:{repository}:{actions}"
        hdrs = dict(headers or {})
        url = path if path.startswith("http") else f"{self.base}{path}"
        for attempt in range(2):
            tok = self._token(scope, repository)
            if tok:
                hdrs["Authorization"] = tok
            try:
                r = self.session.request(method, url, headers=hdrs, stream=stream, data=data,
                                         timeout=TIMEOUT, allow_redirects=allow_redirects)
            except requests.exceptions.RequestException as e:
                raise RegistryError(f"{method} {url}: {_short(e)}") from None
            if r.status_code == 401 and attempt == 0:
                # A challenge we did not know (or an expired token): learn it and retry once.
                ch = parse_www_authenticate(r.headers.get("WWW-Authenticate", ""))
                r.close()
                if ch is None:
                    break
                self.challenge = ch
                with self._lock:
                    self._tokens.pop(scope, None)
                continue
            return r
        return r

    # -- manifests and blobs ---------------------------------------------------------------------
    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """(raw bytes, media type, digest). The digest is verified when `reference` is one."""
        r = self.request("GET", f"/v2/{repository}/manifests/{reference}", repository=repository,
                         headers={"Accept": mt.ACCEPT})
        if r.status_code != 200:
            raise registry_error(r, f"reading manifest {reference} in {self.host}/{repository}")
        raw = r.content
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise DigestMismatch(f"manifest {reference}: digest mismatch (got {digest})")
        media = r.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            import json

            body = json.loads(raw)
            media = body.get("mediaType") or media
            if not body.get("mediaType") and "manifests" in body:
                media = mt.OCI_INDEX
            elif not body.get("mediaType") and "layers" in body:
                media = mt.OCI_MANIFEST
        except ValueError:
            raise RegistryError(f"manifest {reference} in {self.host}/{repository} is not JSON") from None
        return raw, media, digest

    def get_blob(self, repository: str, digest: str, offset: int = 0) -> requests.Response:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        r = self.request("GET", f"/v2/{repository}/blobs/{digest}", repository=repository,
                         headers=headers, stream=True)
        if r.status_code not in (200, 206):
            raise registry_error(r, f"fetching blob {digest}")
        return r

    def fetch_blob_bytes(self, repository: str, digest: str, limit: int = 64 << 20) -> bytes:
        r = self.get_blob(repository, digest)
        data = r.content
        if len(data) > limit:
            raise RegistryError(f"blob {digest} is too large")
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if got != digest:
            raise DigestMismatch(f"blob {digest}: digest mismatch: got {got}")
        return data


def registry_error(r: requests.Response, what: str) -> RegistryError:
    detail = ""
    try:
        errs = r.json().get("errors") or []
        if errs:
            e = errs[0]
            detail = f"{e.get('code', '').lower().replace('_', ' ')}: {e.get('message', '')}".strip(": ")
    except ValueError:
        pass
    if not detail:
        detail = {401: "unauthorized: authentication required", 403: "denied: requested access to the resource is denied",
                  404: "manifest unknown"}.get(r.status_code, f"status {r.status_code}")
    if r.status_code == 401 and "authentication required" not in detail:
        detail = f"unauthorized: {detail}"
    cls = AuthError if r.status_code in (401, 403) else RegistryError
    return cls(f"{what}: {detail}")


def _short(e: BaseException | None) -> str:
    if e is None:
        return "unknown error"
    text = str(e)
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        # what Go's client says, and the fix: the registry speaks plain HTTP
        return ("http: server gave HTTP response to HTTPS client (mark the registry `insecure = true` in "
                "registries.conf, or use --tls-verify=false)")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "x509: certificate signed by unknown authority (see --cert-dir, or --tls-verify=false)"
    m = re.search(r"(?:sslv3|tlsv1\d?) alert ([a-z ]+)", text)
    if m:  # the server refused the handshake: Go's "remote error: tls: bad certificate"
        alert = m.group(1).strip()
        hint = (" (the registry wants a client certificate: client.cert and client.key in --cert-dir or "
                "in certs.d/HOST)" if "certificate" in alert else "")
        return f"remote error: tls: {alert}{hint}"
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if m:
        return m.group(1).strip()
    if "Connection refused" in text:
        return "connection refused"
    m = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected\)", text)
    if m or "Connection broken" in text:  # urllib3's words name its classes; Go says this
        return "unexpected EOF" + (f" ({m.group(1)} bytes read, {m.group(2)} more expected)" if m else "")
    return text.splitlines()[0][:200] if text else "the connection failed"
