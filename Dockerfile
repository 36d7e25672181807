# kflow itself in a container: `docker build -t kflow .`, then
#   docker run --rm -v "$PWD/samples:/flows:ro" -p 9464:9464 kflow \
#     run /flows/get_detailed_order.yaml --metrics-port 9464 --metrics-address 0.0.0.0 --log-format json
#
# NOT EXERCISED: the machine kflow is developed and tested on has no Docker engine, so this
# image has never been built or run by kflow's tests. Treat it as an example (see
# docs/production.md); the commands it runs are the ones the tests run.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what `pip install .` needs: the package and its metadata.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kflow ./kflow
RUN pip install . && rm -rf /src

# A non-root user; positions kept by CDC triggers (and the execution history) go to its
# state directory: mount a volume there to keep them across containers.
RUN useradd --system --uid 10001 --create-home --home-dir /home/kflow kflow
USER kflow
WORKDIR /home/kflow
ENV KFLOW_STATE_DIR=/home/kflow/state

# The port the examples give --metrics-port (kflow serves nothing unless asked).
EXPOSE 9464

# kflow is the first process: it stops cleanly on SIGTERM (docker stop) by itself.
ENTRYPOINT ["kflow"]
CMD ["--help"]
