# ftbot production image: `ftbot serve` as a non-root user, /healthz checked by Docker.
# Build: docker build -t ftbot .      Run: docker run --env-file .env -p 3000:3000 ftbot
FROM python:3.11-slim AS base

# Extras to install: "" for the Azure backend only (small image); "local" adds the local LoRA backend
# (PyTorch CPU); "mlflow" adds training metrics from Azure ML runs.
ARG EXTRAS=""
# The lock pins torch==…+cpu, which only PyTorch's CPU index serves (PyPI's torch is a multi-GB CUDA build).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FTBOT_DATA_DIR=/data \
    HF_HUB_OFFLINE=1

RUN groupadd --system ftbot && useradd --system --gid ftbot --home-dir /app --shell /usr/sbin/nologin ftbot

WORKDIR /app

# Dependencies first, in their own cached layer: only pyproject.toml and lock changes invalidate it.
# What `ftbot serve` needs (plus EXTRAS), at the versions CI tested: requirements/lock.txt constrains
# every package it names (dev tools are locked there too, but nothing here asks for them).
COPY pyproject.toml README.md ./
COPY requirements/lock.txt ./requirements/lock.txt
RUN mkdir -p commands bot && touch commands/__init__.py bot/__init__.py \
    && pip install --extra-index-url "$TORCH_INDEX_URL" -c requirements/lock.txt ".${EXTRAS:+[$EXTRAS]}" \
    && pip uninstall -y ftbot

# Then the code.
COPY commands ./commands
COPY bot ./bot
RUN pip install --no-deps . && mkdir -p /data && chown ftbot:ftbot /data

USER ftbot
VOLUME ["/data"]
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status == 200 else 1)"

ENTRYPOINT ["ftbot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]
