"""Domain errors: each carries the one line a user sees before a non-zero exit."""


class OpsError(Exception):
    """An expected failure with a message fit for the terminal; tasks exit non-zero on it."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
