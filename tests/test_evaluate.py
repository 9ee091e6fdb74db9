"""evaluate end to end on tiny synthetic data; the report links only to files that exist."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from cyclegan_audio.checkpoint import META_KEY, make_meta
from cyclegan_audio.cli.evaluate import main
from cyclegan_audio.evaluation import SOURCE_CONTOUR
from cyclegan_audio.networks import build_generator, tiny_config
from cyclegan_audio.spec import tiny_spec
from cyclegan_audio.synth import make_demo_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    make_demo_dataset(root, seed=0, n_train=3, n_test=2, seconds=3.0)
    return root


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("src", "href")]


def _links_exist(report: Path) -> list[str]:
    parser = _Links()
    parser.feed(report.read_text())
    from urllib.parse import unquote

    for link in parser.links:
        assert "://" not in link and not link.startswith("/"), link
        assert (report.parent / unquote(link)).is_file(), link
    return parser.links


def test_translated_folder_scores_between_floor_and_ceiling(data, tmp_path, capsys):
    # "translations" = the ground truth renamed as translate names its outputs
    translated = tmp_path / "translated"
    translated.mkdir()
    for p in (data / "test" / "B").iterdir():
        shutil.copy(p, translated / f"{p.stem}.AtoB.wav")
    out = tmp_path / "report"
    args = ["--test-dir", str(data / "test"), "--train-dir", str(data / "train"), "--translated",
            str(translated), "--notes", str(data / "meta.json"), "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "identity (input)" in printed and str(out / "report.html") in printed
    results = json.loads((out / "results.json").read_text())
    assert results["systems"] == ["identity", "model", "ground_truth"]
    assert results["pitch_reference"] == "notes"
    mean = results["mean"]
    assert mean["ground_truth"]["lsd_db"] == 0.0 and mean["model"]["lsd_db"] == 0.0
    assert mean["identity"]["lsd_db"] > 5.0
    assert mean["ground_truth"]["target_share"] == 1.0 and mean["identity"]["target_share"] == 0.0
    assert mean["identity"]["pitch_accuracy"] > 0.9 and mean["ground_truth"]["pitch_accuracy"] > 0.9
    links = _links_exist(out / "report.html")
    assert len(links) == 2 * 3 * 2  # picture + audio, 3 systems, 2 files
    page = (out / "report.html").read_text()
    assert f"Translations from <code>{translated}</code>" in page and results["date"] in page
    assert " · " not in page  # no unlabelled score lines under the pictures: the tables say it


def _tiny_checkpoint(tmp_path: Path) -> Path:
    """run/best.ckpt holding an untrained tiny A -> B generator at tiny_spec()."""
    ckpt = tmp_path / "run" / "best.ckpt"
    ckpt.parent.mkdir()
    state = {f"g_ab.{k}": v for k, v in build_generator(tiny_config()).state_dict().items()}
    torch.save({META_KEY: make_meta(tiny_spec(), tiny_config()), "state_dict": state}, ckpt)
    return ckpt


def test_checkpoint_is_translated_and_source_pitch_used_without_notes(data, tmp_path):
    ckpt = _tiny_checkpoint(tmp_path)
    out = tmp_path / "report"
    args = ["--test-dir", str(data / "test"), "--train-dir", str(data / "train"), "--ckpt", str(ckpt),
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["pitch_reference"] == SOURCE_CONTOUR
    assert results["mean"]["identity"]["pitch_accuracy"] == 1.0  # the source against itself
    assert results["mean"]["identity"]["pitch_shift_st"] == 0.0
    for name in ("pair_000", "pair_001"):
        assert (out / "media" / f"{name}.model.wav").is_file()
    model = results["mean"]["model"]
    assert model["lsd_db"] > 0.0 and 0.0 <= model["target_share"] <= 1.0
    assert results["checkpoint"]["run"] == "run" and results["checkpoint"]["epoch"] is None
    _links_exist(out / "report.html")
    page = (out / "report.html").read_text()
    assert "Checkpoint: run <code>run</code>, best.ckpt (" in page and "epoch" not in page


def test_baseline_runs_at_the_checkpoints_spec(data, tmp_path, monkeypatch):
    """With --ckpt the style-transfer baseline works at the evaluated model's spec."""
    from cyclegan_audio import style_transfer

    seen = []

    def recording_stylize(content, style, sr, *, spec=None, **kw):
        seen.append(spec)
        return content  # the spec is the point here, not the optimisation

    monkeypatch.setattr(style_transfer, "stylize", recording_stylize)
    spec, ckpt = tiny_spec(), _tiny_checkpoint(tmp_path)
    args = ["--test-dir", str(data / "test"), "--train-dir", str(data / "train"), "--ckpt", str(ckpt),
            "--baseline", "stylize", "--out", str(tmp_path / "report")]  # fmt: skip
    assert main(args) == 0
    assert seen and all(s == spec for s in seen)


def test_report_names_checkpoint_domains_date_and_labels_picture_axes(tmp_path):
    from cyclegan_audio.report import describe_checkpoint, write_report

    ckpt = tmp_path / "vg128" / "best.ckpt"
    ckpt.parent.mkdir()
    meta = make_meta(tiny_spec(), tiny_config(), generator_steps=5004, val_score={"score": 0.644})
    torch.save({META_KEY: meta, "state_dict": {}, "epoch": 12}, ckpt)  # Lightning's "epoch"
    info = describe_checkpoint(ckpt)
    assert (info["run"], info["file"], info["epoch"]) == ("vg128", "best.ckpt", 12)
    assert info["val_score"] == 0.644 and info["generator_steps"] == 5004
    systems = ["identity", "model"]
    scores = {"pitch_accuracy": 0.9, "target_share": 1.0, "lsd_db": 7.0}
    media = {
        s: {
            "audio": f"{s}.wav",
            "picture": f"{s}.png",
            "n_samples": 3 * 16000,
            "sample_rate": 16000,
        }
        for s in systems
    }
    results = {
        "config": {"direction": "AtoB", "test_dir": "t", "train_dir": "sets/vg/train"},
        "systems": systems,
        "pitch_reference": "notes",
        "classifier": {"holdout_accuracy": 1.0},
        "mean": {s: scores for s in systems},
        "files": {"pair_000.wav": {"scores": {s: scores for s in systems}, "media": media}},
        "checkpoint": info,
        "date": "2026-11-29 10:00 UTC",
    }
    page = write_report(results, tmp_path).read_text()
    assert "run <code>vg128</code>, best.ckpt, epoch 12, 5004 generator steps" in page
    assert "val score 0.644" in page and "written 2026-11-29 10:00 UTC" in page
    assert "A = <code>sets/vg/train/A</code> → B = <code>sets/vg/train/B</code>" in page
    for label in (">0 s<", ">1.5 s<", ">3 s<", ">0.5 kHz<", ">8 kHz<"):  # 3 s at 16 kHz
        assert page.count(label) == len(systems), label
    assert " · " not in page


def test_user_mistakes_are_one_line(data, tmp_path, capsys):
    base = [
        "--test-dir",
        str(data / "test"),
        "--train-dir",
        str(data / "train"),
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(base + ["--translated", str(tmp_path)]) == 2
    assert "no translation of pair_000.wav" in capsys.readouterr().err
    assert (
        main(base + ["--translated", str(data / "test" / "B"), "--notes", str(tmp_path / "x.json")])
        == 2
    )
    assert "notes file not found" in capsys.readouterr().err
    (tmp_path / "B").mkdir()
    assert (
        main(["--test-dir", str(tmp_path), "--train-dir", str(data / "train"), "--translated", "."])
        == 2
    )
    assert "test folder not found" in capsys.readouterr().err


def test_references_only_without_a_model(data, tmp_path):
    out = tmp_path / "refs"
    args = ["--test-dir", str(data / "test"), "--train-dir", str(data / "train"), "--out", str(out)]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["systems"] == ["identity", "ground_truth"]
    assert len(_links_exist(out / "report.html")) == 2 * 2 * 2


def test_checkpoint_translation_is_exactly_translate_py_input_level_included(data, tmp_path):
    """evaluate --ckpt writes what translate.py writes for the same checkpoint, which feeds the
    generator at the trained input level (checkpoint meta input_peak_db)."""
    from cyclegan_audio.audio import load
    from cyclegan_audio.cli import translate

    torch.manual_seed(0)
    g = build_generator(tiny_config())
    state = {f"g_ab.{k}": v for k, v in g.state_dict().items()}
    ckpts = {}
    for name, level in (("leveled", -1.0), ("plain", None)):
        meta = make_meta(tiny_spec(), tiny_config(), input_peak_db=level)
        ckpts[name] = tmp_path / name / "best.ckpt"
        ckpts[name].parent.mkdir()
        torch.save({META_KEY: meta, "state_dict": state}, ckpts[name])
    out = tmp_path / "report"
    args = ["--test-dir", str(data / "test"), "--train-dir", str(data / "train"),
            "--ckpt", str(ckpts["leveled"]), "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    source = sorted((data / "test" / "A").iterdir())[0]
    evaluated = next(p for p in out.rglob("*.model.wav") if source.stem in p.name)
    by_translate = {}
    for name, ckpt in ckpts.items():
        by_translate[name] = tmp_path / f"{name}.wav"
        assert (
            translate.main(["--ckpt", str(ckpt), str(source), "-o", str(by_translate[name])]) == 0
        )
    ours, same, other = (load(p, None) for p in (evaluated, *by_translate.values()))
    assert abs(ours - same).max() <= 2.5 / 32768  # identical up to 16-bit rounding
    assert abs(ours - other).max() > 100 / 32768  # and the level does change the result
