"""Command-line options generated from config dataclasses (cli/config_args.py)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cyclegan_audio.cli import evaluate, train, translate
from cyclegan_audio.cli.config_args import HelpFormatter, add_fields, from_args, option_names
from cyclegan_audio.model import TrainConfig
from cyclegan_audio.networks import NetworkConfig
from cyclegan_audio.training import RunConfig


@dataclass(frozen=True)
class Inner:
    k: int = field(default=1, metadata={"help": "an inner option"})


@dataclass(frozen=True)
class Toy:
    path: Path = field(metadata={"help": "a required path"})
    inputs: list[Path] = field(metadata={"help": "files", "flags": ("inputs",)})
    n: int = field(default=3, metadata={"help": "how many", "at_least": 1})
    rate: float | None = field(default=None, metadata={"help": "a rate (default: the data's)"})
    mode: str = field(default="a", metadata={"help": "which mode", "choices": ("a", "b")})
    sizes: tuple[int, ...] = field(default=(1, 2), metadata={"help": "sizes"})
    fast: bool = field(default=False, metadata={"help": "go fast"})
    bar: bool = field(default=True, metadata={"help": "hide the bar"})
    ramp: bool = field(default=False, metadata={"help": "add a ramp", "negatable": True})
    out: str | None = field(default=None, metadata={"help": "output", "flags": ("-o", "--out")})
    hidden: int = field(default=7, metadata={"help": "no option", "flags": ()})
    inner: Inner = field(default_factory=Inner)


def toy_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="toy", formatter_class=HelpFormatter)
    add_fields(p, Toy)
    return p


def toy(argv: list[str]) -> Toy:
    return from_args(Toy, toy_parser().parse_args(argv))


def test_a_dataclass_becomes_flags_that_parse_back_into_it():
    names = "path inputs n rate mode sizes fast bar ramp out"
    assert option_names(Toy) == names.split()
    flags = {s for a in toy_parser()._actions for s in a.option_strings}
    written = "-h --help --path --n --rate --mode --sizes --fast --no-bar --ramp --no-ramp -o --out"
    assert flags == set(written.split())
    assert toy(["--path", "p", "x.wav"]) == Toy(path=Path("p"), inputs=[Path("x.wav")])
    argv = ["--path", "p", "x.wav", "y.wav", "--n", "2", "--rate", "0.5", "--mode", "b"]
    argv += ["--sizes", "4", "5", "--fast", "--no-bar", "--ramp", "-o", "o/"]
    assert toy(argv) == Toy(
        path=Path("p"),
        inputs=[Path("x.wav"), Path("y.wav")],
        n=2,
        rate=0.5,
        mode="b",
        sizes=(4, 5),
        fast=True,
        bar=False,
        ramp=True,
        out="o/",
    )
    assert toy(["--path", "p", "x", "--no-ramp"]).ramp is False


@pytest.mark.parametrize(
    "argv",
    [
        ["x.wav"],  # --path is required: the field has no default
        ["--path", "p"],  # at least one input
        ["--path", "p", "x", "--n", "0"],  # at_least 1
        ["--path", "p", "x", "--mode", "c"],  # not a choice
        ["--path", "p", "x", "--hidden", "1"],  # flags=(): no option
        ["--path", "p", "x", "--k", "2"],  # a nested config's fields are not the outer's options
        ["--path", "p", "x", "--bar"],  # a True switch only turns it off
    ],
)
def test_what_the_fields_do_not_allow_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as e:
        toy(argv)
    assert e.value.code == 2


def test_help_comes_from_the_fields_and_never_shows_an_empty_default():
    text = toy_parser().format_help()
    for line in (
        "how many (default: 3)",
        "which mode (default: a)",
        "a rate (default: the data's)",
    ):
        assert line in text
    assert "go fast" in text and "hide the bar" in text and "--ramp, --no-ramp" in text
    assert "-o OUT, --out OUT" in text
    for empty in ("(default: None)", "(default: False)", "(default: True)"):
        assert empty not in text


def test_only_skip_and_command_defaults():
    p = argparse.ArgumentParser()
    add_fields(p, Toy, ["mode", "n"])
    add_fields(p, Toy, skip=("path", "inputs", "mode", "n"), defaults={"fast": None})
    dests = [a.dest for a in p._actions if a.dest != "help"]
    assert dests == ["mode", "n", "rate", "sizes", "fast", "bar", "ramp", "out"]
    args = p.parse_args([])
    assert args.fast is None  # the command decides later
    assert from_args(Toy, args, path=Path("p"), inputs=[], fast=True).fast is True


def test_an_option_without_help_is_refused():
    @dataclass
    class NoHelp:
        n: int = 1

    with pytest.raises(TypeError, match="NoHelp.n"):
        add_fields(argparse.ArgumentParser(), NoHelp)


def test_train_has_a_flag_for_every_config_field():
    """A new field is a new flag: nothing in cli/train.py lists them."""
    dests = {a.dest for a in train.build_parser()._actions}
    for cls in (RunConfig, NetworkConfig, TrainConfig):
        assert set(option_names(cls)) <= dests, cls.__name__
    assert "generator" in dests and "in_channels" not in dests


@pytest.mark.parametrize("cli", [train, translate, evaluate])
def test_every_flag_has_help_and_no_empty_default(cli):
    p = cli.build_parser()
    assert not [a.option_strings or a.dest for a in p._actions if not (a.help or "").strip()]
    text = p.format_help()
    assert "(default: None)" not in text and "(default: False)" not in text
