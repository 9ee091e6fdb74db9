"""The console command's dispatcher and what every CLI does with errors."""

from __future__ import annotations

import errno

import pytest

from cyclegan_audio.cli import user_errors
from cyclegan_audio.cli.__main__ import main


def test_unknown_command_is_one_line(capsys):
    assert main(["bogus"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "unknown command 'bogus'" in lines[0] and "translate" in lines[0]
    assert captured.out == ""


def test_help_lists_the_verbs(capsys):
    assert main(["--help"]) == 0
    assert "translate" in capsys.readouterr().out


@pytest.mark.parametrize("verb", ["evaluate", "make-demo-data", "prepare", "translate"])
def test_usage_names_the_console_command(verb, capsys):
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    assert capsys.readouterr().out.startswith(f"usage: cyclegan-audio {verb} ")


def test_environment_error_is_one_line_naming_the_path(capsys):
    @user_errors
    def full_disk(argv):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/out/a.wav")

    assert full_disk([]) == 1
    assert capsys.readouterr().err == "error: /data/out/a.wav: No space left on device\n"
