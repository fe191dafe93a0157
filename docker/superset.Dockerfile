# syntax=docker/dockerfile:1
# The Superset image: Superset in its own virtualenv from superset/requirements.lock (its own
# pinned constraints, every package with its hash; Superset 6.1 needs SQLAlchemy < 2, the platform
# 2.x, so the two never share an environment), plus superset/superset_config.py and the asset
# bundle. Build from the repository root:
#   docker build -f docker/superset.Dockerfile -t pwr-superset .
FROM python:3.11.14-slim-bookworm AS build

# The same pinned uv as the Makefile (a test keeps them equal).
RUN pip install --no-cache-dir "uv==0.13.9"
ENV UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never
RUN uv venv /opt/superset/.venv --python /usr/local/bin/python3.11
COPY superset/requirements.lock /tmp/requirements.lock
# Exactly the lock, hashes required (the same command as `make superset-install`). Two locked
# packages ship only as pure-Python sdists (odfpy, wtforms-json): they build without a compiler.
RUN VIRTUAL_ENV=/opt/superset/.venv uv pip sync --require-hashes /tmp/requirements.lock


FROM python:3.11.14-slim-bookworm AS runtime

RUN groupadd --system --gid 10002 superset \
    && useradd --system --uid 10002 --gid superset --home-dir /var/lib/superset --create-home \
        --shell /usr/sbin/nologin superset

COPY --from=build /opt/superset/.venv /opt/superset/.venv
COPY superset /opt/superset/superset
COPY docker/bin/superset-init docker/bin/superset-server docker/bin/healthcheck-http /opt/superset/docker/bin/

ENV PATH=/opt/superset/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SUPERSET_HOME=/var/lib/superset \
    SUPERSET_CONFIG_PATH=/opt/superset/superset/superset_config.py \
    FLASK_APP="superset.app:create_app()"

USER superset
WORKDIR /var/lib/superset
EXPOSE 8088
CMD ["/opt/superset/docker/bin/superset-server"]
