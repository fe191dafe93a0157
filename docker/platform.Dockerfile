# syntax=docker/dockerfile:1
# The platform image: Dagster code server, webserver and daemon, the migrations one-shot, the
# bundle import one-shot and the collector bot all run from it with different commands
# (docker/bin/*, the same commands `make up` runs). Build from the repository root:
#   docker build -f docker/platform.Dockerfile -t pwr-platform .
#
# Stage 1 resolves nothing: `uv sync --locked` installs exactly uv.lock (it fails instead of
# re-resolving when pyproject.toml and uv.lock disagree), without the dev group.
FROM python:3.11.14-slim-bookworm AS build

# The same pinned uv as the Makefile (UV_VERSION there; a test keeps them equal).
RUN pip install --no-cache-dir "uv==0.13.9"
ENV UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/pwr/.venv
WORKDIR /src

# Dependencies first (a layer that only changes with the lock file) ...
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
# ... then the package itself, installed non-editable into the same environment.
COPY pwr_platform ./pwr_platform
RUN uv sync --locked --no-dev --no-editable


# Stage 2: the runtime – the virtualenv, the entrypoint scripts, no build tools, no secrets.
FROM python:3.11.14-slim-bookworm AS runtime

RUN groupadd --system --gid 10001 pwr \
    && useradd --system --uid 10001 --gid pwr --home-dir /var/lib/pwr --shell /usr/sbin/nologin pwr

COPY --from=build /opt/pwr/.venv /opt/pwr/.venv
COPY docker/bin /opt/pwr/docker/bin
COPY docker/workspace-docker.yaml /opt/pwr/docker/workspace-docker.yaml

ENV PATH=/opt/pwr/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PWR_HOME=/var/lib/pwr \
    DAGSTER_HOME=/var/lib/pwr/dagster_home

# dagster.yaml is written by the package itself (the same instance config `make up` writes):
# storage URL from PWR_DAGSTER_STORAGE_URL at run time, never a password in the file.
# dagster_home/storage (compute logs) and spool/ (the bot's durable spool) are volumes.
RUN python -c "from pwr_platform.runtime.dagster_instance import write_instance; write_instance()" \
    && mkdir -p /var/lib/pwr/dagster_home/storage /var/lib/pwr/spool \
    && chown -R pwr:pwr /var/lib/pwr

USER pwr
WORKDIR /opt/pwr
# No default command: every compose service names its own docker/bin script.
CMD ["pwr", "--help"]
