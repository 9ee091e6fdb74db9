"""manifest.json: what `prepare` made, with the spec that made it.

Layout of a prepared folder::

    <out>/manifest.json
    <out>/<domain>/<split>/<tile>.png      domain in {"A", "B"}, split in {"train", "val"}

Tile paths in the manifest are relative to the folder holding manifest.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .atomic import atomic_path
from .errors import ManifestError
from .spec import SpectrogramSpec
from .stored import StoredFormat

MANIFEST_FORMAT_VERSION = 1
MANIFEST_FORMAT = StoredFormat(
    "manifest", MANIFEST_FORMAT_VERSION, ManifestError, fix="re-run prepare into a new folder"
)
MANIFEST_NAME = "manifest.json"
DOMAINS = ("A", "B")
SPLITS = ("train", "val")


@dataclass
class TileRecord:
    path: str  # relative to the manifest's folder
    domain: str
    split: str
    source: str  # the source file, relative to its domain folder
    offset_s: float  # start of the tile in the source file, seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "domain": self.domain,
            "split": self.split,
            "source": self.source,
            "offset_s": round(self.offset_s, 6),
        }


@dataclass
class Manifest:
    spec: SpectrogramSpec
    root: Path  # folder holding manifest.json
    tiles: list[TileRecord] = field(default_factory=list)
    # per source file: {"domain", "source", "split", "size", "mtime_ns", "status", "reason", "n_tiles", ...}
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # domain -> input folder
    settings: dict[str, Any] = field(default_factory=dict)  # seed, val_fraction, silence_db …
    package_version: str = __version__

    # ---- queries ----
    def tile_paths(self, domain: str, split: str) -> list[Path]:
        return [self.root / t.path for t in self.tiles if t.domain == domain and t.split == split]

    def count(self, domain: str, split: str) -> int:
        return sum(1 for t in self.tiles if t.domain == domain and t.split == split)

    # ---- serialisation ----
    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": MANIFEST_FORMAT_VERSION,
            "package_version": self.package_version,
            "spec": self.spec.to_dict(),
            "sources": self.sources,
            "settings": self.settings,
            "files": self.files,
            "tiles": [t.to_dict() for t in self.tiles],
        }

    def save(self) -> Path:
        """Write <root>/manifest.json atomically; the previous one stays if writing fails
        (disk full, read-only: a ManifestError naming the path and the reason)."""
        path = self.root / MANIFEST_NAME
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(self.to_dict(), indent=1))
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ManifestError(f"{path}: cannot save the manifest ({reason})") from None
        return path

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Read a manifest from a file or from the folder holding manifest.json."""
        path = Path(path)
        if path.is_dir():
            path = path / MANIFEST_NAME
        if not path.exists():
            raise ManifestError(
                f"{path}: no manifest here; run prepare first (scripts/prepare.py A/ B/)"
            )
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{path}: manifest is not readable JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ManifestError(f"{path}: manifest is not a JSON object")
        with MANIFEST_FORMAT.reading(path, data):
            spec = SpectrogramSpec.from_dict(data["spec"])
            tiles = [TileRecord(**t) for t in data.get("tiles", [])]
        return cls(
            spec=spec,
            root=path.parent,
            tiles=tiles,
            files=data.get("files", {}),
            sources=data.get("sources", {}),
            settings=data.get("settings", {}),
            package_version=data.get("package_version", "?"),
        )


def _domain_medians(m: Manifest, key: str) -> dict[str, float] | None:
    """Each domain's median of the prepared files' ``key``; None when a domain has none."""
    out: dict[str, float] = {}
    for domain in DOMAINS:
        values = [
            float(f[key])
            for f in m.files.values()
            if f.get("domain") == domain and f.get("status") == "ok" and f.get(key) is not None
        ]
        if not values:
            return None
        out[domain] = float(np.median(values))
    return out


def domain_lufs(m: Manifest) -> dict[str, float] | None:
    """Each domain's level: the median loudness (LUFS, before prepare's gain) of its prepared
    files; None when any domain has no measured file (manifests before it was kept).

    Translate's "domain" loudness policy adds target minus source to the input's loudness.
    """
    return _domain_medians(m, "lufs")


def domain_band_loss(m: Manifest) -> dict[str, float] | None:
    """What the spec's band loses of each domain: the median of its files' band loss (dB,
    `metrics.band_limit_loss_db` against the default spec's full band); None when a domain
    has no measured file (manifests written before it was kept)."""
    return _domain_medians(m, "band_loss_db")
