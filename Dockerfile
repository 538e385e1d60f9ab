# syntax=docker/dockerfile:1
# The shard server image. Build from the repository root:
#   docker build -t ngram-server:0.1.0 .
# Run (the model directory mounted read-only at /models/<name>):
#   docker run --rm -p 7000:7000 -v /data/model:/models/model:ro ngram-server:0.1.0 /models/model --shards 0,1
# See deploy/README.md for Kubernetes.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: install the project and its dependencies into a virtualenv
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY ngram ./ngram
COPY builder ./builder
COPY shard_server ./shard_server
COPY client ./client
RUN /opt/venv/bin/pip install .

# ---- runtime: the virtualenv, a non-root user, kernels compiled into the image
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid ${UID} ngram \
 && useradd --system --uid ${UID} --gid ${UID} --no-create-home --home-dir /nonexistent ngram
COPY --from=build /opt/venv /opt/venv
# NUMBA_CACHE_DIR: compiled kernels live in the image (written below, owned by the user so
# numba accepts the directory). NUMBA_CPU_NAME=generic: code for any x86-64, so the cache
# built here is valid on every node, whatever CPU the build machine had.
ENV PATH=/opt/venv/bin:$PATH \
    NUMBA_CACHE_DIR=/opt/ngram/numba-cache \
    NUMBA_CPU_NAME=generic \
    PYTHONUNBUFFERED=1 \
    NGRAM_PORT=7000
# The warm-up: build a tiny model, open it in every layout and run the server's own
# warm-up, so a new pod loads kernels instead of compiling them (~10 s) before SERVING.
RUN mkdir -p /opt/ngram/numba-cache \
 && python -m shard_server.deploy_warmup \
 && chown -R ngram:ngram /opt/ngram/numba-cache
USER 10001:10001
# Models are mounted here read-only (a volume or an init container's emptyDir).
VOLUME ["/models"]
EXPOSE 7000 9100
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-m", "shard_server.deploy_health"]
ENTRYPOINT ["ngram", "serve"]
CMD ["--help"]
