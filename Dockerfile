# syntax=docker/dockerfile:1
# shifter's Job image: `docker build -t shifter:dev .`
#
# Stage 1 builds the project's wheel and wheels for its dependencies; stage 2 installs
# only those wheels (no compiler, no sources, no pip cache) and runs as uid 65532.
# The image writes nothing at runtime: bytecode is compiled at install time and
# PYTHONDONTWRITEBYTECODE stops Python writing more, so it runs with
# readOnlyRootFilesystem: true (HOME points at /tmp, an emptyDir in the Job).
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN pip install "build>=1.2"
COPY pyproject.toml README.md ./
COPY shifter ./shifter
RUN python -m build --wheel --outdir /dist . \
 && pip wheel --wheel-dir /wheels /dist/*.whl

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="shifter" \
      org.opencontainers.image.description="Blue/green progressive traffic shifting on Kubernetes, gated by Prometheus SLOs, with instant revert." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp
# Install from the builder's wheels only (no index), then drop pip: nothing to install later.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels shifter \
 && pip uninstall --yes pip \
 && groupadd --system --gid 65532 shifter \
 && useradd --system --uid 65532 --gid 65532 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin shifter
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["shifter"]
CMD ["--help"]
