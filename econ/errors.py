"""Domain exceptions."""

from __future__ import annotations


class InputError(ValueError):
    """Raised when an input file, scenario or parameter is invalid.

    The message is one line naming the file, the row or field, the value found,
    what was expected and how to fix it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def input_error(
    file: str,
    what: str,
    found: object = None,
    expected: str = "",
    fix: str = "",
    row: int | None = None,
    column: str | None = None,
) -> InputError:
    """Build an :class:`InputError` with the project's one-line message layout.

    ``<file>[, row N][, column C]: <what>[ (found <found>)][; expected <expected>][; fix: <fix>]``
    """
    where = file
    if row is not None:
        where += f", row {row}"
    if column is not None:
        where += f", column '{column}'"
    msg = f"{where}: {what}"
    if found is not None:
        if hasattr(found, "item") and not isinstance(found, (str, bytes)):
            found = found.item()  # numpy scalar -> plain Python number in the message
        elif isinstance(found, tuple):
            found = tuple(f.item() if hasattr(f, "item") else f for f in found)
        msg += f" (found {found!r})"
    if expected:
        msg += f"; expected {expected}"
    if fix:
        msg += f"; fix: {fix}"
    return InputError(msg)


class OutputError(InputError):
    """Raised when an output cannot or must not be written where asked (an existing file
    without ``force``, a link, a device, an unwritable place): one line naming the target.

    A subclass of :class:`InputError`, so every user error is caught the same way."""
