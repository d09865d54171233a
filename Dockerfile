# Warroom: `docker build -t warroom . && docker run -p 3000:3000 --env-file .env warroom`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /app warroom \
    && mkdir -p /data && chown warroom /data

COPY playbooks ./playbooks
USER warroom
ENV HOST=0.0.0.0 PORT=3000 DATABASE_URL=sqlite:////data/warroom.db PLAYBOOKS_DIR=/app/playbooks \
    SANDBOX_STATE_FILE=/data/warroom-sandbox.json
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=2)"
CMD ["warroom", "serve"]
