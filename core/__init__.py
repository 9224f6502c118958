"""jre: plugin-based toolkit for reasoning-distillation experiments on Japanese-English LLMs."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from jre.hookspecs import hookimpl

try:
    __version__ = _version("jre")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+src"

__all__ = ["__version__", "hookimpl"]
