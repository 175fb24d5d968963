# Growmies bot image. Used by docker-compose.yml (service "bot"); also runs on its own:
#   docker build -t growmies .
#   docker run --rm -e DISCORD_TOKEN=... growmies            # = growmies run (SQLite in /app/data)
#   docker run --rm growmies doctor                           # any other subcommand
FROM python:3.12-slim

# GROWMIES_HOME: where growmies looks for .env and keeps data/ (default SQLite in /app/data).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GROWMIES_HOME=/app

# Unprivileged user; it owns only /app/data (the default SQLite location).
RUN groupadd --system --gid 10001 growmies \
    && useradd --system --uid 10001 --gid growmies --home-dir /app --shell /usr/sbin/nologin growmies

WORKDIR /app

# Project metadata first, then the code: a code change does not invalidate the base layers.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY plugins ./plugins

RUN pip install . \
    && mkdir -p /app/data \
    && chown growmies:growmies /app/data

USER growmies

# Every app's migrations ship inside the installed packages (found with importlib.resources),
# so `growmies migrate` works from any working directory.
ENTRYPOINT ["growmies"]
CMD ["run"]
