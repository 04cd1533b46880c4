"""Opens a study journal and holds it (its writer's lock) until killed."""

from __future__ import annotations

import sys
import time

import ferrotune as ft

if __name__ == "__main__":
    study = ft.Study(ft.RandomSearch({"x": ft.Float(0, 1)}, seed=0), storage=sys.argv[1])
    print("ready", flush=True)
    time.sleep(60)
