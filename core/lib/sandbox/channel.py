"""The narrow channel between a checker and the candidate it tests, in two processes.

Only plain data crosses: ``None``, bools, ints, floats (``inf`` and ``nan`` included),
complex numbers, strings, bytes, and tuples, lists, sets, frozensets and dicts of those.
A value is written as Python literal text and read back by a strict parser of that
subset (no names, calls or attributes beyond ``float('inf')``-style constants and empty
``set()``/``frozenset()``), so nothing the candidate sends can run code or bring an
object of its own (an ``__eq__`` that is always true, say) into the checker. Each
message is a 4-byte big-endian length and the text.

The checker calls the candidate through :class:`Remote`; the candidate's process runs
:func:`serve`. Calls name a function of the candidate's module, or ``Class.method`` (the
class is instantiated with no arguments first, as LiveCodeBench's ``Solution`` is).

Standard library only: the fork server imports it as a top-level module.
"""

from __future__ import annotations

import ast
import math
import os
import secrets
import struct
from collections.abc import Callable
from typing import Any

MAX_MESSAGE = 64 << 20
MAX_DEPTH = 100
_FLOAT_NAMES = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class ChannelError(Exception):
    """A value that is not plain data, or a malformed or oversized message."""


class CandidateError(Exception):
    """The candidate raised (its exception's type name and text), or broke the channel."""


# --- values ---------------------------------------------------------------------------

def encode(value: Any) -> str:
    """``value`` as literal text; :class:`ChannelError` for anything but plain data."""
    out: list[str] = []
    _encode(value, out, 0)
    return "".join(out)


def _encode(value: Any, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ChannelError("value nested too deeply")
    kind = type(value)  # exact types: a subclass could carry its own __eq__
    if value is None or kind in (bool, int, str, bytes):
        out.append(repr(value))
    elif kind is float:
        out.append(repr(value) if math.isfinite(value) else f"float({str(value)!r})")
    elif kind is complex:
        out.append(f"complex({encode(value.real)}, {encode(value.imag)})")
    elif kind in (tuple, list):
        out.append("(" if kind is tuple else "[")
        for item in value:
            _encode(item, out, depth + 1)
            out.append(", ")
        out.append(")" if kind is tuple else "]")
    elif kind in (set, frozenset):
        out.append(f"{kind.__name__}([")
        for item in value:
            _encode(item, out, depth + 1)
            out.append(", ")
        out.append("])")
    elif kind is dict:
        out.append("{")
        for key, item in value.items():
            _encode(key, out, depth + 1)
            out.append(": ")
            _encode(item, out, depth + 1)
            out.append(", ")
        out.append("}")
    else:
        raise ChannelError(f"not plain data: {kind.__name__}")


def decode(text: str) -> Any:
    """The value :func:`encode` wrote; :class:`ChannelError` for anything else."""
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ChannelError(f"unreadable value: {type(exc).__name__}") from None
    return _decode(tree, 0)


def _decode(node: ast.AST, depth: int) -> Any:
    if depth > MAX_DEPTH + 2:
        raise ChannelError("value nested too deeply")
    if isinstance(node, ast.Constant) and type(node.value) in (
            type(None), bool, int, float, complex, str, bytes):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
            isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, int | float) and \
            not isinstance(node.operand.value, bool):
        return -node.operand.value
    if isinstance(node, ast.Tuple):
        return tuple(_decode(e, depth + 1) for e in node.elts)
    if isinstance(node, ast.List):
        return [_decode(e, depth + 1) for e in node.elts]
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_decode(k, depth + 1): _decode(v, depth + 1)  # type: ignore[arg-type]  # no None key (checked)
                for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name, args = node.func.id, node.args
        if name == "float" and len(args) == 1 and isinstance(args[0], ast.Constant) \
                and args[0].value in _FLOAT_NAMES:
            return _FLOAT_NAMES[args[0].value]
        if name == "complex" and len(args) == 2:
            real, imag = (_decode(a, depth + 1) for a in args)
            if type(real) is float and type(imag) is float:
                return complex(real, imag)
        if name in ("set", "frozenset") and len(args) == 1 and isinstance(args[0], ast.List):
            items = [_decode(e, depth + 1) for e in args[0].elts]
            try:
                return set(items) if name == "set" else frozenset(items)
            except TypeError:
                raise ChannelError("unhashable set member") from None
    raise ChannelError(f"not plain data: {type(node).__name__}")


# --- messages -------------------------------------------------------------------------

def send(fd: int, value: Any) -> None:
    data = encode(value).encode("utf-8", "surrogatepass")
    _write_all(fd, struct.pack(">I", len(data)) + data)


def receive(fd: int) -> Any:
    """The next value from ``fd``; EOFError when the other side closed."""
    head = _read_exact(fd, 4)
    (size,) = struct.unpack(">I", head)
    if size > MAX_MESSAGE:
        raise ChannelError(f"message of {size} bytes")
    return decode(_read_exact(fd, size).decode("utf-8", "surrogatepass"))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the channel closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# --- the two ends ---------------------------------------------------------------------

class Remote:
    """The checker's end: ``Remote(rfd, wfd).function("name")`` is a callable whose calls
    run in the candidate's process and return (or raise) there. Each call carries a fresh
    random id that its reply must echo, so nothing written on the channel ahead of a call
    can pass for its answer."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self._rfd, self._wfd = rfd, wfd

    def close(self) -> None:
        """End the conversation: the candidate's :func:`serve` returns."""
        for fd in (self._wfd, self._rfd):
            try:
                os.close(fd)
            except OSError:
                pass

    def function(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            call_id = secrets.token_hex(8)
            try:
                send(self._wfd, ("call", call_id, name, args, kwargs))
                reply = receive(self._rfd)
            except (EOFError, BrokenPipeError):
                raise CandidateError("the candidate's process ended") from None
            if type(reply) is not tuple or len(reply) < 3 or reply[0] != call_id:
                raise ChannelError("a reply that does not answer this call")
            if len(reply) == 3 and reply[1] == "return":
                return reply[2]
            if len(reply) == 4 and reply[1] == "raise" and type(reply[2]) is str \
                    and type(reply[3]) is str:
                raise CandidateError(f"{reply[2]}: {reply[3]}")
            raise ChannelError("malformed reply")
        call.__name__ = call.__qualname__ = name
        return call


def serve(namespace: dict[str, Any], rfd: int, wfd: int) -> None:
    """The candidate's end: answer calls with functions of ``namespace`` until EOF."""
    while True:
        try:
            request = receive(rfd)
        except EOFError:
            return
        _, call_id, name, args, kwargs = request
        try:
            result = _resolve(namespace, name)(*args, **kwargs)
        except Exception as exc:  # the candidate's own failure is the checker's to judge
            send(wfd, (call_id, "raise", type(exc).__name__, str(exc)[:2000]))
            continue
        try:
            send(wfd, (call_id, "return", result))
        except ChannelError as exc:
            send(wfd, (call_id, "raise", "ChannelError", str(exc)))


def _resolve(namespace: dict[str, Any], name: str) -> Any:
    head, _, method = name.partition(".")
    target = namespace[head]
    return getattr(target(), method) if method else target
