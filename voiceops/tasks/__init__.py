"""Invoke task modules. Each task parses its arguments, calls one function of the
package and turns an OpsError into a one-line message and a non-zero exit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from invoke.exceptions import Exit

from voiceops.errors import OpsError


def reports_errors(body: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a task body so domain errors end the run with `error: <message>`."""

    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return body(*args, **kwargs)
        except OpsError as error:
            raise Exit(f"error: {error.message}", code=error.exit_code) from None

    return wrapper
