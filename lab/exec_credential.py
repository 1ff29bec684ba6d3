#!/usr/bin/env python3
"""A kubectl exec credential plugin for the lab: prints an ExecCredential whose token is
read from the file named by ``LAB_TOKEN_FILE`` (standard library only, run by path).

The kubeconfig the lab writes (``kubeconfig-exec``) names it in its ``exec`` stanza, the
way cloud kubeconfigs name `aws eks get-token` or `gke-gcloud-auth-plugin`
(client.authentication.k8s.io/v1, ``interactiveMode: Never``).
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    path = os.environ.get("LAB_TOKEN_FILE", "")
    try:
        with open(path) as f:
            token = f.read().strip()
    except OSError as exc:
        print(f"lab exec credential: cannot read LAB_TOKEN_FILE {path!r}: {exc.strerror}",
              file=sys.stderr)
        return 1
    info = json.loads(os.environ.get("KUBERNETES_EXEC_INFO") or "{}")
    api_version = info.get("apiVersion") or "client.authentication.k8s.io/v1"
    print(json.dumps({"apiVersion": api_version, "kind": "ExecCredential",
                      "status": {"token": token}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
