"""The exec path's launcher: ``python -I -S boot.py REQUEST_JSON`` started (as root, or
under ``unshare --user`` when not) for one run, usually as PID 1 of a PID namespace made
by ``unshare --pid --fork``. It runs :func:`launch.start` with the fds the request names
(inherited from the evaluator) and the evaluator's lifeline pipe.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script dir out

import launch  # noqa: E402  # type: ignore[import-not-found]


def main() -> None:
    req = json.loads(sys.argv[1])
    launch.start(req, dict(req["fds"]), req.get("life", -1))


if __name__ == "__main__":
    main()
