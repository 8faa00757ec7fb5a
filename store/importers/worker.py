"""Entry point of the import worker process (see tau2.py): `python -m store.importers.worker
PATH DISPLAY RUN_ID NEXT_EPISODE NEXT_STEP` pickles the file's events to stdout."""

import sys

from store.importers.tau2 import _worker_main

if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
