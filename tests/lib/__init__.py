"""The pypod test environment, as Python (used by tests/conftest.py; importable on its own).

Modules
  user.py        the test user (`pypodtest`, or $PYPOD_TEST_USER); pypod(*args) / pypod_bytes / sh_as_user run as it via
                 `runuser -u pypodtest -- env -i ... /opt/pypod-test/venv/bin/pypod ARGS`;
                 wipe_storage(), write_registries_conf().
  registry.py    RegistryServer("open"|"basic"|"token"): Debian's docker-registry on 127.0.0.1.
  tokenserver.py TokenServer: issues RS256 JWTs for the `token` registry (alice/secret).
  faultproxy.py  FaultProxy: forwards to a registry; corrupts blobs, cuts bodies, fails once.
  oci.py         Layer / push_image / push_index / RegistryClient: images without container tools.
  images.py      the seeded images (busybox, layered, multiarch, mixed, debian, hostile),
                 HOSTILE_TARGETS, LAYERED_EXPECT, push_busybox().
  rootfs.py      build_busybox_rootfs_tar(path) (stdlib only; scripts/setup uses it too).
  checks.py      ok(*args) / out(*args): pypod as the test user, asserted to exit 0 (the step
                 helper of most integration tests).
  http.py        get(url) (retried), httpd(body, port, root) (a busybox container's server
                 command), Background(handler) (an HTTP server of the test process in a thread).
  seed.py        write_seed_project(dir, image, port): the seed's first compose project (compose and
                 kube tests).

Fixtures (tests/conftest.py). Integration fixtures need root (scripts/test runs pytest as root)
and skip otherwise.
  test_user        session  UserInfo: .name .uid .gid .home .runtime_dir .storage_dirs
                            .registries_conf .auth_json (the user exists, has subuids, 0700 run dir)
  registry         session  the seeded `open` registry (SeededRegistry):
                              .host "localhost:PORT"  .url "http://localhost:PORT"  .port
                              .refs {"busybox": "localhost:PORT/busybox:latest", "busybox1" (:1),
                                     "layered", "multiarch", "mixed", "debian" (debian:bookworm),
                                     "hostile", "registry": "localhost:PORT"}
                              .digests {name: manifest digest; multiarch = the index digest,
                                        "multiarch-amd64"/"multiarch-arm64" the platform ones}
                              .server (RegistryServer)   registry["busybox"] == .refs["busybox"]
  seed             session  registry.refs (the SEED dict above)
  basic_registry   session  RegistryServer, htpasswd auth: .host .url .auth == ("alice", "secret");
                            empty at start (temp dir): push what a test needs with
                            images.push_busybox(basic_registry.url, auth=basic_registry.auth)
  token_server     session  TokenServer: .url .realm .service .issuer .requests .anonymous_pull
                            .header_mode ("both" | "x5c" | "kid") .issue(sub, access)
  token_registry   session  RegistryServer, Bearer token auth via token_server (.token_server)
  fault_proxy      function FaultProxy in front of the open registry, reset for each test:
                            .host .url .corrupt_blobs() .cut_after() .fail_next() .log
  clean_storage    function kills the test user's leftover processes, wipes its pypod storage
                            (~/.local/share/pypod, /run/user/UID/pypod, /tmp/pypod-run-UID) and
                            auth.json as root, writes ~/.config/containers/registries.conf
                            (search: the open registry; insecure: every registry and proxy
                            started); yields the UserInfo.

Ports are free ports picked at start (stable for the session). The registries.conf is rewritten
whenever a session registry or the fault proxy starts.
"""
