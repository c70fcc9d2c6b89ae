# kbgraph as a container: `docker build -t kbgraph .`, then `docker run kbgraph <command> …`
# (the entry point is the kbgraph command line; docker-compose.yml runs schema apply, snapshot, sync).
FROM python:3.12-slim

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY kbgraph ./kbgraph
COPY mappings ./mappings
# PyMySQL[rsa] (a dependency) brings cryptography, for MySQL 8's caching_sha2_password login without TLS
RUN pip install . && rm -rf /src

# mappings/ is the default mapping folder (docker-compose.yml mounts the checkout's over it);
# /state holds what must outlive the container (publish's position file)
WORKDIR /work
COPY mappings ./mappings
RUN useradd --uid 10001 --no-create-home kbgraph && mkdir /state && chown kbgraph /state
USER kbgraph
ENTRYPOINT ["kbgraph"]
CMD ["--help"]
