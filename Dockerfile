# The simusage application image: `simusage` with every subcommand, nothing to build at run time.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY simusage ./simusage
COPY app ./app
COPY ingest ./ingest
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# The final stage has wheels installed and no compilers, caches or sources.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app simusage
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY data/inventory.json /app/data/inventory.json
USER simusage
ENV PYTHONUNBUFFERED=1
EXPOSE 8000 9108
CMD ["simusage", "serve"]
