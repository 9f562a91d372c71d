"""Each PypodError knows podman's exit code and the HTTP status the API answers with."""

import importlib

import pytest

from pypod.errors import PypodError

# The modules that define PypodError subclasses of their own.
MODULES = ("pypod.errors", "pypod.engine.volumes", "pypod.engine.networks", "pypod.engine.cp",
           "pypod.engine.build", "pypod.runtime.launch", "pypod.image.unpack", "pypod.image.archive",
           "pypod.image.build.copier", "pypod.image.build.parser", "pypod.cli.params")


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


_COMPOSE: set = set()


def test_statuses_follow_the_kind_of_error():
    for m in MODULES:
        importlib.import_module(m)
    from pypod.compose.errors import ComposeError

    global _COMPOSE
    _COMPOSE = {c.__name__ for c in _subclasses(ComposeError)} | {"ComposeError"}
    seen = {c.__name__: c.http_status for c in _subclasses(PypodError)}
    assert {"ContainerNotFound", "ImageNotFound", "VolumeNotFound", "NetworkNotFound", "ParseError",
            "Conflict", "NetworkExists", "StepFailed"} <= set(seen)
    for name, status in seen.items():
        if name == "CommandNotFound":  # the container's command (exit 127): a failed start, 500
            assert status == 500
        elif name.endswith("NotFound") or name == "RemoveMissing":
            assert status == 404, name
        elif name.endswith(("InUse", "Exists", "StateImproper")) or name == "Conflict":
            assert status == 409, name
        elif name in ("InvalidArgument", "UsageError", "ParseError") or name in _COMPOSE:
            # (a compose file the user wrote: a bad request)
            assert status == 400, name
        else:
            assert status in (401, 500), name


@pytest.fixture
def ctx(tmp_path):
    from pypod.engine.context import Context

    (tmp_path / "rootfs").mkdir()
    return Context(tmp_path / "storage", tmp_path / "run", rootless=True)


def test_a_missing_image_is_404_and_exit_125(ctx):
    from pypod.engine import containers as ce
    from pypod.errors import ImageNotFound

    with pytest.raises(ImageNotFound) as e:
        ce.create(ctx, ce.CreateOptions(image="localhost:1/nothing-here", pull="never", command=["true"]))
    assert (e.value.message, e.value.exit_code, e.value.http_status) == (
        "localhost:1/nothing-here: image not known", 125, 404)


def test_a_name_in_use_is_409_and_exit_125(ctx, tmp_path):
    from pypod.engine import containers as ce

    opts = dict(image=str(tmp_path / "rootfs"), rootfs=True, command=["true"], name="web")
    first = ce.create(ctx, ce.CreateOptions(**opts))
    with pytest.raises(PypodError) as e:
        ce.create(ctx, ce.CreateOptions(**opts))
    assert (e.value.exit_code, e.value.http_status) == (125, 409)
    assert e.value.message == (f"creating container storage: the container name \"web\" is already in use by "
                               f"{first.id}. You have to remove that container to be able to reuse that name: "
                               "that name is already in use")
