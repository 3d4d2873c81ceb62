# jsm-autopilot as a container image. Build it with deploy/build-image.sh, which first builds the
# wheelhouse for this base's own Python (so this build needs no package index) and, with
# --local-base, the base itself from Debian's packages where no registry can be reached.
ARG BASE=python:3.11-slim-bookworm

# Installs the wheelhouse into a virtual environment; only that environment reaches the runtime.
FROM ${BASE} AS install
LABEL jsm-autopilot.stage=install
COPY wheelhouse/ /tmp/wheelhouse/
RUN python3 -m venv /opt/jsm-autopilot \
 && /opt/jsm-autopilot/bin/pip install --no-index --find-links /tmp/wheelhouse --no-compile --disable-pip-version-check jsm-autopilot \
 && /opt/jsm-autopilot/bin/python -m compileall -q /opt/jsm-autopilot/lib \
 && /opt/jsm-autopilot/bin/pip uninstall -y -q pip \
 && /opt/jsm-autopilot/bin/jsm-autopilot --version

FROM ${BASE}
LABEL org.opencontainers.image.title=jsm-autopilot \
      org.opencontainers.image.description="Runs a Jira Service Management project's service-desk process"
ARG UID=10001
RUN (getent group jsm-autopilot || groupadd --system --gid ${UID} jsm-autopilot) \
 && useradd --system --uid ${UID} --gid jsm-autopilot --home-dir /var/lib/jsm-autopilot --no-create-home --shell /usr/sbin/nologin jsm-autopilot \
 && mkdir -p /etc/jsm-autopilot /var/lib/jsm-autopilot \
 && chown jsm-autopilot:jsm-autopilot /var/lib/jsm-autopilot
COPY --from=install /opt/jsm-autopilot /opt/jsm-autopilot
COPY app.yaml /etc/jsm-autopilot/app.yaml.example
# Settings are mounted at /etc/jsm-autopilot/app.yaml; secrets (JIRA_*, JSM_AUTOPILOT_WEBHOOK_SECRET,
# JSM_AUTOPILOT_API_TOKEN, PGPASSWORD) come from the environment. The store is PostgreSQL, so that
# replicas share it; point JSM_AUTOPILOT_DB elsewhere to change that (sqlite:////var/lib/jsm-autopilot/events.db
# for a single container with a volume).
ENV PATH=/opt/jsm-autopilot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    XDG_STATE_HOME=/var/lib \
    JSM_AUTOPILOT_CONFIG=/etc/jsm-autopilot/app.yaml \
    JSM_AUTOPILOT_DB=postgresql+psycopg://jsm_autopilot@postgres:5432/jsm_autopilot \
    JSM_AUTOPILOT_PORT=8080
USER jsm-autopilot
WORKDIR /var/lib/jsm-autopilot
EXPOSE 8080
# Liveness only: the process answers. Readiness (/readyz) is for load balancers and Kubernetes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('JSM_AUTOPILOT_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["jsm-autopilot"]
CMD ["serve", "--host", "0.0.0.0"]
