"""Objective validation score that picks the best epoch (lower is better).

After every epoch the fixed validation tiles are translated both ways (A -> B -> A
and B -> A -> B). Every term is put on one scale by two reference points, so no
term needs a hand-tuned weight:

* **domain** (per direction, ``domain_ab``, ``domain_ba``): 1 = the untranslated
  input, 0 = real target tiles. Each tile is described by 192 fixed features (32-band
  spectral-envelope mean and std over time; mean/std pooling of a seeded random-weight
  3-layer CNN), standardised with the real val tiles of both domains. A shrinkage
  linear discriminant (LDA, within-class covariance shrunk halfway to a multiple of
  the identity) fitted on the real val tiles of A and B gives the one direction that
  separates the two domains; translations and real tiles are projected onto it and
  ``domain_ab = W1(fake_b, real_b) / W1(real_a, real_b)``, W1 the 1-D Wasserstein
  distance between the projected sets of tiles. Deterministic, closed form, refitted
  from the same real tiles at every validation (so epochs are comparable).
* **content** (per direction, averaged over both): 0 = the untranslated input (which
  keeps all content), 1 = chance, the value when each translation is replaced by an
  unrelated real tile (every pairing of real source and real target tiles):
  - ``pitch``: share of the source's voiced frames (louder than the tile's mean, pitch
    confidence > 1.5) whose pitch contour the translation keeps within 50 cents after
    removing the tile's median transposition (octaves folded): a voice may change
    register, a melody must keep its shape. Frame pitch by subharmonic summation on the
    tile (8 harmonics, 60-1200 Hz, quarter-semitone grid).
  - ``onset``: Pearson correlation over time of the spectral-flux onset envelopes
    (sum over bins of the positive frame-to-frame rise of the [0, 1] log magnitude,
    3-frame moving average) of source and translation: rhythm and attacks must survive,
    while the loudness envelope between attacks may change (sustained -> struck).
  - ``cycle``: mean |rec - real| on 2 x 2 average-pooled tiles, relative to the mean
    |real_i - real_j| between distinct real tiles of the same domain.
  Relative terms are ``(1 - kept) / (1 - kept_by_chance)`` for pitch and onset and
  ``l1 / l1_by_chance`` for cycle; chance denominators are floored (0.1, 1e-3) so a
  val set without melody or rhythm cannot blow a term up.

``score = mean(domain_ab, domain_ba) + cycle + guard(pitch) + guard(onset)`` with
``guard(t) = u^2 (3 - 2u)``, ``u = clip(2 t - 1, 0, 1)``: a smooth step, so the pitch and
onset terms count only once a translation has lost more than half of what an unrelated
tile loses (0 there, 1 at chance). They catch translations that drop the melody or the
rhythm without ranking good epochs by their noise; the step is flat at both ends, so
the noise of a term at chance (a run in which no epoch keeps the content) does not
rank epochs either. 0 = target-like and content kept; doing nothing scores 1. The composition
and the evidence for it (every epoch of runs on the development sets against the
paired truth) are in docs/validation-score.md. Raw values are reported beside the
relative terms: ``pitch_kept``, ``onset_corr``, ``cycle_l1`` and ``domain_sep`` (distance
of the two real domains' means along the discriminant in pooled standard deviations;
near 0 means the features cannot tell the val domains apart and the domain term is noise).

Cost besides the generator passes, for 32 + 32 tiles of 512 x 512 on one CPU thread:
about 14 s of per-tile statistics (random CNN and pitch) and 0.7 s for `score`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import spectrogram as S
from .spec import SpectrogramSpec

FEATURE_SEED = 0
N_BANDS = 32
Z_CLIP = 10.0  # standardised features are clipped to +-Z_CLIP
LDA_SHRINKAGE = 0.5  # within-class covariance shrunk this far towards a multiple of I
CYCLE_POOL = 2  # tiles are average-pooled by this factor (both axes) for the cycle term
FLUX_SMOOTH_FRAMES = 3
CHANCE_FLOOR = 0.1  # floor of (1 - kept by chance) for the pitch and onset terms
GUARDED = ("pitch", "onset")  # content terms that count only past halfway to chance


class RandomFeatures(nn.Module):
    """Frozen random-weight CNN, identical on every machine: (B, 1, F, T) -> (B, 128)."""

    def __init__(self, seed: int = FEATURE_SEED, channels: tuple[int, ...] = (16, 32, 64)):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        layers, cin = [], 1
        for i, cout in enumerate(channels):
            k = 5 if i < 2 else 3
            conv = nn.Conv2d(cin, cout, k, stride=2, padding=k // 2, bias=False)
            with torch.no_grad():
                fan_in = cin * k * k
                conv.weight.copy_(
                    torch.randn(conv.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5
                )
            layers += [conv, nn.ReLU()]
            cin = cout
        self.net = nn.Sequential(*layers).requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(x.float())
        return torch.cat([h.mean(dim=(2, 3)), h.std(dim=(2, 3))], dim=1)


def envelope_features(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, F, T) on [-1, 1] -> (B, 64): per-band mean and std over time on [0, 1]."""
    unit = (x.float().clamp(-1, 1) + 1) * 0.5
    bands = F.adaptive_avg_pool2d(unit, (N_BANDS, unit.shape[-1]))[:, 0]  # (B, 32, T)
    return torch.cat([bands.mean(-1), bands.std(-1)], dim=1)


def tile_features(x: torch.Tensor, cnn: RandomFeatures) -> torch.Tensor:
    """(B, 1, F, T) -> (B, 192) unnormalised features."""
    return torch.cat([envelope_features(x), cnn(x)], dim=1)


# ---- domain term ----
def lda_direction(za: torch.Tensor, zb: torch.Tensor, shrinkage: float = LDA_SHRINKAGE):
    """Shrinkage LDA direction (d,) separating features za (n, d) from zb (m, d), A -> B.

    w = ((1 - s) Sw + s tr(Sw)/d I)^-1 (mean_b - mean_a), Sw the pooled within-class
    covariance; the shrinkage keeps it well-posed with fewer tiles than features.
    """
    ca, cb = za - za.mean(0), zb - zb.mean(0)
    n = za.shape[0] + zb.shape[0]
    sw = (ca.T @ ca + cb.T @ cb) / max(n - 2, 1)
    d = sw.shape[0]
    scale = float(sw.diagonal().mean()) or 1.0
    reg = (1 - shrinkage) * sw + shrinkage * scale * torch.eye(d, dtype=sw.dtype)
    return torch.linalg.solve(reg, zb.mean(0) - za.mean(0))


def wasserstein_1d(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exact 1-D Wasserstein-1 distance between the empirical distributions of x (n,), y (m,)."""
    x, y = x.double().sort().values, y.double().sort().values
    grid = torch.cat([x, y]).sort().values
    cdf_x = torch.searchsorted(x, grid[:-1], right=True) / x.numel()
    cdf_y = torch.searchsorted(y, grid[:-1], right=True) / y.numel()
    return ((cdf_x - cdf_y).abs() * grid.diff()).sum()


# ---- content terms ----
PITCH_HARMONICS = 8
PITCH_RANGE_HZ = (60.0, 1200.0)
PITCH_STEPS_PER_SEMITONE = 4
PITCH_TOLERANCE_CENTS = 50.0
# Frames below this pitch confidence are not scored: white noise reads ~1.15, harmonic tones
# 2-7; on the demo's pipe -> string run the gate widened the gap between a trained and an
# untrained epoch's contour term from 0.9 to 1.5 (chance = 1).
PITCH_MIN_CONFIDENCE = 1.5


def pitch_salience(x: torch.Tensor, spec: SpectrogramSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate pitches (n_cand,) Hz and their salience in each frame of tiles (B, 1, F, T)
    on [-1, 1] -> (B, n_cand, T), differentiable in ``x``.

    Subharmonic summation: a candidate's salience is the cube-root magnitude its harmonics
    collect (weights 0.84^(k-1), PITCH_HARMONICS of them), on a quarter-semitone grid over
    PITCH_RANGE_HZ.
    """
    unit = ((x.float()[:, 0] + 1) * 0.5).clamp(0, 1)
    comp = S.unit_to_magnitude(unit, spec).pow(1.0 / 3.0)  # (B, F, T)
    n_bins = comp.shape[1]
    lo_hz, hi_hz = PITCH_RANGE_HZ
    steps = 12 * PITCH_STEPS_PER_SEMITONE
    n_cand = int(math.log2(hi_hz / lo_hz) * steps) + 1
    cand = lo_hz * 2 ** (torch.arange(n_cand, device=x.device) / steps)
    k = torch.arange(1, PITCH_HARMONICS + 1, device=x.device, dtype=torch.float32)
    pos = S.hz_to_row(cand[:, None] * k, spec)  # (n_cand, K) fractional rows of the tile axis
    weight = 0.84 ** (k - 1) * ((pos >= 0) & (pos < n_bins - 1))
    pos = pos.clamp_min(0.0)  # below a log tile's lowest row: weight 0, any valid index
    lo = pos.floor().clamp(max=n_bins - 2).long()
    frac = (pos - lo)[None, ..., None]
    harm = comp[:, lo] * (1 - frac) + comp[:, lo + 1] * frac  # (B, n_cand, K, T)
    return cand, (harm * weight[None, ..., None]).sum(2)


def pitch_and_confidence(
    x: torch.Tensor, spec: SpectrogramSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pitch (Hz) and its confidence for each frame of tiles (B, 1, F, T) on [-1, 1] -> (B, T) x2.

    The candidate of highest `pitch_salience` wins; confidence = its salience / the mean
    salience of all candidates (white noise ~1.15, a harmonic tone 2-7).
    """
    cand, salience = pitch_salience(x, spec)
    best, idx = salience.max(1)
    return cand[idx], best / salience.mean(1).clamp_min(1e-12)


def frame_pitch(x: torch.Tensor, spec: SpectrogramSpec) -> torch.Tensor:
    """Pitch (Hz) of each frame of tiles (B, 1, F, T) on [-1, 1] -> (B, T); no voicing decision."""
    return pitch_and_confidence(x, spec)[0]


def loud_frames(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, F, T) -> (B, T) float mask of frames louder than the tile's mean frame level."""
    level = x.float()[:, 0].mean(1)
    return (level > level.mean(1, keepdim=True)).float()


def voiced_frames(x: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """(B, 1, F, T), (B, T) -> (B, T) float mask of the frames whose pitch is scored: louder
    than the tile's mean and pitch confidence above PITCH_MIN_CONFIDENCE."""
    return loud_frames(x) * (confidence > PITCH_MIN_CONFIDENCE).float()


def contour_kept(src_hz: torch.Tensor, out_hz: torch.Tensor, loud: torch.Tensor) -> torch.Tensor:
    """Share of ``loud`` frames where the pitch contour of ``out_hz`` follows ``src_hz``.

    All (..., T), broadcast. The median transposition out/src over the loud frames is
    removed first; a frame is kept when what is left is within PITCH_TOLERANCE_CENTS,
    octaves folded. Tiles without a loud frame count as kept (1).
    """
    cents = 1200 * torch.log2(out_hz / src_hz)
    mask = (loud > 0).expand_as(cents)
    shift = torch.where(mask, cents, torch.nan).nanmedian(-1, keepdim=True).values
    left = (cents - shift.nan_to_num(0.0) + 600) % 1200 - 600
    kept = (left.abs() < PITCH_TOLERANCE_CENTS) & mask
    n_loud = mask.float().sum(-1)
    return torch.where(n_loud > 0, kept.float().sum(-1) / n_loud.clamp_min(1), 1.0)


def onset_envelope(x: torch.Tensor) -> torch.Tensor:
    """Spectral-flux onset envelope of tiles (B, 1, F, T) on [-1, 1] -> (B, T).

    Per frame: sum over bins of the rise of the [0, 1] log magnitude since the last
    frame (0 for the first), then a FLUX_SMOOTH_FRAMES moving average.
    """
    unit = (x.float()[:, 0].clamp(-1, 1) + 1) * 0.5  # (B, F, T)
    flux = F.pad((unit.diff(dim=-1)).clamp_min(0).sum(1), (1, 0))
    k = FLUX_SMOOTH_FRAMES
    return F.avg_pool1d(flux[:, None], k, stride=1, padding=k // 2, count_include_pad=False)[:, 0]


def _unit_rows(e: torch.Tensor) -> torch.Tensor:
    e = e.double() - e.double().mean(-1, keepdim=True)
    return e / e.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def pooled_tiles(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, F, T) -> (B, F / CYCLE_POOL, T / CYCLE_POOL), average-pooled, fp32."""
    return F.avg_pool2d(x.float(), CYCLE_POOL, ceil_mode=True)[:, 0]


def mean_l1_between(tiles: torch.Tensor) -> torch.Tensor:
    """Mean |t_i - t_j| over all pairs i != j of tiles (n, ...), n >= 2."""
    flat = tiles.double().flatten(1)
    n = flat.shape[0]
    total = sum(float((flat - flat[i]).abs().mean(1).sum()) for i in range(n))
    return torch.tensor(total / (n * (n - 1)), dtype=torch.float64)


@torch.no_grad()
def direction_stats(
    real: torch.Tensor,
    fake: torch.Tensor,
    rec: torch.Tensor,
    cnn: RandomFeatures,
    spec: SpectrogramSpec | None = None,
) -> dict[str, torch.Tensor]:
    """Per-tile statistics of one batch of one direction (real -> fake -> rec), all (B, ...).

    With ``spec`` (needed to read pitch off a tile) the pitch tracks are included."""
    with torch.autocast(real.device.type, enabled=False):  # fixed features: always fp32
        small_real = pooled_tiles(real)
        stats = {
            "feat_real": tile_features(real, cnn),
            "feat_fake": tile_features(fake, cnn),
            "small_real": small_real,
            "cycle_l1": (pooled_tiles(rec) - small_real).abs().mean(dim=(1, 2)),
            "onset_real": onset_envelope(real),
            "onset_fake": onset_envelope(fake),
        }
        if spec is not None:
            stats["pitch_real"], confidence = pitch_and_confidence(real, spec)
            stats["pitch_fake"] = frame_pitch(fake, spec)
            stats["voiced_real"] = voiced_frames(real, confidence)
        return stats


def _content(
    src: dict[str, torch.Tensor], other: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Content terms of one direction: ``src`` holds the source tiles and their translations,
    ``other`` the real tiles of the target domain (the chance reference)."""
    out = {}
    onset_src = _unit_rows(src["onset_real"])
    kept = (onset_src * _unit_rows(src["onset_fake"])).sum(-1).mean()
    chance = (onset_src @ _unit_rows(other["onset_real"]).T).mean()
    out["onset_corr"] = kept
    out["onset"] = (1 - kept) / (1 - chance).clamp_min(CHANCE_FLOOR)
    l1 = src["cycle_l1"].double().mean()
    out["cycle_l1"] = l1
    out["cycle"] = l1 / mean_l1_between(src["small_real"]).clamp_min(1e-3)
    if "pitch_real" in src and "pitch_real" in other:
        hz, loud = src["pitch_real"], src["voiced_real"]
        kept = contour_kept(hz, src["pitch_fake"], loud).double().mean()
        chance = contour_kept(hz[:, None], other["pitch_real"][None], loud[:, None]).mean()
        out["pitch_kept"] = kept
        out["pitch"] = (1 - kept) / (1 - chance.double()).clamp_min(CHANCE_FLOOR)
    return out


def score(stats_a: dict[str, torch.Tensor], stats_b: dict[str, torch.Tensor]) -> dict[str, float]:
    """stats_a: A tiles translated AtoB; stats_b: B tiles translated BtoA (concatenated batches).

    Returns {"score", "domain_ab", "domain_ba", "onset", "cycle"[, "pitch"]} and the raw
    values {"domain_sep", "onset_corr", "cycle_l1"[, "pitch_kept"]} (see the module doc).
    """
    if len(stats_a["feat_real"]) < 2 or len(stats_b["feat_real"]) < 2:
        raise ValueError("the validation score needs at least 2 tiles per domain")
    real_a, real_b = stats_a["feat_real"].double(), stats_b["feat_real"].double()
    both = torch.cat([real_a, real_b])
    std = both.std(0)
    # A feature (nearly) constant over real tiles must not dominate the discriminant.
    mean, std = both.mean(0), std.clamp_min(0.1 * float(std.median()) + 1e-6)

    def z(f: torch.Tensor) -> torch.Tensor:
        return ((f.double() - mean) / std).clamp(-Z_CLIP, Z_CLIP)

    za, zb = z(real_a), z(real_b)
    w = lda_direction(za, zb)
    pa, pb = za @ w, zb @ w
    base = wasserstein_1d(pa, pb).clamp_min(1e-12)
    domain_ab = wasserstein_1d(z(stats_a["feat_fake"]) @ w, pb) / base
    domain_ba = wasserstein_1d(z(stats_b["feat_fake"]) @ w, pa) / base
    pooled_sd = torch.cat([pa - pa.mean(), pb - pb.mean()]).std().clamp_min(1e-12)
    out = {
        "domain_ab": float(domain_ab),
        "domain_ba": float(domain_ba),
        "domain_sep": float((pb.mean() - pa.mean()) / pooled_sd),
    }
    ab, ba = _content(stats_a, stats_b), _content(stats_b, stats_a)
    for key in ab:
        out[key] = float(0.5 * (ab[key] + ba[key]))
    return {"score": compose(out), **out}


def compose(parts: dict[str, float]) -> float:
    """The score from its parts (`score`'s dict, or one saved with a checkpoint)."""
    guards = sum(guard(parts[k]) for k in GUARDED if k in parts)
    return 0.5 * (parts["domain_ab"] + parts["domain_ba"]) + parts["cycle"] + guards


def guard(term: float) -> float:
    """A relative content term (0 kept, 1 chance) -> its share of the score: 0 up to halfway
    to chance, then a smooth step up to 1 at chance (and beyond it, which is chance too).

    Flat at both ends: near halfway a good epoch's noise does not count, and at chance the
    noise of a term that no epoch of the run keeps does not decide between epochs (a voice
    run whose pitch term sat at 0.93-1.07 on every epoch: the linear guard max(0, 2t - 1)
    made that noise the largest part of the score; docs/validation-score.md).
    """
    u = min(1.0, max(0.0, 2.0 * term - 1.0))
    return u * u * (3.0 - 2.0 * u)
