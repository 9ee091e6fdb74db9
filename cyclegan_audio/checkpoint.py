"""What a checkpoint carries besides weights, and how downstream code reads it.

Lightning checkpoints get one extra top-level key, ``"cyclegan_audio"``, holding
the format version, package version, spectrogram spec and network sizes, so
`translate`/`evaluate` need no flags for any of them. Network weights live in
``state_dict`` under ``g_ab.``, ``g_ba.``, ``d_a.``, ``d_b.``, and the generators' moving
averages (ema.py) under ``g_ab_ema.``, ``g_ba_ema.``: what translation loads when present.
"""

from __future__ import annotations

import errno
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import __version__, register
from .errors import CheckpointError
from .networks import NetworkConfig, build_generator
from .spec import SpectrogramSpec
from .stored import StoredFormat

CHECKPOINT_FORMAT_VERSION = 1
CHECKPOINT_FORMAT = StoredFormat(
    "checkpoint", CHECKPOINT_FORMAT_VERSION, CheckpointError, fix="use the version that wrote it"
)
META_KEY = "cyclegan_audio"
DIRECTIONS = ("AtoB", "BtoA")
# Reading failed for a reason outside the file (any other OSError means a damaged file:
# torch raises EINVAL for a zip archive cut short).
_ENVIRONMENT_ERRNOS = (errno.EACCES, errno.EPERM, errno.EIO, errno.ENOENT)


def make_meta(spec: SpectrogramSpec, net: NetworkConfig, **extra: Any) -> dict[str, Any]:
    return {
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "package_version": __version__,
        "spec": spec.to_dict(),
        "network": net.to_dict(),
        **extra,
    }


@dataclass
class CheckpointInfo:
    spec: SpectrogramSpec
    network: NetworkConfig
    meta: dict[str, Any]
    state_dict: dict[str, torch.Tensor]

    def generator_state(self, direction: str, ema: bool = True) -> dict[str, torch.Tensor]:
        """Weights of the ``direction`` generator: its EMA when the checkpoint has one and
        ``ema``, else the raw weights (checkpoints written without EMA)."""
        prefix = {"AtoB": "g_ab.", "BtoA": "g_ba."}[direction]
        averaged = prefix[:-1] + "_ema."
        if ema and any(k.startswith(averaged) for k in self.state_dict):
            prefix = averaged
        return {k[len(prefix) :]: v for k, v in self.state_dict.items() if k.startswith(prefix)}


def read_meta(
    raw: dict[str, Any], path: str | Path = "checkpoint"
) -> tuple[SpectrogramSpec, NetworkConfig, dict]:
    """Validate the cyclegan_audio block of a loaded checkpoint dict."""
    meta = raw.get(META_KEY) if isinstance(raw, dict) else None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: not a cyclegan-audio checkpoint (no '{META_KEY}' block)")
    with CHECKPOINT_FORMAT.reading(path, meta):  # a network option unknown here: TrainingError
        spec = SpectrogramSpec.from_dict(meta["spec"])
        net = NetworkConfig.from_dict(meta["network"])
    return spec, net, meta


def load_raw(path: str | Path) -> dict[str, Any]:
    """The whole checkpoint dict on the CPU; a missing, damaged or unsafe file is a CheckpointError.

    Loaded with ``weights_only=True``: tensors and plain data only, so a downloaded
    file cannot run code. Our checkpoints (Lightning's best/last included) hold
    nothing else; Lightning's AttributeDict could not be allowed anyway (the
    weights-only unpickler refuses items set on dict subclasses).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file")
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
            raise CheckpointError(f"{path}: cannot read checkpoint ({exc.strerror})") from None
        unsafe = _unsafe_globals(path) if isinstance(exc, pickle.UnpicklingError) else []
        if unsafe:
            raise CheckpointError(
                f"{path}: refusing to load: the file holds Python objects that are not tensors "
                f"or plain data ({', '.join(unsafe[:5])}), and loading them could run code "
                "from the file; a cyclegan-audio checkpoint never holds them"
            ) from None
        raise CheckpointError(
            f"{path}: not a readable checkpoint: the file is damaged, incomplete (an interrupted "
            "copy or download?) or not a PyTorch checkpoint; copy it again or use another"
        ) from None


def _unsafe_globals(path: Path) -> list[str]:
    """Names of the non-allow-listed Python types pickled in a checkpoint ([] if unknown)."""
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # noqa: BLE001 - a damaged file: the caller's generic message says so
        return []


def read_checkpoint(path: str | Path) -> CheckpointInfo:
    raw = load_raw(path)
    spec, net, meta = read_meta(raw, path)
    return CheckpointInfo(spec=spec, network=net, meta=meta, state_dict=raw.get("state_dict", {}))


def load_generator(
    path: str | Path,
    direction: str = "AtoB",
    device: str | torch.device = "cpu",
    *,
    ema: bool = True,
) -> tuple[SpectrogramSpec, torch.nn.Module]:
    """The generator for ``direction`` ("AtoB" or "BtoA") in eval mode, with the spec it was trained on."""
    spec, g, _ = load_translation(path, direction, device, ema=ema)
    return spec, g


@dataclass
class Translator:
    """All translate needs from a checkpoint: the spec, the generator of one direction (eval
    mode), the trained input peak level (dBFS) and the target-minus-source domain level (LU);
    the last two are None for checkpoints written without them. ``window_tiles``: the tiles
    the generator hears at once when translating (`NetworkConfig.window_tiles`)."""

    spec: SpectrogramSpec
    generator: torch.nn.Module
    input_peak_db: float | None
    level_offset_db: float | None
    window_tiles: int = 1


def load_translator(
    path: str | Path,
    direction: str = "AtoB",
    device: str | torch.device = "cpu",
    *,
    ema: bool = True,
) -> Translator:
    """`Translator` from one read; the generator has the EMA weights when the checkpoint has
    them and ``ema``, else the raw ones."""
    if direction not in DIRECTIONS:
        raise CheckpointError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    ckpt = read_checkpoint(path)
    g = build_generator(ckpt.network, ckpt.spec.n_freq)
    state = ckpt.generator_state(direction, ema)
    if not state:
        raise CheckpointError(f"{path}: checkpoint holds no weights for {direction}")
    # torch.compile wraps modules as "_orig_mod."; accept both spellings.
    state = {k.replace("_orig_mod.", ""): v for k, v in state.items()}
    try:
        g.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: generator weights do not match its network config ({exc})"
        ) from None
    warp = register.direction_warp(ckpt.spec, ckpt.network, direction)
    if not isinstance(warp, torch.nn.Identity):  # the move the generator was trained behind
        g = torch.nn.Sequential(warp, g)
    return Translator(
        ckpt.spec,
        g.eval().to(device),
        ckpt.meta.get("input_peak_db"),
        level_offset_db(ckpt.meta, direction),
        ckpt.network.window_tiles,
    )


def load_translation(
    path: str | Path,
    direction: str = "AtoB",
    device: str | torch.device = "cpu",
    *,
    ema: bool = True,
) -> tuple[SpectrogramSpec, torch.nn.Module, float | None]:
    """(spec, generator, input_peak_db) of `load_translator`."""
    t = load_translator(path, direction, device, ema=ema)
    return t.spec, t.generator, t.input_peak_db


def level_offset_db(meta: dict[str, Any], direction: str = "AtoB") -> float | None:
    """Target domain's training level minus the source domain's, LU (meta "domain_lufs"), for
    translate's "domain" loudness policy; None for checkpoints written without it."""
    levels = meta.get("domain_lufs")
    if not isinstance(levels, dict) or "A" not in levels or "B" not in levels:
        return None
    src, tgt = direction[0], direction[-1]
    return float(levels[tgt]) - float(levels[src])
