"""Errors a user can cause. The CLI prints them as one line and exits with status 2."""

from __future__ import annotations


class UserError(Exception):
    """A problem in the user's input (recipe, data, endpoint, path), not a bug in jre.

    ``where`` names the file, URL or thing at fault; ``field`` the dotted field inside it.
    """

    def __init__(self, message: str, *, where: str | None = None, field: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.field = field
        self.line = line

    def __str__(self) -> str:
        head = ""
        if self.where:
            head = f"{self.where}:{self.line}: " if self.line else f"{self.where}: "
        if self.field:
            head += f"{self.field}: "
        return head + self.message


class UserErrors(UserError):
    """Several user errors found together; printed one per line, first one first."""

    def __init__(self, errors: list[UserError]) -> None:
        first = errors[0]
        super().__init__(first.message, where=first.where, field=first.field, line=first.line)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(UserError.__str__(e) for e in self.errors)


def all_errors(errors: list[UserError]) -> UserError:
    """The one error to raise for ``errors`` (non-empty): itself when alone, else all of them."""
    return errors[0] if len(errors) == 1 else UserErrors(errors)


class PluginError(UserError):
    """A plugin problem: unknown name, duplicate registration, broken entry point."""
