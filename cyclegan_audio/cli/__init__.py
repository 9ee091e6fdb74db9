"""Thin command-line front ends: each module has ``main(argv=None) -> int``."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

from ..errors import CycleGanAudioError


def user_errors(fn: Callable[..., int]) -> Callable[..., int]:
    """Turn a user error into one line on stderr and exit code 2; never a traceback.

    An error of the environment no library code turned into a message (disk full, a
    read-only file system, no permission) is one line too, naming the path, exit code 1.
    """

    @functools.wraps(fn)
    def wrapper(argv: list[str] | None = None) -> int:
        try:
            return int(fn(argv) or 0)
        except CycleGanAudioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"error: {describe_os_error(exc)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper


def int_at_least(low: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``low`` (anything else is a one-line usage error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def written_dests(parser: argparse.ArgumentParser, argv: list[str] | None) -> set[str]:
    """Destinations of the options written on the command line, not filled in by defaults.

    ``parser`` is changed (its defaults dropped): pass a fresh one.
    """
    for action in parser._actions:  # argparse has no public way to drop every default
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def describe_os_error(exc: OSError) -> str:
    """ "<path>: <reason>" for an OSError, e.g. "out/a.wav: No space left on device"."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{exc.filename}: {reason}" if exc.filename else reason
