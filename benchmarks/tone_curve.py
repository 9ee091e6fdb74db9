"""A tone curve after the generator: its output's level distribution matched to the target's.

A trained checkpoint's A -> B generator translates training (or validation) tiles of A; a
monotone map per band of tile rows then sends each quantile of the translations' pixel
values (dB on the tile scale) to the same quantile of real B tiles (quantile mapping, as in
bias correction). The test clips are translated with and without the map and scored
against the paired truth; training is untouched, so any saved checkpoint can be screened.
Session 15's screen of the idea: docs/quality.md, "A tone curve after the generator".

    python benchmarks/tone_curve.py CKPT SET_DIR PREPARED OUT [--raw] [--bands 0 1 8]
        [--fit train|val] [--max-tiles 200] [--results tone.jsonl]

``--bands 0`` is the checkpoint as it is; ``PREPARED`` the tiles the checkpoint trained on.
Each row: LSD and LSD after the best gain with translate's default loudness ("model"),
and "keep": the mapped audio at the unmapped translation's loudness (the map's shape only).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import quality as Q  # noqa: E402
from set_layout import missing_test_pairs  # noqa: E402

from cyclegan_audio.audio import find_audio_files, load_with_rate, save  # noqa: E402
from cyclegan_audio.checkpoint import load_translator  # noqa: E402
from cyclegan_audio.data import load_tile, spread  # noqa: E402
from cyclegan_audio.errors import CycleGanAudioError  # noqa: E402
from cyclegan_audio.loudness import integrated_loudness  # noqa: E402
from cyclegan_audio.manifest import Manifest  # noqa: E402

N_KNOTS = 2001


def quantile_map(values: np.ndarray, target: np.ndarray, n: int = N_KNOTS):
    """Knots (xs, ys) of the monotone map sending ``values``' quantiles to ``target``'s.

    xs is strictly increasing (tied quantiles, e.g. a floor, become one knot at their mean
    target value) and padded far out on both sides, so `apply_map` holds the end values.
    """
    q = np.linspace(0.0, 1.0, n)
    xs, ys = np.quantile(values, q), np.quantile(target, q)
    ux, inverse = np.unique(xs, return_inverse=True)
    uy = np.bincount(inverse, weights=ys) / np.bincount(inverse)
    return np.concatenate([[-1e3], ux, [1e3]]), np.concatenate([[uy[0]], uy, [uy[-1]]])


def apply_map(v: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of the knots at ``v`` (any shape)."""
    i = torch.searchsorted(xs, v.contiguous()).clamp(1, xs.numel() - 1)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    t = ((v - x0) / (x1 - x0).clamp_min(1e-9)).clamp(0.0, 1.0)
    return y0 + t * (y1 - y0)


def band_of_rows(n_rows: int, bands: int) -> np.ndarray:
    """Each tile row's band: ``bands`` equal runs of rows from the bottom."""
    return np.minimum(np.arange(n_rows) * bands // n_rows, bands - 1)


class ToneCurve(torch.nn.Module):
    """``generator`` followed by one quantile map per band of rows ((B, 1, F, T) on [-1, 1])."""

    def __init__(
        self, generator: torch.nn.Module, translations: np.ndarray, real: np.ndarray, bands: int
    ):
        super().__init__()
        self.generator = generator
        rows = band_of_rows(translations.shape[-2], bands)
        self.bands = []  # (row indices, knots xs, knots ys) per band, made once
        for k in range(bands):
            sel = rows == k
            xs, ys = quantile_map(translations[..., sel, :].ravel(), real[..., sel, :].ravel())
            self.bands.append(
                (torch.from_numpy(np.flatnonzero(sel)),
                 torch.as_tensor(xs, dtype=torch.float32), torch.as_tensor(ys, dtype=torch.float32))
            )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.generator(x)
        out = torch.empty_like(y)
        for sel, xs, ys in self.bands:
            out[..., sel, :] = apply_map(y[..., sel, :], xs, ys)
        return out


def keep_loudness(mapped: Path, plain: Path, out: Path) -> Path:
    """``mapped``'s files at the loudness of ``plain``'s files of the same name, into ``out``."""
    for f in find_audio_files(mapped):
        y, sr = load_with_rate(f)
        y0, _ = load_with_rate(plain / f.relative_to(mapped))
        gain = 10.0 ** ((integrated_loudness(y0, sr) - integrated_loudness(y, sr)) / 20.0)
        save(out / f.relative_to(mapped), (y * gain).astype(np.float32), sr)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ckpt", type=Path)
    p.add_argument("set_dir", type=Path, help="a set in the shared layout (test/A, test/B)")
    p.add_argument("prepared", type=Path, help="the prepared tiles the checkpoint trained on")
    p.add_argument("out", type=Path, help="scratch folder for the translations")
    p.add_argument("--raw", action="store_true", help="the raw weights of an averaged checkpoint")
    p.add_argument("--bands", type=int, nargs="+", default=[0, 1, 8], help="0: no map")
    p.add_argument(
        "--fit", choices=("train", "val"), default="train", help="tiles the map is fitted on"
    )
    p.add_argument(
        "--max-tiles", type=int, default=200, help="per domain, spread through the split"
    )
    p.add_argument("--results", type=Path, default=Path("tone_curve.jsonl"))
    p.add_argument("--label", default="")
    a = p.parse_args(argv)
    try:
        t = load_translator(a.ckpt, "AtoB", "cpu", ema=not a.raw)
        m = Manifest.load(a.prepared)
    except CycleGanAudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spec, g, peak_db, offset = t.spec, t.generator, t.input_peak_db, t.level_offset_db
    paths_a = spread(m.tile_paths("A", a.fit), a.max_tiles)
    paths_b = spread(m.tile_paths("B", a.fit), a.max_tiles)
    problem = None
    if not paths_a or not paths_b:
        problem = f"{a.prepared}: no {a.fit} tiles in both domains to fit the map on"
    elif min(a.bands) < 0 or max(a.bands) > spec.tile_shape[0]:
        problem = f"--bands: give 0 (no map) to {spec.tile_shape[0]} (one per tile row)"
    problem = problem or missing_test_pairs(a.set_dir)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    with torch.inference_mode():
        translations = torch.cat([g(load_tile(t, spec)[None]) for t in paths_a]).numpy()
    real = torch.stack([load_tile(t, spec) for t in paths_b]).numpy()
    plain = None
    for bands in a.bands:
        model = g if bands == 0 else ToneCurve(g, translations, real, bands)
        sub = a.out / f"bands{bands}"
        folders = {"model": Q.translate_with(model, spec, peak_db, offset, a.set_dir, sub)["model"]}
        if bands == 0:
            plain = folders["model"]
        elif plain is not None:
            folders["keep"] = keep_loudness(folders["model"], plain, sub / "keep")
        row = dict(
            label=a.label, set=a.set_dir.name, ckpt=str(a.ckpt), raw=a.raw, fit=a.fit,
            bands=bands, n_tiles=[len(paths_a), len(paths_b)],
        )  # fmt: skip
        for policy, folder in folders.items():
            row[f"lsd_{policy}"], row[f"lsd_gain_{policy}"] = Q._lsd_folder(a.set_dir, folder)
        print(json.dumps(row), flush=True)
        with a.results.open("a") as f:
            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
