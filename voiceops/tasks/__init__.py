"""Invoke task modules. Each task parses its arguments, calls one function of the
package and turns the outcome into the exit-code contract (README, "Exit codes"):
0 success, 3 approval missing, 4 environment locked, 5 cannot reach a cluster or
cloud / no credentials / tool missing, 130 interrupted, 1 anything else. Errors are
one line: `error: <message>`."""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from invoke.exceptions import Exit

from voiceops.errors import OpsError

INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
DEFAULT_ENVIRONMENT = "local"
ENV_HELP = "environment name (default: local; see env.list)"


def reports_errors(body: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a task body so domain errors end the run with `error: <message>` and their
    exit code, and an interrupt with one line and exit 130."""

    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return body(*args, **kwargs)
        except OpsError as error:
            raise Exit(f"error: {error.message}", code=error.exit_code) from None
        except KeyboardInterrupt:
            # The run is recorded and its lock released by now. Leave at once with 130: an
            # unwinding interpreter that sees the interrupt again would die by SIGINT instead
            # (seen in about one of ten interrupts under load).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            sys.stdout.flush()
            print("interrupted: stopped by the user (Ctrl-C)", file=sys.stderr, flush=True)
            os._exit(INTERRUPTED)

    return wrapper
