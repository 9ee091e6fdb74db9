"""Generator and discriminator as the reference CycleGAN built them; every size is a knob.

Plain `nn.Module`s (no Lightning). Shapes: tiles are (B, 1, F, T) on the [-1, 1] scale.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .errors import TrainingError

DISCRIMINATORS = ("patch", "patch+freq", "patch+long")
# Generator normalisation. "instance" (the reference) after every convolution makes the
# generator blind to its input tile's level and contrast: G(a*x + b) = G(x) for any a > 0 and
# b, so a tile of a quiet decaying tail comes out as loud as a tile of a note's attack.
# "first": no norm after the first convolution, whose ReLU then sees the tile's absolute
# dB; "none": no norm anywhere in the generator.
GEN_NORMS = ("instance", "first", "none")
MAX_REGISTER_SHIFT = 36  # semitones: three octaves
RESIDUAL_EDGE = 0.999  # --residual: input tiles clamped to +-this before atanh (+-3.8)
GENERATORS = ("resnet", "212d")


@dataclass(frozen=True)
class NetworkConfig:
    """Sizes of the four networks (g_ab, g_ba share the generator sizes; d_a, d_b the discriminator's)."""

    # The train command's flags come from these fields (cli/config_args.py).
    in_channels: int = field(default=1, metadata={"help": "channels of a tile", "flags": ()})
    ngf: int = field(default=64, metadata={"help": "generator width (first layer)"})
    ndf: int = field(default=64, metadata={"help": "discriminator width (first layer)"})
    n_blocks: int = field(default=9, metadata={"help": "residual blocks in each generator"})
    n_downsampling: int = field(
        default=2, metadata={"help": "stride-2 convolutions in each generator", "flags": ()}
    )
    n_layers_d: int = field(default=3, metadata={"help": "strided layers per discriminator"})
    upsample: str = field(
        default="transpose",
        metadata={
            "help": "generator upsampling: transposed conv (the reference), or resize then conv "
            "(nearest-neighbour; avoids checkerboard tones)",
            "choices": ("transpose", "resize"),
        },
    )
    init_gain: float = field(
        default=0.02, metadata={"help": "std of the initial conv weights", "flags": ()}
    )
    # Audio-aware options, off by default (the reference networks): at the benchmark's budget
    # they lowered LSD on every instrument set but did not win every measure on every set
    # (docs/quality.md).
    freq_position: bool = field(
        default=False,
        metadata={
            "help": "give every network a channel holding each row's frequency position "
            "(-1 lowest bin .. 1 highest), so a convolution knows where it is",
            "negatable": True,
        },
    )
    dilation_cycle: int = field(
        default=0,
        metadata={
            "help": "residual block i dilates its first convolution by 2 to the power (i mod N): "
            "longer time and frequency context at the same cost; 0 = no dilation"
        },
    )
    discriminator: str = field(
        default="patch",
        metadata={
            "help": "patch: 70x70 PatchGAN; patch+freq: plus whole-spectrum judges (the frequency "
            "axis as channels) of time windows at two scales; patch+long: plus one whole-spectrum "
            "judge that sees 127 frames at once (dilated), so a note's decay is judged whole",
            "choices": DISCRIMINATORS,
        },
    )
    generator: str = field(
        default="resnet",
        metadata={
            "help": "resnet: the reference ResNet; 212d: CycleGAN-VC2's 2-1-2D (2-D GLU "
            "convolutions around 1-D residual blocks over time that see the whole spectrum)",
            "choices": GENERATORS,
        },
    )
    residual: bool = field(
        default=False,
        metadata={
            "help": "resnet only: the generator outputs a change to its input tile (in dB, "
            "through the tanh: tanh(atanh(x) + g(x))) instead of a new tile, so it starts as "
            "the identity and keeps the input's detail unless it learns to change it",
            "negatable": True,
        },
    )
    freq_downsampling: int = field(
        default=-1,
        metadata={
            "help": "resnet only: how many of the generator's stride-2 convolutions also halve "
            "the frequency axis (the others halve time only); -1 = all (the reference). At the "
            "cpu preset's 43 Hz rows two halvings leave 172 Hz rows, coarser than a low note's "
            "harmonic spacing; 0 keeps every row (about 2.7x the generator's cost)"
        },
    )
    gen_norm: str = field(
        default="instance",
        metadata={
            "help": "resnet only: instance: instance norm after every convolution (the "
            "reference; the generator cannot see its input tile's level or contrast); first: "
            "none after the first convolution, so the tile's absolute level reaches the "
            "network; none: no normalisation in the generator",
            "choices": GEN_NORMS,
        },
    )
    width_1d: int = field(
        default=4,
        metadata={
            "help": "212d only: width of the 1-D residual blocks in units of --ngf (the whole "
            "spectrum passes through it)",
            "at_least": 1,
        },
    )

    register_shift: float = field(
        default=0.0,
        metadata={
            "help": "semitones the A->B generator moves its input by before converting it "
            "(B->A: the opposite), e.g. 12 for a male -> female voice; a shift of log-frequency "
            "rows, a stretch of linear ones (register.py); 0 = off: instruments keep their notes"
        },
    )
    register_envelope: float = field(
        default=0.0,
        metadata={
            "help": "with --register-shift: keep the spectral envelope (smoothed over this many "
            "Hz, more than the higher voice's pitch) where it is and move only the fine "
            "structure, so a voice's formants stay while its pitch moves; 0 = move everything"
        },
    )
    # Not used in training: the checkpoint carries it to translate, whose default it becomes.
    window_tiles: int = field(
        default=1,
        metadata={
            "help": "tiles of frames the generator hears at once when this checkpoint "
            "translates (translate's default; its --window-tiles wins); the training tiles "
            "stay one tile",
            "at_least": 1,
        },
    )

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise TrainingError(f"unknown generator {self.generator!r}; use one of {GENERATORS}")
        if not abs(self.register_shift) <= MAX_REGISTER_SHIFT:
            raise TrainingError(
                f"--register-shift {self.register_shift:g}: at most {MAX_REGISTER_SHIFT} "
                "semitones either way (a larger move leaves little of any tile)"
            )
        if not -1 <= self.freq_downsampling <= self.n_downsampling:
            raise TrainingError(
                f"--freq-downsampling {self.freq_downsampling}: -1 (all) or 0 .. "
                f"{self.n_downsampling} (the generator's downsamplings)"
            )
        if self.freq_downsampling != -1 and self.generator != "resnet":
            raise TrainingError("--freq-downsampling works with the resnet generator only")
        if self.gen_norm not in GEN_NORMS:
            raise TrainingError(f"unknown --gen-norm {self.gen_norm!r}; use one of {GEN_NORMS}")
        if self.gen_norm != "instance" and self.generator != "resnet":
            raise TrainingError("--gen-norm works with the resnet generator only")
        if self.residual and self.generator != "resnet":
            raise TrainingError("--residual works with the resnet generator only")
        if not self.register_envelope >= 0:
            raise TrainingError(f"--register-envelope {self.register_envelope:g}: Hz, 0 or more")
        if self.window_tiles < 1:
            raise TrainingError(f"--window-tiles {self.window_tiles}: 1 or more")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NetworkConfig:
        """From a stored dict; options a dict predates take their reference value (off), so
        checkpoints written before an option existed rebuild the networks they were."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**REFERENCE_OPTIONS, **{k: v for k, v in d.items() if k in names}})


# The audio-aware options' values in the reference CycleGAN (what older checkpoints hold).
REFERENCE_OPTIONS: dict[str, Any] = {
    "freq_position": False,
    "dilation_cycle": 0,
    "discriminator": "patch",
    "generator": "resnet",
    "residual": False,
    "gen_norm": "instance",
    "freq_downsampling": -1,
    "register_shift": 0.0,
    "register_envelope": 0.0,
    "window_tiles": 1,
}


def _norm(channels: int, on: bool = True) -> nn.Module:
    if not on:
        return nn.Identity()
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


def with_freq_position(x: torch.Tensor) -> torch.Tensor:
    """(B, C, F, T) -> (B, C + 1, F, T): a last channel ramping from -1 (bin 0) to 1 (bin F-1)."""
    b, _, f, t = x.shape
    ramp = torch.linspace(-1.0, 1.0, f, device=x.device, dtype=x.dtype)
    return torch.cat([x, ramp.view(1, 1, f, 1).expand(b, 1, f, t)], dim=1)


class ResnetBlock(nn.Module):
    """x + conv-norm-relu-conv-norm(x), with reflection padding; ``dilation`` spreads the taps."""

    def __init__(self, channels: int, dilation: int = 1, norm: bool = True):
        super().__init__()
        d = dilation
        self.block = nn.Sequential(
            nn.ReflectionPad2d(d),
            nn.Conv2d(channels, channels, 3, dilation=d, bias=True),
            _norm(channels, norm),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=True),
            _norm(channels, norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d(2ngf), d(4ngf), n_blocks x R(4ngf), u(2ngf), u(ngf), c7s1-1, tanh.

    Input and output (B, C, F, T); T must be a multiple of 2**n_downsampling and F of 2 to
    the number of downsamplings that halve frequency (``freq_downsampling``; all by default;
    the default 512x512 tiles are).
    """

    def __init__(self, cfg: NetworkConfig):
        super().__init__()
        c, ngf = cfg.in_channels, cfg.ngf
        self.freq_position = cfg.freq_position
        on = cfg.gen_norm != "none"  # the norm after every convolution but maybe the first
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(c + int(cfg.freq_position), ngf, 7, bias=True),
            _norm(ngf, cfg.gen_norm == "instance"),
            nn.ReLU(True),
        ]
        n_freq = cfg.n_downsampling if cfg.freq_downsampling < 0 else cfg.freq_downsampling
        strides = [(2 if i < n_freq else 1, 2) for i in range(cfg.n_downsampling)]
        for i in range(cfg.n_downsampling):
            m = 2**i
            layers += [
                nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=strides[i], padding=1, bias=True),
                _norm(ngf * m * 2, on),
                nn.ReLU(True),
            ]
        m = 2**cfg.n_downsampling
        cycle = cfg.dilation_cycle
        layers += [
            ResnetBlock(ngf * m, 2 ** (i % cycle) if cycle > 0 else 1, on)
            for i in range(cfg.n_blocks)
        ]
        for i in range(cfg.n_downsampling):
            m = 2 ** (cfg.n_downsampling - i)
            cin, cout = ngf * m, ngf * m // 2
            up = strides[cfg.n_downsampling - 1 - i]  # the mirror of the downsampling
            if cfg.upsample == "resize":
                layers += [
                    nn.Upsample(scale_factor=up, mode="nearest"),
                    nn.ReflectionPad2d(1),
                    nn.Conv2d(cin, cout, 3, bias=True),
                ]
            else:
                layers += [
                    nn.ConvTranspose2d(
                        cin,
                        cout,
                        3,
                        stride=up,
                        padding=1,
                        output_padding=(up[0] - 1, up[1] - 1),
                        bias=True,
                    )
                ]
            layers += [_norm(cout, on), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, c, 7)]
        self.residual = cfg.residual
        if not self.residual:
            layers += [nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(with_freq_position(x) if self.freq_position else x)
        if self.residual:  # the change on the pre-tanh scale; the clamp keeps atanh finite
            return torch.tanh(torch.atanh(x.clamp(-RESIDUAL_EDGE, RESIDUAL_EDGE)) + out)
        return out


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN (n_layers 3): (B, C, F, T) -> (B, 1, F', T') real/fake scores."""

    def __init__(self, cfg: NetworkConfig):
        super().__init__()
        ndf = cfg.ndf
        self.freq_position = cfg.freq_position
        layers: list[nn.Module] = [
            nn.Conv2d(cfg.in_channels + int(cfg.freq_position), ndf, 4, stride=2, padding=1),
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
        return self.model(with_freq_position(x) if self.freq_position else x)


class _SpectrumDiscriminator(nn.Module):
    """Judges whole spectra: the F frequency rows of (B, C, F, T) are the channels of 1-D
    convolutions over time -> (B, 1, T') scores. Subclasses give the layers (`_layers`)."""

    def __init__(self, cfg: NetworkConfig, n_freq: int):
        super().__init__()
        self.model = nn.Sequential(*self._layers(cfg.in_channels * n_freq, cfg.ndf * 4))

    def _layers(self, cin: int, width: int) -> list[nn.Module]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        return self.model(x.reshape(b, c * f, t)).unsqueeze(1)


class FrequencyDiscriminator(_SpectrumDiscriminator):
    """One score per ~16-frame window: three stride-2 convolutions over time."""

    def _layers(self, cin: int, width: int) -> list[nn.Module]:
        layers: list[nn.Module] = []
        for _ in range(3):
            layers += [nn.Conv1d(cin, width, 5, stride=2, padding=2), nn.LeakyReLU(0.2, True)]
            cin = width
        return layers + [nn.Conv1d(width, 1, 3, padding=1)]


class LongDiscriminator(_SpectrumDiscriminator):
    """Judges how whole spectra evolve over a long stretch: convolutions over time dilated
    1, 2, 4, ... 32, so each of the (B, 1, T) scores sees 127 frames (a whole cpu-preset
    tile; over a second at either preset's hop) -- an onset and the decay after it in one
    view, which a 70x70 patch does not get."""

    RECEPTIVE_FIELD = 127

    def _layers(self, cin: int, width: int) -> list[nn.Module]:
        layers: list[nn.Module] = []
        for i in range(6):
            d = 2**i
            layers += [nn.Conv1d(cin, width, 3, padding=d, dilation=d), nn.LeakyReLU(0.2, True)]
            cin = width
        return layers + [nn.Conv1d(width, 1, 1)]


class PatchLongDiscriminator(nn.Module):
    """The PatchGAN plus `LongDiscriminator`; returns both score maps (the GAN losses average
    over the list)."""

    def __init__(self, cfg: NetworkConfig, n_freq: int):
        super().__init__()
        self.patch = PatchDiscriminator(cfg)
        self.long = LongDiscriminator(cfg, n_freq)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.patch(x), self.long(x)]


class MultiDiscriminator(nn.Module):
    """The PatchGAN plus `FrequencyDiscriminator` at full and half time resolution; returns the
    list of their score maps (the GAN losses average over the list)."""

    def __init__(self, cfg: NetworkConfig, n_freq: int):
        super().__init__()
        self.patch = PatchDiscriminator(cfg)
        self.freq = FrequencyDiscriminator(cfg, n_freq)
        self.freq_half = FrequencyDiscriminator(cfg, n_freq)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        half = nn.functional.avg_pool2d(x, (1, 2))
        return [self.patch(x), self.freq(x), self.freq_half(half)]


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """N(0, gain) conv weights, zero biases, as the reference CycleGAN."""
    for m in net.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def build_generator(cfg: NetworkConfig, n_freq: int | None = None) -> nn.Module:
    """The generator ``cfg.generator`` names; "212d" needs the tiles' ``n_freq``."""
    if cfg.generator == "212d":
        if n_freq is None:
            raise ValueError("generator '212d' needs n_freq (frequency bins per tile)")
        from .generator_212d import Generator212d  # it imports this module

        return init_weights(Generator212d(cfg, n_freq), cfg.init_gain)
    return init_weights(ResnetGenerator(cfg), cfg.init_gain)


def build_discriminator(cfg: NetworkConfig, n_freq: int | None = None) -> nn.Module:
    """The discriminator ``cfg.discriminator`` names; all but "patch" need the tiles' ``n_freq``."""
    if cfg.discriminator == "patch":
        return init_weights(PatchDiscriminator(cfg), cfg.init_gain)
    with_spectrum = {"patch+freq": MultiDiscriminator, "patch+long": PatchLongDiscriminator}
    if cfg.discriminator in with_spectrum:
        if n_freq is None:
            raise ValueError(
                f"discriminator {cfg.discriminator!r} needs n_freq (frequency bins per tile)"
            )
        return init_weights(with_spectrum[cfg.discriminator](cfg, n_freq), cfg.init_gain)
    raise ValueError(f"unknown discriminator {cfg.discriminator!r}; use one of {DISCRIMINATORS}")


def tiny_config(**overrides: Any) -> NetworkConfig:
    """A network of a few thousand parameters for tests and CPU smoke runs."""
    base = dict(ngf=4, ndf=4, n_blocks=1, n_layers_d=2)
    base.update(overrides)
    return NetworkConfig(**base)
