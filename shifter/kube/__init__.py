"""Kubernetes access: loading credentials, and one small typed seam over the official client."""

from shifter.kube.client import KubeClient, ObjectRef, PatchType, load_client

__all__ = ["KubeClient", "ObjectRef", "PatchType", "load_client"]
