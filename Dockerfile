# syntax=docker/dockerfile:1
# itdesk: build a wheel in one stage, run it as a non-root user in the next.

FROM python:3.11-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends gcc make \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY skills ./skills
COPY verification ./verification
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS run
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    ITDESK_HOST=0.0.0.0 ITDESK_PORT=8080 ITDESK_DATA_DIR=/var/lib/itdesk \
    ITDESK_WEB_CHAT=false
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin itdesk \
    && mkdir -p /var/lib/itdesk && chown itdesk /var/lib/itdesk
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
COPY --chown=itdesk policies ./policies
COPY --chown=itdesk prompts ./prompts
COPY --chown=itdesk knowledge ./knowledge
COPY --chown=itdesk examples ./examples
USER itdesk
EXPOSE 8080
VOLUME ["/var/lib/itdesk"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=120s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"ITDESK_PORT\"]}/healthz')"
ENTRYPOINT ["itdesk"]
CMD ["serve"]
