"""Line numbers of every key and array element in a TOML document.

``tomllib`` keeps no positions, so error messages need a second, position-aware pass. This
scanner understands exactly as much TOML as locating needs: table headers, arrays of tables,
dotted and quoted keys, strings of all four kinds, comments, arrays and inline tables. It runs
only on text ``tomllib`` has already accepted.
"""

from __future__ import annotations

Path = tuple[str | int, ...]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self.table_counts: dict[Path, int] = {}

    # -- low level ------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.text[j] if j < len(self.text) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.peek() == "\n":
                self.line += 1
            self.i += 1

    def skip_blank(self, newlines: bool) -> None:
        """Skip spaces, tabs, comments and (when ``newlines``) line breaks."""
        while self.i < len(self.text):
            c = self.peek()
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.text) and self.peek() != "\n":
                    self.advance()
            else:
                break

    def string(self) -> str:
        """Read a string of any kind at the cursor and return its value (escapes kept raw)."""
        quote = self.peek()
        if self.text.startswith(quote * 3, self.i):
            self.advance(3)
            start = self.i
            while self.i < len(self.text) and (not self.text.startswith(quote * 3, self.i)
                                               or self.text.startswith(quote * 4, self.i)):
                if quote == '"' and self.peek() == "\\":
                    self.advance()
                self.advance()
            value = self.text[start:self.i]
            self.advance(3)
            return value
        self.advance()
        start = self.i
        while self.peek() and self.peek() != quote:
            if quote == '"' and self.peek() == "\\":
                self.advance()
            self.advance()
        value = self.text[start:self.i]
        self.advance()
        return value

    def key(self) -> tuple[str, ...]:
        """A dotted key such as ``a."b c".d``."""
        parts: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            if self.peek() in "\"'":
                parts.append(self.string())
            else:
                start = self.i
                while self.peek() in _BARE and self.peek():
                    self.advance()
                parts.append(self.text[start:self.i])
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return tuple(parts)
            self.advance()

    def mark(self, path: Path, line: int) -> None:
        for n in range(1, len(path) + 1):
            self.lines.setdefault(path[:n], line)

    # -- grammar --------------------------------------------------------------------------
    def value(self, path: Path) -> None:
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip_blank(newlines=True)
                if self.peek() == "]":
                    self.advance()
                    return
                if not self.peek():
                    return
                self.mark(path + (index,), self.line)
                self.value(path + (index,))
                index += 1
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.advance()
        elif c == "{":
            self.advance()
            while True:
                self.skip_blank(newlines=True)
                if self.peek() in "}":  # also the end of the text
                    self.advance()
                    return
                self.pair(path)
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.advance()
        else:  # number, bool, date: runs to a delimiter
            while self.peek() and self.peek() not in ",]}\n#":
                self.advance()

    def pair(self, table: Path) -> None:
        line = self.line
        path = table + self.key()
        self.mark(path, line)
        self.skip_blank(newlines=False)
        self.advance()  # '='
        self.skip_blank(newlines=False)
        self.value(path)

    def document(self) -> dict[Path, int]:
        table: Path = ()
        while True:
            self.skip_blank(newlines=True)
            if self.i >= len(self.text):
                return self.lines
            line = self.line
            if self.text.startswith("[[", self.i):
                self.advance(2)
                header = self.key()
                self.advance(2)
                index = self.table_counts.get(header, 0)
                self.table_counts[header] = index + 1
                table = header + (index,)
                self.mark(table, line)
            elif self.peek() == "[":
                self.advance()
                table = self.key()
                self.advance()
                self.mark(table, line)
            else:
                start = self.i
                self.pair(table)
                if self.i == start:  # not TOML after all: stop rather than spin
                    return self.lines


def key_lines(text: str) -> dict[Path, int]:
    """Map every key path (array elements by index) of valid TOML ``text`` to its 1-based line."""
    return _Scanner(text).document()


def locate(text: str, loc: Path) -> int | None:
    """The line of ``loc``, or of its nearest ancestor written in ``text``; None at top level."""
    try:
        lines = key_lines(text)
    except (IndexError, ValueError):  # text tomllib accepted should never get here
        return None
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None
