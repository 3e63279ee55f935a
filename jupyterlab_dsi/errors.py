"""The one exception type users see: a one-line message naming the problem and the way out."""


class DsiError(Exception):
    """An error caused by input (a file, a row, a column, a name), not by a bug.

    The CLI prints it as one line and exits with status 2; the magic and the server show the
    message as text. Subclasses exist for callers that need to tell kinds apart.
    """
