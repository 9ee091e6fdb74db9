"""Command-line options generated from config dataclasses: a field is its own flag.

A field ``n_val_tiles: int = field(default=32, metadata={"help": "..."})`` becomes
``--n-val-tiles N_VAL_TILES`` with that type, default and help; `from_args` reads the
parsed values back into the dataclass. Metadata a field may carry:

- ``help``: what the option does (every option needs one);
- ``choices``: the values allowed;
- ``at_least``: an integer's lowest value;
- ``negatable``: a bool is ``--name/--no-name``; without it a bool is a switch away from
  its default (``--name`` for False, ``--no-name`` for True) and its help says what the
  switch does;
- ``flags``: the option strings when they are not ``--name`` (aliases, or a positional
  name); ``()``: the field is no option.

A field holding another config (a dataclass) is no option either: its own fields are.
A field without a default is a required option. ``X | None`` is an ``X`` option whose
default None the help explains; ``list[X]`` and ``tuple[X, ...]`` take one or more values.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from . import int_at_least

T = TypeVar("T")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" only where X is a real value the help does not already give."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or any(
            action.default is x for x in (None, False, True, argparse.SUPPRESS)
        ):
            return text
        return super()._get_help_string(action)


def option_names(cls: type) -> list[str]:
    """The fields of dataclass ``cls`` that are command-line options, in order."""
    hints = typing.get_type_hints(cls)
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.metadata.get("flags", True) and not _is_config(hints[f.name])
    ]


def add_fields(
    group: argparse._ActionsContainer,
    cls: type,
    only: Iterable[str] | None = None,
    *,
    skip: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Add the options of dataclass ``cls`` to a parser or argument group.

    ``only``: these fields, in this order (default: every option, in field order), less
    ``skip``. ``defaults``: the command's own default where it differs from the field's
    (e.g. None: decided later from other options); the field's help must say so.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    names = option_names(cls) if only is None else list(only)
    for name in names:
        if name in skip:
            continue
        f = fields[name]
        if not f.metadata.get("help"):
            raise TypeError(f"{cls.__name__}.{name} is an option without help (metadata 'help')")
        default = _default(f) if defaults is None or name not in defaults else defaults[name]
        group.add_argument(*_flags(f, default), **_options(f, hints[name], default))


def from_args(cls: type[T], args: argparse.Namespace, **values: Any) -> T:
    """A ``cls`` from the parsed ``args`` (each field they name) and ``values`` (which win)."""
    hints = typing.get_type_hints(cls)
    parsed = {}
    for f in dataclasses.fields(cls):
        if hasattr(args, f.name):
            value = getattr(args, f.name)
            is_tuple = typing.get_origin(_strip_none(hints[f.name])) is tuple
            parsed[f.name] = tuple(value) if is_tuple and isinstance(value, list) else value
    return cls(**{**parsed, **values})


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _flags(f: dataclasses.Field, default: Any) -> tuple[str, ...]:
    if "flags" in f.metadata:
        return tuple(f.metadata["flags"])
    dashed = f.name.replace("_", "-")
    if default is True and not f.metadata.get("negatable"):
        return (f"--no-{dashed}",)
    return (f"--{dashed}",)


def _options(f: dataclasses.Field, hint: Any, default: Any) -> dict[str, Any]:
    """``add_argument``'s keywords for field ``f`` (its option strings: `_flags`)."""
    meta, kind, flags = f.metadata, _strip_none(hint), _flags(f, default)
    out: dict[str, Any] = {"help": meta["help"]}
    if flags[0].startswith("-"):  # not a positional
        out["dest"] = f.name
        if default is dataclasses.MISSING:
            out["required"] = True
        if "flags" in meta and kind is not bool:
            out["metavar"] = flags[-1].lstrip("-").replace("-", "_").upper()
    if default is not dataclasses.MISSING:
        out["default"] = default
    if kind is bool:
        if meta.get("negatable"):
            out["action"] = argparse.BooleanOptionalAction
        else:
            out["action"] = "store_false" if default is True else "store_true"
        return out
    if typing.get_origin(kind) in (list, tuple):  # list[X], tuple[X, ...]
        out["nargs"] = "+"
        kind = typing.get_args(kind)[0]
    if "choices" in meta:
        out["choices"] = tuple(meta["choices"])
    if "at_least" in meta:
        out["type"] = int_at_least(meta["at_least"])
    elif kind is not str:
        out["type"] = kind
    return out


def _strip_none(hint: Any) -> Any:
    """``X | None`` -> ``X``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _is_config(hint: Any) -> bool:
    kind = _strip_none(hint)
    return isinstance(kind, type) and dataclasses.is_dataclass(kind)
