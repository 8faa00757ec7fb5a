"""Entry point of the OpenTelemetry import's worker process (see otel._Worker):
`python -m store.importers.otel_worker PATH TMPDIR MID`."""

import sys

from store.importers.otel import worker_main

if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
