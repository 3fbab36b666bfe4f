# The image of every hub and Airflow process in docker-compose.yml: the project and its locked dependencies.
# dags/, mappings/ and config/ are mounted at run time (see docker-compose.yml), so changing an exchange needs
# no new image. The simulators (sandbox/) stay out: they are for the tests and the demo of a dev checkout.
FROM python:3.11-slim

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    HUB_HOME=/opt/airflow/hub

# fbclient: the Firebird client library firebird-driver loads, for CRMs kept in Firebird (docs/crm.md)
RUN apt-get update \
 && apt-get install -y --no-install-recommends libfbclient2 \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /opt/hub
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY hub ./hub
COPY connectors ./connectors
COPY airflow_hub ./airflow_hub
# Out-of-tree connector packages (docs/connectors.md): `--build-arg EXTRA_PACKAGES="hub-connector-prices==1.2.0"`,
# and whatever config/extra-requirements.txt lists (packages under plugins/ included), after the locked sync
ARG EXTRA_PACKAGES=""
COPY config/extra-requirements.txt ./config/extra-requirements.txt
COPY plugins ./plugins
RUN uv sync --frozen --no-dev \
 && if grep -qvE '^[[:space:]]*(#|$)' config/extra-requirements.txt; then \
      PROJECT_ROOT=/opt/hub uv pip install --python /opt/venv/bin/python -r config/extra-requirements.txt; fi \
 && if [ -n "$EXTRA_PACKAGES" ]; then uv pip install --python /opt/venv/bin/python $EXTRA_PACKAGES; fi \
 && useradd --uid 50000 --create-home --home-dir /opt/airflow hub \
 && mkdir -p /opt/airflow/logs /opt/airflow/auth /opt/airflow/hub \
 && chown -R hub /opt/airflow

USER hub
