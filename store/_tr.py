import os
import time


def tr(what):
    with open("/tmp/s21otel/trace.log", "a") as f:
        f.write(f"{time.time():.3f} {os.getpid()} cpu={time.process_time():.3f} {what}\n")
