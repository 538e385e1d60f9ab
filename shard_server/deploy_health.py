"""`python -m shard_server.deploy_health [ADDRESS]`: exit 0 when the server answers SERVING.

The container image's HEALTHCHECK (Docker has no native gRPC probe; Kubernetes does, and
the manifests use that). ADDRESS defaults to 127.0.0.1:$NGRAM_PORT (7000).
"""
from __future__ import annotations

import os
import sys

from ngram.limits import DEPLOY_GRPC_PORT


def main(argv: list[str]) -> int:
    from shard_server.cluster import health_status

    address = argv[0] if argv else f"127.0.0.1:{os.environ.get('NGRAM_PORT', DEPLOY_GRPC_PORT)}"
    state = health_status(address, timeout=3.0)
    print(f"{address}: {state}")
    return 0 if state == "SERVING" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
