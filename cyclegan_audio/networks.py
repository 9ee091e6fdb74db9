"""Generator and discriminator as the reference CycleGAN built them; every size is a knob.

Plain `nn.Module`s (no Lightning). Shapes: tiles are (B, 1, F, T) on the [-1, 1] scale.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the four networks (g_ab, g_ba share the generator sizes; d_a, d_b the discriminator's)."""

    in_channels: int = 1
    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9
    n_downsampling: int = 2
    n_layers_d: int = 3
    # "transpose" as the reference; "resize" (nearest-neighbour upsample + conv) avoids checkerboard tones.
    upsample: str = "transpose"
    init_gain: float = 0.02

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """x + conv-norm-relu-conv-norm(x), with reflection padding."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            _norm(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d(2ngf), d(4ngf), n_blocks x R(4ngf), u(2ngf), u(ngf), c7s1-1, tanh.

    Input and output (B, C, F, T); F and T must be multiples of 2**n_downsampling
    (the default 512x512 tiles are).
    """

    def __init__(self, cfg: NetworkConfig):
        super().__init__()
        c, ngf = cfg.in_channels, cfg.ngf
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(c, ngf, 7, bias=True),
            _norm(ngf),
            nn.ReLU(True),
        ]
        for i in range(cfg.n_downsampling):
            m = 2**i
            layers += [
                nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1, bias=True),
                _norm(ngf * m * 2),
                nn.ReLU(True),
            ]
        m = 2**cfg.n_downsampling
        layers += [ResnetBlock(ngf * m) for _ in range(cfg.n_blocks)]
        for i in range(cfg.n_downsampling):
            m = 2 ** (cfg.n_downsampling - i)
            cin, cout = ngf * m, ngf * m // 2
            if cfg.upsample == "resize":
                layers += [
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.ReflectionPad2d(1),
                    nn.Conv2d(cin, cout, 3, bias=True),
                ]
            else:
                layers += [
                    nn.ConvTranspose2d(
                        cin, cout, 3, stride=2, padding=1, output_padding=1, bias=True
                    )
                ]
            layers += [_norm(cout), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, c, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.multiple = 2**cfg.n_downsampling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN (n_layers 3): (B, C, F, T) -> (B, 1, F', T') real/fake scores."""

    def __init__(self, cfg: NetworkConfig):
        super().__init__()
        ndf = cfg.ndf
        layers: list[nn.Module] = [
            nn.Conv2d(cfg.in_channels, ndf, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, cfg.n_layers_d):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=True),
                _norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**cfg.n_layers_d, 8)
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=True),
            _norm(ndf * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """N(0, gain) conv weights, zero biases, as the reference CycleGAN."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def build_generator(cfg: NetworkConfig) -> ResnetGenerator:
    return init_weights(ResnetGenerator(cfg), cfg.init_gain)


def build_discriminator(cfg: NetworkConfig) -> PatchDiscriminator:
    return init_weights(PatchDiscriminator(cfg), cfg.init_gain)


def tiny_config(**overrides: Any) -> NetworkConfig:
    """A network of a few thousand parameters for tests and CPU smoke runs."""
    base = dict(ngf=4, ndf=4, n_blocks=1, n_layers_d=2)
    base.update(overrides)
    return NetworkConfig(**base)
