# The operator's image; Jobs run the same image (`dmctl job copy|sync|validate`).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY operator ./operator
COPY crds ./crds
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt ".[operator]"

FROM python:3.11-slim
COPY --from=build /opt/venv /opt/venv
# Restricted Pod Security: a fixed non-root uid; the root filesystem is mounted read-only.
RUN useradd --uid 65532 --no-create-home --shell /usr/sbin/nologin datamigration
USER 65532:65532
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
ENTRYPOINT ["dmctl"]
CMD ["operator", "run", "--all-namespaces"]
