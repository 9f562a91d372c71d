"""pypod: a daemonless, rootless container engine with podman's command line."""

__version__ = "0.1.0"
# The Docker/podman REST API version we speak (podman 4.x reports 4.x.y here).
API_VERSION = "4.3.1"
