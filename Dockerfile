# syntax=docker/dockerfile:1
# pillarstream: one image for every process (receiver, workers, jobs); the command picks the process,
# e.g. `docker run IMAGE worker warehouse`. The last stage is the default build target.

# --- build: a virtualenv with the dependencies and the package -----------------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# Dependencies first, from pyproject.toml alone, so editing code does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --upgrade pip \
    && pip install -r /tmp/requirements.txt

# The package itself (.dockerignore decides what the context holds). Installed in place (editable)
# at the same path as in the runtime stage, so configs/ and the SQL files are found exactly where
# they are in the repository.
COPY . ./
RUN pip install --no-deps -e . \
    && python -m compileall -q /app

# --- superset: the dashboards server, with the Postgres driver the official image leaves out -----
FROM apache/superset:6.1.0 AS superset
USER root
RUN pip install --no-cache-dir psycopg2-binary==2.9.10
USER superset

# --- runtime: the same virtualenv and code, no build tools, not root -----------------------------
FROM python:3.11-slim-bookworm AS runtime
# tini reaps children and forwards signals, so gunicorn and Faust shut down cleanly on SIGTERM.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 pillarstream \
    && useradd --system --uid 10001 --gid pillarstream --home-dir /var/lib/pillarstream \
        --create-home --shell /usr/sbin/nologin pillarstream

COPY --from=build /opt/venv /opt/venv
# Code stays owned by root: the process can read it but not change it.
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PILLARSTREAM_DATA_DIR=/var/lib/pillarstream \
    PILLARSTREAM_LOG_FORMAT=json

# A numeric user, so orchestrators that require a non-root user can verify it without /etc/passwd.
USER 10001:10001
EXPOSE 8080

# The receiver's liveness; worker and job containers override or disable it (docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

ENTRYPOINT ["tini", "--", "pillarstream"]
CMD ["receiver", "--bind", "0.0.0.0:8080"]
