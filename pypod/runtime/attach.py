"""Attaching to a running container: the supervisor's attach socket and its client.

The supervisor listens on CONTAINER_DIR/attach (a unix socket; the directory is the user's, 0700)
and talks in frames: one kind byte, a 4-byte big-endian length, the payload.
  supervisor → client: OUT (1) stdout bytes, ERR (2) stderr bytes, EXIT (5) the exit code (ASCII)
  client → supervisor: IN (0) stdin bytes, RESIZE (3) "rows cols", CLOSE_IN (4) end of stdin
Every attached client gets all output from the moment it attached (several may read at once).
A client that stops reading never holds the container up: its backlog waits in the supervisor
(runtime/outlet.py) and, past a bound, the supervisor closes the connection without an EXIT frame:
the client then fails (attach() raises ConnectionResetError) rather than end as if all was well.

Detach keys (podman's `--detach-keys`, default ctrl-p,ctrl-q) are matched in the input stream by
DetachMatcher: the supervisor does it for `run -it`/`start -ai`, the client for `attach`.
This module stays lean: the supervisor imports it.
"""

from __future__ import annotations

import os

IN, OUT, ERR, RESIZE, CLOSE_IN, EXIT = 0, 1, 2, 3, 4, 5
SOCKET = "attach"
DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


class DetachKeysError(ValueError):
    pass


def parse_detach_keys(spec: str | None) -> bytes:
    """podman's syntax: comma-separated single characters or ctrl-<c> (a-z @ [ \\ ] ^ _);
    "" disables detaching (b"")."""
    if spec is None:
        spec = DEFAULT_DETACH_KEYS
    out = bytearray()
    if spec == "":
        return b""
    for key in spec.split(","):
        k = key.strip()
        if len(k) == 1:
            out.append(ord(k))
        elif k.lower().startswith("ctrl-") and len(k) == 6:
            c = k[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
            else:
                raise DetachKeysError(f"invalid detach keys: Unknown character: '{k}'")
        else:
            raise DetachKeysError(f"invalid detach keys: Unknown character: '{k}'")
    return bytes(out)


class DetachMatcher:
    """Feed input; get back the bytes to pass on and whether the sequence was typed. A partial
    match is held back until it completes or breaks (then passed on)."""

    def __init__(self, keys: bytes):
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            self.held += bytes([b])
            if self.keys.startswith(self.held):
                if len(self.held) == len(self.keys):
                    self.held = b""
                    return bytes(out), True
                continue
            # broken: pass on what was held, retrying its tail as a new start
            while self.held and not self.keys.startswith(self.held):
                out.append(self.held[0])
                self.held = self.held[1:]
        return bytes(out), False


def frame(kind: int, payload: bytes = b"") -> bytes:
    return bytes([kind]) + len(payload).to_bytes(4, "big") + payload


# No frame is bigger (both sides send one read's worth, 64 KiB): a length past this is a broken or
# hostile peer, which must not make the other side buffer gigabytes waiting for the rest.
MAX_FRAME = 1 << 20


class FrameError(ConnectionError):
    pass


class FrameReader:
    """Accumulates bytes from a stream socket; yields complete (kind, payload) frames. Raises
    FrameError on a frame longer than MAX_FRAME."""

    def __init__(self):
        self.buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out = []
        while len(self.buf) >= 5:
            n = int.from_bytes(self.buf[1:5], "big")
            if n > MAX_FRAME:
                raise FrameError(f"protocol error: a frame of {n} bytes (at most {MAX_FRAME})")
            if len(self.buf) < 5 + n:
                break
            out.append((self.buf[0], self.buf[5:5 + n]))
            self.buf = self.buf[5 + n:]
        return out


def _in_dir(cdir: str, fn):
    """Run fn() with the container dir as cwd: socket paths over 108 bytes are common here."""
    old = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.chdir(cdir)
        return fn()
    finally:
        os.fchdir(old)
        os.close(old)


def listen(cdir: str):
    """The supervisor's listening socket (non-blocking, CLOEXEC; _socket: `import socket` is
    too slow for the supervisor). accept_fd() takes a client."""
    import _socket

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)

    def bind():
        try:
            os.unlink(SOCKET)
        except FileNotFoundError:
            pass
        s.bind(SOCKET)
        os.chmod(SOCKET, 0o600)
    _in_dir(cdir, bind)
    s.listen(16)
    s.setblocking(False)
    return s


def accept_fd(listener) -> int:
    """A connected client's fd (non-blocking: a client that stops reading must never hold the
    supervisor up; CLOEXEC), or -1."""
    try:
        fd, _addr = listener._accept()
    except OSError:
        return -1
    os.set_blocking(fd, False)
    os.set_inheritable(fd, False)
    return fd


def connect(cdir: str):
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    _in_dir(cdir, lambda: s.connect(SOCKET))
    return s


# ---------------------------------------------------------------- the client (`pypod attach`)

_PROXIED = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


def attach(cdir: str, *, tty: bool, stdin: bool, detach_keys: bytes, sig_proxy: bool = True,
           kill=None, sock=None):
    """Relay our stdio to the container until it exits (→ its exit code) or we detach (→ None).
    sig_proxy: signals we get go to the container through kill(signum).
    sock: already connect()ed (by a caller holding the container's lock).
    Raises OSError when the container has no attach socket (not running)."""
    import select
    import signal

    if sock is None:
        sock = connect(cdir)
    sock.setblocking(False)  # we keep reading the output while the container takes our input
    fd = sock.fileno()
    matcher = DetachMatcher(detach_keys)
    raw_attrs = None
    stdin_tty = stdin and os.isatty(0)
    if tty and stdin_tty:
        import termios
        import tty as ttymod

        raw_attrs = termios.tcgetattr(0)
        ttymod.setraw(0, termios.TCSANOW)  # keep what was typed ahead
    old_winch = None

    outq = bytearray()  # frames the supervisor has not taken yet: no more stdin is read meanwhile
    p = select.poll()
    reading_stdin = stdin
    polling_stdin = False

    def send(kind, payload=b""):
        outq.extend(frame(kind, payload))
        flush()

    def flush():
        nonlocal polling_stdin
        if outq:
            try:
                del outq[:sock.send(outq)]
            except BlockingIOError:
                pass
            except OSError:  # the supervisor is gone: the read side sees it
                outq.clear()
        p.register(fd, select.POLLIN | (select.POLLOUT if outq else 0))
        want = reading_stdin and not outq
        if want != polling_stdin:
            if want:
                p.register(0, select.POLLIN)
            else:
                p.unregister(0)
            polling_stdin = want

    def resize(*_a):
        from pypod.linux import terminal

        for f in (0, 1, 2):
            if os.isatty(f):
                ws = terminal.get_winsize(f)
                if ws:
                    send(RESIZE, f"{ws[0]} {ws[1]}".encode())
                return

    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    old_wakeup = signal.set_wakeup_fd(wake_w)
    if tty:
        old_winch = signal.signal(signal.SIGWINCH, lambda *a: None)
        resize()
    proxied = {getattr(signal, n) for n in _PROXIED} if sig_proxy and kill else set()
    old_handlers = {s: signal.signal(s, lambda *a: None) for s in proxied}
    reader = FrameReader()
    p.register(wake_r, select.POLLIN)
    flush()
    code = None
    detached = False
    try:
        while True:
            done = False
            for f, ev in p.poll():
                if f == wake_r:
                    try:
                        sigs = os.read(wake_r, 64)
                    except BlockingIOError:
                        sigs = b""
                    if tty and signal.SIGWINCH in sigs:
                        resize()
                    for s in set(sigs) & proxied:
                        try:
                            kill(s)
                        except Exception:  # noqa: BLE001 - the container may be gone
                            pass
                elif f == 0:
                    data = os.read(0, 65536)
                    if not data:
                        reading_stdin = False
                        send(CLOSE_IN)
                        continue
                    data, hit = matcher.feed(data) if stdin_tty else (data, False)
                    if data:
                        send(IN, data)
                    if hit:
                        detached = done = True
                        break
                elif f == fd:
                    if ev & select.POLLOUT:
                        flush()
                        if not ev & ~select.POLLOUT:
                            continue
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        done = True
                        break
                    for kind, payload in reader.feed(data):
                        if kind in (OUT, ERR):
                            out = 1 if kind == OUT else 2
                            while payload:
                                payload = payload[os.write(out, payload):]
                        elif kind == EXIT:
                            code = int(payload or b"0")
                            done = True
            if done:
                break
    finally:
        if raw_attrs is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, raw_attrs)
        signal.set_wakeup_fd(old_wakeup)
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
        for s, h in old_handlers.items():
            signal.signal(s, h)
        os.close(wake_r)
        os.close(wake_w)
        sock.close()
    if detached:
        return None
    if code is None:
        import errno

        raise ConnectionResetError(
            errno.ECONNRESET, "the connection was closed before the container's exit (a client "
            "that falls too far behind its output is disconnected; `logs` has all of it)")
    return code
