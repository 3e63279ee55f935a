"""The one exception type users see: a one-line message naming the problem and the way out."""


class DsiError(Exception):
    """An error caused by input (a file, a row, a column, a name), not by a bug.

    The CLI prints it as one line and exits with status 2; the magic and the server show the
    message as text. Subclasses exist for callers that need to tell kinds apart.
    """


def one_line(exc: BaseException, plain: tuple[type[BaseException], ...] = (DsiError,)) -> str:
    """``exc`` as the one line a panel or a cell shows (the log keeps the traceback): the message
    alone for the input errors in ``plain``, prefixed with the type for anything else."""
    text = " ".join(str(exc).split())
    if isinstance(exc, plain) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
