"""Kubernetes YAML from pypod's containers and volumes (`pypod kube generate`), podman's mapping.

names.py: Kubernetes names from pypod's; generate.py: the pure mapping of inspect data to Kubernetes
objects (plain dicts); collect.py: what the mapping needs, read through the engine; dump.py: YAML.
"""
