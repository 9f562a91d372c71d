"""`build`: a Containerfile → images, one intermediate (unnamed) image per step, with a layer cache.

Metadata steps (ENV, LABEL, …) make a new config with an `empty_layer` history entry; COPY/ADD build
their layer tar straight from the sources (no container); RUN runs a container of the current image
and takes its upper dir as the layer. A step's cache key is the parent image id, the instruction after
substitution, and what it read (source contents, the build args RUN sees): a rebuild with nothing
changed runs no container, no user namespace and writes no tar.
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import sys

from pypod.engine.context import Context
from pypod.errors import ImageNotFound, InvalidArgument, PypodError
from pypod.record import Record

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DEFAULT_SHELL = ["/bin/sh", "-c"]


class BuildOptions(Record):
    FIELDS = (
        ("context", "."),
        ("file", None),             # path, or "-" for stdin
        ("more_files", list),       # further -f files: buildah reads them all as one Containerfile
        ("containerfile_text", None),
        ("tags", list),
        ("build_args", dict),
        ("target", None),
        ("no_cache", False),
        ("pull", "missing"),        # always | missing | never
        ("labels", list),
        ("layers", True),
        ("squash", False),
        ("quiet", False),
        ("iidfile", None),
        ("format", "oci"),
        ("network", None),
        ("volumes", list),
        ("timestamp", None),        # int seconds or None
        ("platform", None),
        ("tls_verify", None),
        ("authfile", None),
        ("creds", None),
        ("cert_dir", None),
        ("ignorefile", None),
        ("add_hosts", list),
        ("dns", list),
        ("from_image", None),       # --from: replaces the first stage's FROM image
        ("env", list),              # --env K=V / K: set in every stage (so RUN sees it) and the image
        ("unsetenv", list),         # --unsetenv K: removed from every stage's environment
        ("run_options", dict),      # CreateOptions fields for the RUN containers (--cap-add, --device, …)
        ("runtime_flags", list),    # global --runtime-flag: pypod's own runtime takes none (a RUN fails)
    )
    __slots__ = tuple(n for n, _ in FIELDS)


class StepFailed(PypodError):
    def __init__(self, message: str, exit_code: int = 125):
        super().__init__(message)
        self.exit_code = exit_code


def platform_of(os_: str | None, arch: str | None, variant: str | None) -> str:
    """OS/ARCH[/VARIANT] from --os/--arch/--variant (this host's where not given)."""
    from pypod.image.platform import host_arch

    return "/".join(p for p in (os_ or "linux", arch or host_arch(), variant) if p)


def _lean(module: str, args: list[str]) -> list[str]:
    """A fresh, lean interpreter running `module`'s main(argv) (no site: quicker to start)."""
    from pypod.linux.spawn import lean_python_argv

    return lean_python_argv(module, args)


def _iso(ts: int | None) -> str:
    if ts is None:
        from pypod.image.pull import now_iso

        return now_iso()
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def find_containerfile(context: str, file: str | None) -> str:
    if file:
        path = file if os.path.isabs(file) or os.path.exists(file) else os.path.join(context, file)
        if not os.path.exists(path):
            raise PypodError(f"stat {os.path.abspath(path)}: no such file or directory")
        if os.path.isdir(path):
            return find_containerfile(path, None)
        return path
    for name in ("Containerfile", "Dockerfile"):
        p = os.path.join(context, name)
        if os.path.isfile(p):
            return p
    # podman 4.3 names the last one it looked for
    raise PypodError(f"stat {os.path.join(os.path.abspath(context), 'Dockerfile')}: no such file or directory")


def _env_dict(env: list[str]) -> dict:
    out = {}
    for e in env or []:
        k, _, v = e.partition("=")
        out[k] = v
    return out


def _drop_env(cfg: dict, keys: list[str]) -> None:
    """--unsetenv: these variables out of a config's Env."""
    cfg["Env"] = [e for e in cfg.get("Env") or [] if e.partition("=")[0] not in keys]


def _set_env(cfg: dict, key: str, value: str) -> None:
    env = [e for e in (cfg.get("Env") or []) if e.partition("=")[0] != key]
    env.append(f"{key}={value}")
    cfg["Env"] = env


def _go_duration_ns(text: str) -> int:
    from pypod.units import parse_duration

    return int(parse_duration(text) * 1e9)


class _StageResult:
    __slots__ = ("image_id", "config")

    def __init__(self, image_id: str | None, config: dict):
        self.image_id, self.config = image_id, config


class Builder:
    def __init__(self, ctx: Context, opts: BuildOptions, out):
        from pypod.image.build.cache import BuildCache

        self.ctx, self.opts = ctx, opts
        self.out = out  # the step lines (`pypod build`: its stdout)
        self.cache = BuildCache(ctx.graph_root)
        self.use_cache = opts.layers and not opts.no_cache
        self.write_cache = opts.layers
        self.results: dict[int, _StageResult] = {}
        self.consumed_args: set[str] = set()
        self.matcher = None
        self.warned: set[str] = set()
        self.lease = None  # an ImageLease on every image the build works from (build() sets it)

    # -- output ------------------------------------------------------------------------------
    def say(self, line: str) -> None:
        if not self.opts.quiet:
            self.out.write(line + "\n")
            self.out.flush()

    def warn(self, msg: str) -> None:
        if msg not in self.warned:
            self.warned.add(msg)
            self.ctx.reporter.warn(msg)

    # -- the whole build ---------------------------------------------------------------------
    def run(self, text: str, context_dir: str) -> str:
        from pypod.image.build import ignore, parser

        self.context_dir = context_dir
        if self.opts.ignorefile:
            with open(self.opts.ignorefile, encoding="utf-8", errors="replace") as f:
                self.matcher = ignore.Matcher(ignore.parse_ignore(f.read()))
        else:
            self.matcher = ignore.load(context_dir)
        try:
            cf = parser.parse(text)
        except parser.ParseError as e:
            raise InvalidArgument(str(e)) from None
        if self.opts.from_image and cf.stages:  # --from: the first FROM's image, as buildah
            cf.stages[0].base = self.opts.from_image
        self.cf = cf
        esc = cf.escape
        meta: dict[str, str] = {}
        self.meta_declared: dict[str, str | None] = {}
        for ins in cf.meta_args:
            for k, default in parser.arg_spec(parser.expand(ins.rest, meta, esc), esc):
                if k in self.opts.build_args:
                    val = self.opts.build_args[k]
                    self.consumed_args.add(k)
                else:
                    val = default
                self.meta_declared[k] = val
                if val is not None:
                    meta[k] = val
        self.meta = meta
        target = len(cf.stages) - 1
        if self.opts.target:
            names = [s.name for s in cf.stages]
            if self.opts.target.lower() not in names:
                raise PypodError(f"The target \"{self.opts.target}\" was not found in the provided Containerfile")
            target = names.index(self.opts.target.lower())
        needed = self._needed(cf, target)
        self.nstages = len(needed)
        final = None
        for pos, idx in enumerate(needed):
            final = self._stage(cf.stages[idx], pos, idx == target)
        unused = sorted(k for k in self.opts.build_args if k not in self.consumed_args
                        and k not in parser.PREDEFINED_ARGS)
        if unused:
            self.ctx.reporter.notice(f"[Warning] one or more build args were not consumed: [{' '.join(unused)}]")
        return final

    def _needed(self, cf, target: int) -> list[int]:
        from pypod.image.build import parser

        names = {s.name: s.index for s in cf.stages if s.name}
        want = {target}
        todo = [target]
        while todo:
            s = cf.stages[todo.pop()]
            refs = [parser.expand(s.base, self.meta, cf.escape).lower()]
            refs += [i.flags["from"].lower() for i in s.instructions if i.cmd in ("COPY", "ADD") and "from" in i.flags]
            for r in refs:
                idx = names.get(r)
                if idx is None and r.isdigit() and int(r) < s.index:
                    idx = int(r)
                if idx is not None and idx < s.index and idx not in want:
                    want.add(idx)
                    todo.append(idx)
        return sorted(want)

    def _prefix(self, pos: int) -> str:
        return f"[{pos + 1}/{self.nstages}] " if self.nstages > 1 else ""

    def _stage(self, stage, pos: int, is_final: bool) -> str:
        from pypod.image.build import parser

        esc = self.cf.escape
        total = len(stage.instructions) + 1
        prefix = self._prefix(pos)
        base_name = parser.expand(stage.base, self.meta, esc)
        shown = stage.from_instr.original.split(None, 1)
        rest = parser.expand(stage.from_instr.rest, self.meta, esc)
        self.say(f"{prefix}STEP 1/{total}: FROM {rest}" if len(shown) > 1 else f"{prefix}STEP 1/{total}: FROM")
        image_id, config = self._base(base_name, stage)
        if self.opts.env or self.opts.unsetenv:
            cc = config.setdefault("config", {})
            for item in self.opts.env:
                k, sep, v = item.partition("=")
                if sep or k in os.environ:
                    _set_env(cc, k, v if sep else os.environ[k])
            _drop_env(cc, self.opts.unsetenv)
        self.stage_args: dict[str, str] = {}
        self.shell = list((config.get("config") or {}).get("Shell") or DEFAULT_SHELL)
        self.cmd_set = False
        steps = list(stage.instructions)
        triggers = (config.get("config") or {}).get("OnBuild") or []
        if triggers:  # the base image's ONBUILD instructions run first (Docker's order)
            try:
                _, _, pre = parser.split_instructions("\n".join(triggers) + "\n")
            except parser.ParseError as e:
                raise PypodError(f"parsing the ONBUILD triggers of {base_name}: {e.message}") from None
            for t in pre:
                t.line = stage.from_instr.line
            steps = pre + steps
            config["config"]["OnBuild"] = None
            total += len(pre)
        new_layer_start = len((config.get("rootfs") or {}).get("diff_ids") or [])
        for n, ins in enumerate(steps, start=2):
            last = n == total
            self.say(f"{prefix}STEP {n}/{total}: {self._step_text(ins)}")
            try:
                image_id, config, cached = self._step(ins, image_id, config, last and is_final)
            except StepFailed:
                raise
            except (PypodError, OSError) as e:
                if isinstance(e, OSError):
                    e = PypodError(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
                raise StepFailed(f"building at STEP \"{self._step_text(ins)}\": {e.message}"
                                 f" (line {ins.line})") from None
            if cached:
                self.say(f"--> Using cache {image_id}")
            if not last or not is_final:
                self.say(f"--> {image_id[:11]}")
        if is_final and self.opts.squash and image_id is not None:
            image_id, config = self._squash(image_id, config, new_layer_start)
        self.results[stage.index] = _StageResult(image_id, config)
        if is_final:
            if image_id is None:
                image_id = self._commit(config, None, "", None)
            names = [self._norm(t) for t in self.opts.tags]
            self.say(f"{prefix}COMMIT {self.opts.tags[0] if self.opts.tags else ''}".rstrip())
            if names:
                from pypod.engine.images import tag

                tag(self.ctx, image_id, names)
            self.say(f"--> {image_id[:11]}")
            for nm in names:
                self.say(f"Successfully tagged {nm}")
        return image_id

    @staticmethod
    def _norm(name: str) -> str:
        from pypod.engine.images import normalize_new_name

        return normalize_new_name(name)

    def _step_text(self, ins) -> str:
        return ins.original

    # -- FROM --------------------------------------------------------------------------------
    def _base(self, name: str, stage) -> tuple[str | None, dict]:
        from pypod.image.platform import host_arch

        lname = name.lower()
        for idx, res in self.results.items():
            s = self.cf.stages[idx]
            if (s.name and s.name == lname) or str(idx) == lname:
                return res.image_id, copy.deepcopy(res.config)
        if lname == "scratch":
            return None, {"architecture": host_arch(), "os": "linux", "config": {},
                          "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
        try:
            rec = self._image(name, stage.platform or self.opts.platform)
        except PypodError as e:  # podman's words: the FROM image is its build container's
            e.message = f"creating build container: {e.message}"
            e.args = (e.message,)
            raise
        if not self._hold(rec.id):  # removed meanwhile (a prune): once more
            rec = self._image(name, stage.platform or self.opts.platform)
            if not self._hold(rec.id):
                raise PypodError(f"{name}: the image was removed while the build started")
        cfg = copy.deepcopy(self.ctx.images.config(rec.id))
        cfg.setdefault("config", {})
        return rec.id, cfg

    def _hold(self, image_id: str) -> bool:
        """Lease an image for the rest of the build; False if it is (being) removed already."""
        if self.lease is None:
            return self.ctx.images.get(image_id) is not None
        self.lease.add(image_id)
        with self.ctx.images.lock():  # a prune that did not see the lease has finished
            rec = self.ctx.images.get(image_id)
            return rec is not None and all(self.ctx.images.layers.exists(l) for l in rec.layers)

    def _image(self, name: str, platform: str | None = None):
        from pypod.engine import images as ie

        policy = self.opts.pull
        rec = ie.find_image(self.ctx, name) if policy != "always" else None
        if rec is None:
            if policy == "never":
                raise ImageNotFound(f"{name}: image not known")
            o = self.opts
            rec = ie.pull(self.ctx, ie.PullRequest(name=name, quiet=o.quiet, platform=platform, policy="always",
                                                   tls_verify=o.tls_verify, authfile=o.authfile, creds=o.creds,
                                                   cert_dir=o.cert_dir))
        return rec

    # -- one step ------------------------------------------------------------------------------
    def _env_for_expansion(self, config: dict) -> dict:
        env = dict(self.stage_args)
        env.update(_env_dict((config.get("config") or {}).get("Env")))
        return env

    def _step(self, ins, image_id, config, is_last: bool):
        from pypod.image.build import cache, parser

        esc = self.cf.escape
        cmd = ins.cmd
        rest = ins.rest
        if cmd in parser.EXPANDED:
            rest = parser.expand(rest, self._env_for_expansion(config), esc)
        flags = {k: parser.expand(v, self._env_for_expansion(config), esc) for k, v in ins.flags.items()}
        new_cfg = copy.deepcopy(config)
        c = new_cfg.setdefault("config", {})
        extra = ""
        layer_fn = None
        created_by = f"/bin/sh -c #(nop) {cmd} {rest}"
        if cmd == "ARG":
            for k, default in parser.arg_spec(rest, esc):
                if k in self.opts.build_args:
                    val = self.opts.build_args[k]
                    self.consumed_args.add(k)
                elif default is not None:
                    val = default
                elif k in self.meta_declared and self.meta_declared[k] is not None:
                    val = self.meta_declared[k]
                else:
                    val = None
                if val is not None:
                    self.stage_args[k] = val
                extra += f"{k}={val}\n"
        elif cmd == "ENV":
            for k, v in parser.key_values(rest, "ENV", esc):
                _set_env(c, k, v)
        elif cmd == "LABEL":
            labels = c.get("Labels") or {}
            for k, v in parser.key_values(rest, "LABEL", esc):
                labels[k] = v
            c["Labels"] = labels
        elif cmd == "MAINTAINER":
            new_cfg["author"] = rest
        elif cmd == "EXPOSE":
            ports = c.get("ExposedPorts") or {}
            for p in parser.words(rest, esc):
                ports[p if "/" in p else f"{p}/tcp"] = {}
            c["ExposedPorts"] = ports
        elif cmd == "USER":
            if not rest:
                raise PypodError("USER requires exactly one argument")
            c["User"] = rest
        elif cmd == "VOLUME":
            vols = c.get("Volumes") or {}
            v = ins.json_args() if rest.lstrip().startswith("[") else None
            for p in (json.loads(rest) if v is not None else parser.words(rest, esc)):
                vols[p] = {}
            c["Volumes"] = vols
        elif cmd == "STOPSIGNAL":
            c["StopSignal"] = rest
        elif cmd in ("CMD", "ENTRYPOINT"):
            args = ins.json_args()
            value = args if args is not None else self.shell + [rest]
            if cmd == "CMD":
                c["Cmd"] = value
                self.cmd_set = True
            else:
                c["Entrypoint"] = value
                if not self.cmd_set:
                    c["Cmd"] = None
        elif cmd == "SHELL":
            args = ins.json_args()
            if not args:
                raise PypodError("SHELL requires the arguments to be in JSON form")
            self.shell = args
            if self.opts.format == "docker":
                c["Shell"] = args
            else:
                self.warn("SHELL is not supported for OCI image format, [" + " ".join(args) + "] will be ignored. "
                          "Must use `docker` format")
        elif cmd == "HEALTHCHECK":
            hc = self._healthcheck(ins, rest)
            if self.opts.format == "docker":
                c["Healthcheck"] = hc
            else:
                self.warn("HEALTHCHECK is not supported for OCI image format and will be ignored. "
                          "Must use `docker` format")
        elif cmd == "ONBUILD":
            if self.opts.format == "docker":
                c["OnBuild"] = (c.get("OnBuild") or []) + [rest]
            else:
                self.warn("ONBUILD is not supported for OCI image format, " + rest + " will be ignored. "
                          "Must use `docker` format")
        elif cmd == "WORKDIR":
            wd = rest if rest.startswith("/") else posixpath.join(c.get("WorkingDir") or "/", rest)
            wd = posixpath.normpath(wd)
            c["WorkingDir"] = wd
            if not self._exists(image_id, wd):
                layer_fn = lambda: self._dir_layer(wd)  # noqa: E731
                extra = "mkdir"
        elif cmd in ("COPY", "ADD"):
            layer_fn, extra, created_by = self._copy(ins, cmd, rest, flags, image_id, c)
        elif cmd == "RUN":
            argv, shown, run_env = self._run_argv(ins, c)
            created_by = shown
            extra = "\n".join(run_env) + "\n" + json.dumps(argv) + "\n" + json.dumps(flags, sort_keys=True)
            layer_fn = lambda: self._run(ins, image_id, c, argv, run_env)  # noqa: E731
        if is_last and self.opts.labels:
            labels = c.get("Labels") or {}
            for item in self.opts.labels:
                k, _, v = item.partition("=")
                labels[k] = v
            c["Labels"] = labels
            extra += "\nlabels:" + json.dumps(self.opts.labels)
        if self.opts.env or self.opts.unsetenv:  # they change every step's config
            extra += "\nenv:" + json.dumps([self.opts.env, self.opts.unsetenv])
            if is_last and self.opts.unsetenv:  # out of the final image, whatever ENV said
                _drop_env(c, self.opts.unsetenv)
        k = cache.key(image_id or "scratch", ins.cmd, json.dumps(flags, sort_keys=True), rest, extra,
                      str(self.opts.timestamp), self.opts.format,
                      json.dumps(self.stage_args, sort_keys=True) if cmd == "RUN" else "")
        if self.use_cache:
            hit = self.cache.get(k)
            if hit and self._hold(hit):
                return hit, self.ctx.images.config(hit), True
        layer = layer_fn() if layer_fn else None
        from pypod import faults; faults.point("build.step")
        new_id = self._commit(new_cfg, layer, created_by, k)
        return new_id, new_cfg, False

    def _commit(self, cfg: dict, layer, created_by: str, key: str | None) -> str:
        from pypod.engine.images import store_image

        created = _iso(self.opts.timestamp)
        cfg["created"] = created
        hist = {"created": created, "created_by": created_by}
        if layer is None:
            hist["empty_layer"] = True
        else:
            cfg.setdefault("rootfs", {"type": "layers", "diff_ids": []})
            cfg["rootfs"]["diff_ids"] = list(cfg["rootfs"].get("diff_ids") or []) + [layer.diff_id]
        cfg.setdefault("history", []).append(hist)
        mt = DOCKER_MANIFEST if self.opts.format == "docker" else OCI_MANIFEST
        rec = store_image(self.ctx, cfg, [layer] if layer else [], (), manifest_media_type=mt, lease=self.lease)
        if key and self.write_cache:
            self.cache.put(key, rec.id)
        return rec.id

    # -- helpers -------------------------------------------------------------------------------
    def _layer_dirs(self, image_id: str | None) -> list[str]:
        if image_id is None:
            return []
        rec = self.ctx.images.get(image_id)
        return [str(self.ctx.images.layers.diff_dir(lid)) for lid in rec.layers]

    def _exists(self, image_id, path: str) -> bool:
        from pypod.image.build.copier import LayersFS

        try:
            return LayersFS(self._layer_dirs(image_id)).lstat(path.lstrip("/")) is not None
        except OSError:
            return True

    def _is_dir(self, image_id, path: str) -> bool:
        import stat

        from pypod.image.build.copier import LayersFS

        try:
            st = LayersFS(self._layer_dirs(image_id)).lstat(path.strip("/"))
        except OSError:
            return False
        return st is not None and stat.S_ISDIR(st.st_mode)

    def _missing_parents(self, image_id, path: str) -> list[str]:
        out = []
        parts = [p for p in path.strip("/").split("/") if p]
        for k in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:k])
            if out or not self._exists(image_id, d):
                out.append(d)
        return out

    def _unpack_tar_file(self, f):
        from pypod.engine.images import unpack_to_temp_layer

        f.seek(0)
        return unpack_to_temp_layer(self.ctx, f)

    def _dir_layer(self, path: str):
        import tarfile
        import tempfile
        import time

        with tempfile.TemporaryFile() as f:
            with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
                parts = [p for p in path.strip("/").split("/") if p]
                for k in range(1, len(parts) + 1):
                    ti = tarfile.TarInfo("/".join(parts[:k]))
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    ti.mtime = self.opts.timestamp if self.opts.timestamp is not None else int(time.time())
                    tar.addfile(ti)
            return self._unpack_tar_file(f)

    def _healthcheck(self, ins, rest: str) -> dict:
        from pypod.image.build import parser

        words = rest.split(None, 1)
        if not words:
            raise PypodError("HEALTHCHECK requires at least one argument")
        if words[0].upper() == "NONE":
            return {"Test": ["NONE"]}
        if words[0].upper() != "CMD" or len(words) < 2:
            raise PypodError(f"Unknown type \"{words[0]}\" in HEALTHCHECK (try CMD)")
        body = words[1]
        tmp = parser.Instruction("CMD", {}, body, body, ins.line)
        args = tmp.json_args()
        hc = {"Test": ["CMD"] + args if args is not None else ["CMD-SHELL", body]}
        for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod")):
            if flag in ins.flags:
                hc[key] = _go_duration_ns(ins.flags[flag])
        if "retries" in ins.flags:
            retries = ins.flags["retries"]
            try:
                hc["Retries"] = int(retries)
            except ValueError:  # Go's words, not int()'s
                raise PypodError(f'strconv.ParseInt: parsing "{retries}": invalid syntax') from None
        return hc

    # -- COPY / ADD ----------------------------------------------------------------------------
    def _owner(self, image_id, chown: str) -> tuple[int, int]:
        from pypod.image.build.copier import LayersFS

        user, _, group = chown.partition(":")
        fs = LayersFS(self._layer_dirs(image_id))

        def lookup(file: str, name: str, field: int = 2):
            p = fs.host(file)
            if p:
                with open(p, encoding="utf-8", errors="replace") as f:
                    for line in f:
                        parts = line.rstrip("\n").split(":")
                        if parts and parts[0] == name and len(parts) > field:
                            return parts
            return None

        if user.isdigit():
            uid = int(user)
            gid_default = uid
        else:
            ent = lookup("etc/passwd", user)
            if ent is None:
                raise PypodError(f"looking up UID/GID for \"{chown}\": user {user} not found in /etc/passwd")
            uid, gid_default = int(ent[2]), int(ent[3])
        if not group:
            return uid, gid_default
        if group.isdigit():
            return uid, int(group)
        ent = lookup("etc/group", group)
        if ent is None:
            raise PypodError(f"looking up UID/GID for \"{chown}\": group {group} not found in /etc/group")
        return uid, int(ent[2])

    def _copy(self, ins, cmd: str, rest: str, flags: dict, image_id, c: dict):
        import stat as stmod

        from pypod.image.build import copier, parser

        esc = self.cf.escape
        args = ins.json_args()
        if args is None:
            args = parser.words(rest, esc)
        if len(args) < 2:
            raise PypodError(f"{cmd} requires at least two arguments")
        dest, srcs = args[-1], args[:-1]
        wd = c.get("WorkingDir") or "/"
        trailing = dest.endswith("/") or dest in (".", "..") or dest.endswith("/.")
        dest = posixpath.normpath(dest if dest.startswith("/") else posixpath.join(wd, dest))
        if trailing and dest != "/":
            dest += "/"
        inline = {}
        heredoc_names = {h.name: h for h in ins.heredocs}
        plain = []
        for s in srcs:
            m = s[2:].lstrip("-").strip("\"'") if s.startswith("<<") else None
            if m and m in heredoc_names:
                h = heredoc_names[m]
                content = h.content
                if h.expand:
                    content = parser.expand(content, self._env_for_expansion({"config": c}), esc)
                target = posixpath.join(dest, m) if dest.endswith("/") else dest
                inline[target] = content
            else:
                plain.append(s)
        uid, gid = self._owner(image_id, flags["chown"]) if flags.get("chown") else (0, 0)
        chmod = None
        if flags.get("chmod"):
            try:
                chmod = int(flags["chmod"], 8)
            except ValueError:
                raise PypodError(f"invalid --chmod value {flags['chmod']!r}") from None
        urls = [s for s in plain if cmd == "ADD" and (s.startswith("http://") or s.startswith("https://"))]
        plain = [s for s in plain if s not in urls]
        multi = len(srcs) > 1 or any(copier.has_glob(s) for s in plain)
        dest_is_dir = dest.endswith("/") or self._is_dir(image_id, dest)
        try:  # the destination's directories as the image has them (a symlinked /bin is followed)
            img_fs = copier.LayersFS(self._layer_dirs(image_id))
            if dest_is_dir or multi:
                dest = "/" + img_fs.resolve(dest, follow_last=True) + "/"
            else:
                dest = "/" + img_fs.resolve(dest)
        except (OSError, copier.CopyError):
            pass
        dest = dest.replace("//", "/")
        spec = {"dest": dest, "dest_is_dir": dest_is_dir or multi, "uid": uid, "gid": gid, "chmod": chmod,
                "mtime": self.opts.timestamp, "extract": cmd == "ADD", "inline": inline,
                "now": self.opts.timestamp}
        digest_parts = [json.dumps(inline, sort_keys=True)]
        files = {}
        for u in urls:
            path, content_digest = self._download(u)
            name = posixpath.basename(u.split("?", 1)[0].rstrip("/")) or "index.html"
            target = posixpath.join(dest, name) if dest.endswith("/") or dest_is_dir else dest
            files[target] = path
            digest_parts.append(f"{u}={content_digest}")
        spec["files"] = files
        src_from = flags.get("from")
        if src_from:
            src_id = self._from_source(src_from)
            spec["layers"] = self._layer_dirs(src_id)
            spec["patterns"] = plain
            spec["sources"] = []
            digest_parts.append(f"from:{src_id}")
            runner = lambda: self._copy_from_layers(spec)  # noqa: E731
        else:
            fs = copier.HostFS(self.context_dir, self.matcher)
            try:
                spec["sources"] = copier.expand_sources(fs, plain)
            except copier.CopyError as e:
                raise PypodError(f"checking on sources under \"{self.context_dir}\": {e.message}") from None
            items = copier.plan(fs, spec["sources"], dest, spec["dest_is_dir"])
            digest_parts.append(copier.content_digest(fs, items))
            runner = lambda: self._copy_from_context(fs, spec)  # noqa: E731
        # where the files land: parents that do not exist yet are created
        land = dest if (spec["dest_is_dir"] or dest.endswith("/")) else posixpath.dirname(dest)
        if not src_from and len(spec["sources"]) == 1 and not inline and not files:
            st = copier.source_stat(copier.HostFS(self.context_dir), spec["sources"][0])
            if st is not None and stmod.S_ISDIR(st.st_mode):
                land = dest
        spec["parents"] = self._missing_parents(image_id, land.rstrip("/") or "/")
        spec["dest_exists"] = self._exists(image_id, dest.rstrip("/") or "/")
        digest = __import__("hashlib").sha256("\n".join(digest_parts).encode()).hexdigest()
        what = "file" if len(srcs) == 1 else "multi"
        created_by = f"/bin/sh -c #(nop) {cmd} {what}:{digest} in {args[-1]} "
        return runner, digest + json.dumps(spec["parents"]), created_by

    def _copy_from_context(self, fs, spec):
        import tempfile

        from pypod.image.build import copier

        with tempfile.TemporaryFile() as f:
            copier.write_tar(fs, spec, f)
            return self._unpack_tar_file(f)

    def _copy_from_layers(self, spec):
        import subprocess
        import tempfile

        from pypod.engine.images import unpack_to_temp_layer

        argv = _lean("pypod.image.build.copier", [])
        kw = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if self.ctx.rootless:
            from pypod.linux.userns import run_in_userns

            proc = run_in_userns(argv, holder_dir=self.ctx.holder_dir, **kw)
        else:
            proc = subprocess.Popen(argv, **kw)
        with tempfile.TemporaryFile() as f:
            out, err = proc.communicate(json.dumps(spec).encode())
            if proc.returncode != 0:
                msg = err.decode(errors="replace").strip().splitlines()
                raise PypodError(f"copying from another stage: {msg[-1] if msg else 'failed'}")
            f.write(out)
            f.seek(0)
            return unpack_to_temp_layer(self.ctx, f)

    def _from_source(self, name: str) -> str:
        lname = name.lower()
        for idx, res in self.results.items():
            s = self.cf.stages[idx]
            if (s.name and s.name == lname) or str(idx) == lname:
                if res.image_id is None:
                    raise PypodError(f"stage {name} has no content")
                return res.image_id
        return self._image(name).id

    def _download(self, url: str) -> tuple[str, str]:
        import hashlib
        import tempfile

        import requests

        try:
            r = requests.get(url, stream=True, timeout=60)
        except requests.RequestException as e:  # (its text names urllib3's classes)
            from pypod.image.registry import _short

            raise PypodError(f"getting {url}: {_short(e)}") from None
        if r.status_code != 200:
            raise PypodError(f"invalid response status {r.status_code}")
        h = hashlib.sha256()
        fd, path = tempfile.mkstemp(prefix="pypod-add-")
        with os.fdopen(fd, "wb") as f:
            for chunk in r.iter_content(1 << 20):
                h.update(chunk)
                f.write(chunk)
        self._tmp_files.append(path)
        return path, h.hexdigest()

    _tmp_files: list = []

    # -- RUN -----------------------------------------------------------------------------------
    def _run_argv(self, ins, c: dict) -> tuple[list[str], str, list[str]]:
        args = ins.json_args()
        run_env = [f"{k}={v}" for k, v in sorted(self.stage_args.items())
                   if k not in _env_dict(c.get("Env"))]
        if args is not None:
            argv = args
            shown = " ".join(args)
        else:
            script = ins.rest
            if ins.heredocs:
                head = ins.rest.strip()
                h = ins.heredocs[0]
                only = head.startswith("<<") and len(ins.heredocs) == 1 and len(head.split()) == 1
                if only:
                    script = h.content
                else:
                    script = ins.rest + "\n" + "".join(x.content + x.name + "\n" for x in ins.heredocs)
            argv = self.shell + [script]
            shown = " ".join(self.shell) + " " + script
        if run_env:
            shown = f"|{len(run_env)} {' '.join(run_env)} {shown}"
        return argv, shown, run_env

    def _run(self, ins, image_id, c: dict, argv: list[str], run_env: list[str]):
        import subprocess

        from pypod.engine import containers as ce
        from pypod.engine.images import unpack_to_temp_layer
        from pypod.store import owned
        from pypod.store.containers import WORK_OF

        if image_id is None:
            raise PypodError("cannot RUN on an empty (scratch) image: no shell")
        if self.opts.runtime_flags:  # podman's runtime fails a RUN on a flag it does not know (exit 1)
            raise StepFailed(f"building at STEP \"{ins.original}\": pypod's built-in OCI runtime takes no "
                             f"runtime flags: --{self.opts.runtime_flags[0].lstrip('-')}", exit_code=1)
        copts = ce.CreateOptions(image=image_id, command=argv, entrypoint="", env=list(run_env),
                                 workdir=c.get("WorkingDir") or "/", user=c.get("User") or "",
                                 network=self.opts.network, volumes=list(self.opts.volumes), pull="never",
                                 add_host=list(self.opts.add_hosts), dns=list(self.opts.dns),
                                 no_healthcheck=True, rm=False, external=True,
                                 passwd=False,  # buildah adds no passwd lines: they would land in the layer
                                 annotations=[f"{WORK_OF}={owned.me()}"],  # container prune keeps it
                                 **self.opts.run_options)
        self.out.flush()
        rec, code = ce.run(self.ctx, copts, detach=False)
        try:
            if code != 0:
                raise StepFailed(f"building at STEP \"{ins.original}\": while running runtime: exit status {code}",
                                 exit_code=code)
            upper = str(ce.store(self.ctx).dir(rec.id) / "upper")
            cmd = _lean("pypod.image.layerdiff", ["--run-mounts"])
            if self.opts.timestamp is not None:
                cmd += ["--mtime", str(self.opts.timestamp)]
            cmd.append(upper)
            kw = dict(stdout=subprocess.PIPE)
            if self.ctx.rootless:
                from pypod.linux.userns import run_in_userns

                proc = run_in_userns(cmd, holder_dir=self.ctx.holder_dir, **kw)
            else:
                proc = subprocess.Popen(cmd, **kw)
            try:
                layer = unpack_to_temp_layer(self.ctx, proc.stdout)
            finally:
                proc.stdout.close()
                rc = proc.wait()
            if rc != 0:
                raise PypodError(f"reading the changes of the RUN container (exit {rc})")
            return layer
        finally:
            ce.remove_containers(self.ctx, [rec.id], force=True)

    # -- --squash ------------------------------------------------------------------------------
    def _squash(self, image_id: str, config: dict, start: int):
        import subprocess

        from pypod.engine.images import store_image, unpack_to_temp_layer

        dirs = self._layer_dirs(image_id)[start:]
        cfg = copy.deepcopy(config)
        base_ids = list(cfg["rootfs"]["diff_ids"])[:start]
        cmd = _lean("pypod.image.layerdiff", [])
        if self.opts.timestamp is not None:
            cmd += ["--mtime", str(self.opts.timestamp)]
        if self.ctx.rootless:
            from pypod.linux.userns import run_in_userns

            proc = run_in_userns(cmd + dirs, holder_dir=self.ctx.holder_dir, stdout=subprocess.PIPE)
        else:
            proc = subprocess.Popen(cmd + dirs, stdout=subprocess.PIPE)
        try:
            layer = unpack_to_temp_layer(self.ctx, proc.stdout)
        finally:
            proc.stdout.close()
            proc.wait()
        created = _iso(self.opts.timestamp)
        cfg["rootfs"]["diff_ids"] = base_ids + [layer.diff_id]
        hist = [h for h in cfg.get("history") or []]
        keep, seen = [], 0
        for h in hist:
            if seen >= start and not h.get("empty_layer"):
                continue
            if not h.get("empty_layer"):
                seen += 1
            keep.append(h)
        keep.append({"created": created, "created_by": "/bin/sh -c #(nop) squashed"})
        cfg["history"] = keep
        cfg["created"] = created
        mt = DOCKER_MANIFEST if self.opts.format == "docker" else OCI_MANIFEST
        rec = store_image(self.ctx, cfg, [layer], (), manifest_media_type=mt, lease=self.lease)
        return rec.id, cfg


def _extract_context_tar(stream, dest: str) -> None:
    """A tarball context (stdin): safe extraction — no absolute names, no `..`, no devices."""
    import tarfile

    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for m in tar:
            name = posixpath.normpath("/" + m.name).lstrip("/")
            if not name or name == "." or not (m.isreg() or m.isdir() or m.issym()):
                continue
            path = os.path.join(dest, name)
            parent = os.path.dirname(path)
            if os.path.islink(parent) or not os.path.realpath(parent).startswith(os.path.realpath(dest)):
                continue
            os.makedirs(parent, exist_ok=True)
            if m.isdir():
                os.makedirs(path, exist_ok=True)
                os.chmod(path, (m.mode & 0o7777) | 0o700)
            elif m.issym():
                if os.path.lexists(path):
                    os.unlink(path)
                os.symlink(m.linkname, path)
            else:
                src = tar.extractfile(m)
                with open(path, "wb") as f:
                    while True:
                        b = src.read(1 << 20)
                        if not b:
                            break
                        f.write(b)
                os.chmod(path, m.mode & 0o7777)
                os.utime(path, (m.mtime, m.mtime))


def build(ctx: Context, opts: BuildOptions, *, out, stdin=None) -> str:
    """Build; returns the final image id. The steps are written to the text stream `out`."""
    import shutil
    import tempfile

    tmp_ctx = None
    try:
        context = opts.context
        text = opts.containerfile_text
        if context == "-":
            data = (stdin or sys.stdin.buffer).read()
            tmp_ctx = tempfile.mkdtemp(prefix="pypod-build-")
            import io
            import tarfile

            try:
                _extract_context_tar(io.BytesIO(data), tmp_ctx)
            except tarfile.TarError:
                if opts.file and opts.file != "-":
                    raise PypodError("reading the build context from stdin: not a tar archive") from None
                text = data.decode("utf-8", errors="replace")  # a Containerfile alone, no context
            context = tmp_ctx
        if not os.path.isdir(context):
            raise PypodError(f"stat {os.path.abspath(context)}: no such file or directory")
        if text is None:
            if opts.file == "-":
                text = (stdin or sys.stdin.buffer).read().decode("utf-8", errors="replace")
            else:
                texts = []
                for name in [opts.file, *opts.more_files]:
                    with open(find_containerfile(context, name), encoding="utf-8", errors="replace") as f:
                        texts.append(f.read())
                text = "\n".join(texts)
        if opts.format not in ("oci", "docker"):
            raise InvalidArgument(f"unrecognized image type {opts.format!r}")
        from pypod.image.auth import check_auth_file

        check_auth_file(opts.authfile)  # as podman: before any step, even a FROM scratch build
        from pypod.engine import ociruntime
        from pypod.config import engine_config

        ociruntime.check(engine_config().runtime)
        from pypod.engine.cleanup import reap_orphans

        reap_orphans(ctx)
        b = Builder(ctx, opts, out)
        b._tmp_files = []
        b.lease = ctx.images.lease()
        try:
            image_id = b.run(text, os.path.abspath(context))
        finally:
            b.lease.release()
            for p in b._tmp_files:
                try:
                    os.unlink(p)
                except OSError:
                    pass
        if opts.iidfile:
            with open(opts.iidfile, "w") as f:
                f.write("sha256:" + image_id)
        return image_id
    finally:
        if tmp_ctx:
            shutil.rmtree(tmp_ctx, ignore_errors=True)
