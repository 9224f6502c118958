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
TYPE_CHECKING = False  # true to the type checker only (the boot path imports no typing)

if TYPE_CHECKING:  # the same module, as the type checker finds it in the package
    from jre.lib.sandbox import launch
else:  # a script with its folder on sys.path: the sibling loads as a top-level module
    import launch


def main() -> None:
    req = json.loads(sys.argv[1])
    launch.start(req, dict(req["fds"]), req.get("life", -1))


if __name__ == "__main__":
    main()
