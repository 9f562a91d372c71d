"""Debian's docker-registry (distribution 2.8) on a loopback port, as a subprocess.

    reg = RegistryServer("basic", workdir="/tmp/x").start()
    reg.url   -> "http://localhost:PORT"      reg.host -> "localhost:PORT"
    reg.auth  -> ("alice", "secret") for basic/token, None for open
    reg.stop()

Flavours: "open" (no auth), "basic" (htpasswd, bcrypt), "token" (Bearer tokens from a
TokenServer, see tokenserver.py). Plain HTTP on 127.0.0.1, or HTTPS with `tls=make_tls(dir)` (a
test CA, a server certificate for localhost, and a client certificate the server may require).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

REGISTRY_BIN = "/usr/bin/docker-registry"
USERNAME, PASSWORD = "alice", "secret"
TOKEN_SERVICE = "pypod-test-registry"
TOKEN_ISSUER = "pypod-test-issuer"

# Every registry-like server started in this process (registries, proxies): "localhost:PORT".
# The test user's registries.conf marks each of them insecure.
RUNNING_HOSTS: list[str] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """preexec_fn: SIGTERM the child if pytest dies without running its finalizers."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def wait_http(url: str, timeout: float, ok_statuses=(200, 401), proc=None, context=None) -> int:
    """Poll `url` until it answers with one of ok_statuses; return the status."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=context))
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with status {proc.returncode} before {url} "
                               "answered")
        try:
            with opener.open(url, timeout=2) as r:
                if r.status in ok_statuses:
                    return r.status
                last = f"status {r.status}"
        except urllib.error.HTTPError as e:
            if e.code in ok_statuses:
                return e.code
            last = f"status {e.code}"
        except (urllib.error.URLError, OSError) as e:
            last = str(e)
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s (last: {last})")


def tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


class TLSFiles:
    """PEM files made by make_tls()."""

    def __init__(self, d: str):
        self.dir = d
        self.ca, self.ca_key = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
        self.server, self.server_key = os.path.join(d, "server.crt"), os.path.join(d, "server.key")
        self.client, self.client_key = os.path.join(d, "client.cert"), os.path.join(d, "client.key")


def make_tls(d: str) -> TLSFiles:
    """A throw-away CA, a server certificate for localhost/127.0.0.1 and a client certificate,
    both signed by it (openssl)."""
    t = TLSFiles(d)

    def ssl_(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=d)

    ssl_("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2", "-subj", "/CN=pypod-test-ca",
         "-keyout", t.ca_key, "-out", t.ca)
    for name, crt, key, ext in (("localhost", t.server, t.server_key,
                                 "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"),
                                ("pypod-test-client", t.client, t.client_key, "extendedKeyUsage=clientAuth")):
        csr = os.path.join(d, f"{name}.csr")
        extfile = os.path.join(d, f"{name}.ext")
        with open(extfile, "w") as f:
            f.write(ext + "\n")
        ssl_("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", csr)
        ssl_("x509", "-req", "-in", csr, "-CA", t.ca, "-CAkey", t.ca_key, "-CAcreateserial", "-days", "2",
             "-sha256", "-extfile", extfile, "-out", crt)
    for path in os.listdir(d):
        os.chmod(os.path.join(d, path), 0o644)  # the test user reads them (keys of a throw-away CA)
    return t


class RegistryServer:
    def __init__(self, kind: str = "open", workdir: str | None = None, *,
                 data_dir: str | None = None, token_server=None, port: int | None = None,
                 username: str = USERNAME, password: str = PASSWORD, tls: TLSFiles | None = None,
                 client_certs: bool = False):
        if kind not in ("open", "basic", "token"):
            raise ValueError(f"registry kind must be open, basic or token, not {kind!r}")
        if kind == "token" and token_server is None:
            raise ValueError("a token registry needs a token_server")
        if workdir is None:
            import tempfile

            workdir = tempfile.mkdtemp(prefix=f"pypod-registry-{kind}-")
        self.kind = kind
        self.workdir = workdir
        self.data_dir = data_dir or os.path.join(workdir, "data")
        self.token_server = token_server
        self.port = port
        self.username, self.password = username, password
        self.tls, self.client_certs = tls, client_certs
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(workdir, "registry.log")
        self.config_path = os.path.join(workdir, "config.yml")

    # -- addresses --

    @property
    def host(self) -> str:
        return f"localhost:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://localhost:{self.port}"

    @property
    def auth(self) -> tuple[str, str] | None:
        return None if self.kind == "open" else (self.username, self.password)

    def __repr__(self):
        return f"<RegistryServer {self.kind} {self.url} data={self.data_dir}>"

    # -- lifecycle --

    def _config(self) -> dict:
        cfg = {
            "version": "0.1",
            "log": {"level": "info", "formatter": "text",
                    "fields": {"service": f"pypod-test-{self.kind}"}},
            "storage": {
                "filesystem": {"rootdirectory": self.data_dir},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": "pypod-test-secret",
                     "headers": {"X-Content-Type-Options": ["nosniff"]}},
        }
        if self.tls:
            cfg["http"]["tls"] = {"certificate": self.tls.server, "key": self.tls.server_key}
            if self.client_certs:
                cfg["http"]["tls"]["clientcas"] = [self.tls.ca]
        if self.kind == "basic":
            htpasswd = os.path.join(self.workdir, "htpasswd")
            out = subprocess.run(["htpasswd", "-Bbn", self.username, self.password],
                                 check=True, capture_output=True, text=True, timeout=30).stdout
            with open(htpasswd, "w") as f:
                f.write(out.strip() + "\n")
            cfg["auth"] = {"htpasswd": {"realm": "pypod-test-realm", "path": htpasswd}}
        elif self.kind == "token":
            ts = self.token_server
            cfg["auth"] = {"token": {"realm": ts.realm, "service": ts.service,
                                     "issuer": ts.issuer, "rootcertbundle": ts.cert_path}}
        return cfg

    def start(self, timeout: float = 30) -> "RegistryServer":
        if not os.access(REGISTRY_BIN, os.X_OK):
            raise RuntimeError(f"{REGISTRY_BIN} missing: apt-get install docker-registry "
                               "(scripts/test does it)")
        os.makedirs(self.workdir, exist_ok=True)
        os.makedirs(self.data_dir, exist_ok=True)
        fixed_port = self.port is not None
        for attempt in range(3):
            if not fixed_port:
                self.port = free_port()
            with open(self.config_path, "w") as f:
                # YAML is a superset of JSON: no quoting surprises.
                json.dump(self._config(), f, indent=1)
            log = open(self.log_path, "ab")
            # A scrubbed environment: REGISTRY_* variables would override the config file.
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.workdir}
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config_path],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=env, cwd=self.workdir, preexec_fn=_die_with_parent)
            log.close()
            context = None
            if self.tls:
                context = ssl.create_default_context(cafile=self.tls.ca)
                context.check_hostname = False
                context.load_cert_chain(self.tls.client, self.tls.client_key)
            try:
                wait_http(f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v2/", timeout,
                          proc=self.proc, context=context)
            except (RuntimeError, TimeoutError) as e:
                self.stop()
                logtext = tail(self.log_path)
                if "address already in use" in logtext and not fixed_port and attempt < 2:
                    continue
                raise RuntimeError(
                    f"docker-registry ({self.kind}) did not start on 127.0.0.1:{self.port}: {e}\n"
                    f"config: {self.config_path}\nlog {self.log_path}:\n{logtext}") from None
            break
        if self.host not in RUNNING_HOSTS and not self.tls:  # a TLS registry is verified, not insecure
            RUNNING_HOSTS.append(self.host)
        return self

    def stop(self, timeout: float = 10) -> None:
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout)
        if self.host in RUNNING_HOSTS:
            RUNNING_HOSTS.remove(self.host)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return tail(self.log_path, 200)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
