# Crate: one image for every service (web, worker, scheduler, migrate); compose picks the command.

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PIP_NO_CACHE_DIR=1
RUN pip install uv==0.13.9
WORKDIR /app
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY piccolo_conf.py ./
COPY web ./web
COPY services ./services
COPY tasks ./tasks
COPY templates ./templates
COPY static ./static
RUN uv sync --locked --no-dev

FROM python:3.11-slim
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --uid 10001 --home-dir /app crate
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /app/data && chown crate /app/data
USER crate
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3).status == 200 else 1)"
CMD ["crate", "serve", "--host", "0.0.0.0", "--workers", "4"]
