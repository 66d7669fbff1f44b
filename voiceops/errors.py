"""Domain errors: each carries the one line a user sees before a non-zero exit."""


class OpsError(Exception):
    """An expected failure with a message fit for the terminal; tasks exit non-zero on it."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def first_line(error: BaseException) -> str:
    """An error's first line (SDK errors run to many), or its type where it says nothing."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
