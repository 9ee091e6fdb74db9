"""The 2-1-2D generator of CycleGAN-VC2 (Kaneko et al. 2019), adapted to spectrogram tiles.

2-D convolutions with gated linear units (GLU) near the pixels keep local time-frequency
structure; in the middle the frequency rows are folded into channels and residual blocks
run over time only, so every block sees the whole spectrum of each frame and a long
stretch of time at little cost. Shapes: (B, C, F, T) on the [-1, 1] scale in and out; the
generator is built for one F (the fold is a 1x1 convolution over C*F' channels).

Kernels (freq x time). The first is the paper's 5 x 15: narrow in frequency (5 bins, ~220
Hz at the cpu preset, ~110 Hz at the gpu one) and ~120-150 ms long, the reach of an attack or
a short note, before anything is downsampled. The last is 5 x 5, not the paper's 5 x 15: its
features already carry long context from the 1-D blocks, and on a CPU a 5 x 15 convolution
down to one channel took more time (backward) than the whole rest of this generator. The
strided ones are 3 x 3 as in `ResnetGenerator`; the paper's 5 x 5 cost 1.3x the parameters
and 1.4x the time at the cpu preset for context the 1-D blocks already give. Widths in ``ngf``:
ngf channels at full resolution and 2*ngf at every lower one, the paper's 128/256 ratio;
``width_1d`` * ngf in the 1-D blocks (default 4: 256 at the gpu default as in the paper, twice its ratio because our fold
is ~7x wider (16,384 channels at the gpu default, the paper's 2,304). At the cpu preset this
is ~1.1x the parameters of `ResnetGenerator` in less time).
"""

from __future__ import annotations

import torch
from torch import nn

from .networks import NetworkConfig, with_freq_position

_IN_KERNEL = (5, 15)  # (freq, time), the first convolution
_OUT_KERNEL = (5, 5)  # the last
_STRIDED_KERNEL = 3


def _same_pad(kernel: tuple[int, int]) -> nn.Module:
    """Reflection padding that keeps (F, T) through an odd ``kernel`` (freq, time)."""
    pf, pt = kernel[0] // 2, kernel[1] // 2
    return nn.ReflectionPad2d((pt, pt, pf, pf))


def _conv_glu(cin: int, cout: int, norm: bool = True, **conv: int) -> list[nn.Module]:
    """conv to 2*cout channels (no bias before a norm: it would cancel) [+ IN] + GLU -> cout."""
    layers: list[nn.Module] = [nn.Conv2d(cin, 2 * cout, bias=not norm, **conv)]
    if norm:
        layers.append(nn.InstanceNorm2d(2 * cout))
    return [*layers, nn.GLU(dim=1)]


class ResidualBlock1d(nn.Module):
    """x + IN(conv1d(GLU(IN(conv1d(x))))) over time, (B, W, T) -> (B, W, T); ``dilation``
    spreads the first convolution's taps."""

    def __init__(self, width: int, dilation: int = 1):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad1d(dilation),
            nn.Conv1d(width, 2 * width, 3, dilation=dilation, bias=False),
            nn.InstanceNorm1d(2 * width),
            nn.GLU(dim=1),
            nn.ReflectionPad1d(1),
            nn.Conv1d(width, width, 3, bias=False),
            nn.InstanceNorm1d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class Generator212d(nn.Module):
    """c(5x15)-GLU-ngf, n_downsampling x d(2ngf)-GLU, fold F' into channels, 1x1 to w,
    n_blocks x R1d(w) with w = width_1d * ngf, 1x1 back, unfold, n_downsampling x u-GLU, c(5x15)-1, tanh.

    Input and output (B, C, F, T) with F == ``n_freq``; F and T multiples of 2**n_downsampling.
    """

    def __init__(self, cfg: NetworkConfig, n_freq: int):
        super().__init__()
        n = cfg.n_downsampling
        if n_freq % 2**n:
            raise ValueError(
                f"generator '212d' needs n_freq divisible by 2**n_downsampling = {2**n}, got "
                f"{n_freq}; change the spec's n_fft or n_downsampling"
            )
        self.n_freq, self.freq_position = n_freq, cfg.freq_position
        ngf, c = cfg.ngf, cfg.in_channels
        chans = [ngf] + [2 * ngf] * n  # after the first conv, after each downsampling
        self.folded = chans[-1] * (n_freq // 2**n)  # 2-D channels x frequency rows
        width = cfg.width_1d * ngf
        k, p = _STRIDED_KERNEL, _STRIDED_KERNEL // 2
        down: list[nn.Module] = [
            _same_pad(_IN_KERNEL),
            *_conv_glu(c + int(cfg.freq_position), ngf, norm=False, kernel_size=_IN_KERNEL),
        ]
        for cin, cout in zip(chans[:-1], chans[1:]):
            down += _conv_glu(cin, cout, kernel_size=k, stride=2, padding=p)
        self.down = nn.Sequential(*down)
        cycle = cfg.dilation_cycle
        self.middle = nn.Sequential(
            nn.Conv1d(self.folded, width, 1, bias=False),
            nn.InstanceNorm1d(width),
            *[
                ResidualBlock1d(width, 2 ** (i % cycle) if cycle > 0 else 1)
                for i in range(cfg.n_blocks)
            ],
            nn.Conv1d(width, self.folded, 1, bias=False),
            nn.InstanceNorm1d(self.folded),
        )
        up: list[nn.Module] = []
        for cin, cout in zip(chans[:0:-1], chans[-2::-1]):
            if cfg.upsample == "resize":
                up += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(p)]
                up += _conv_glu(cin, cout, kernel_size=k)
            else:
                up += [
                    nn.ConvTranspose2d(
                        cin, 2 * cout, k, stride=2, padding=p, output_padding=1, bias=False
                    ),
                    nn.InstanceNorm2d(2 * cout),
                    nn.GLU(dim=1),
                ]
        up += [
            _same_pad(_OUT_KERNEL),
            nn.Conv2d(ngf, c, _OUT_KERNEL),
            nn.Tanh(),
        ]
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] != self.n_freq:
            raise ValueError(
                f"generator '212d' was built for {self.n_freq} frequency bins, got {x.shape[2]}"
            )
        h = self.down(with_freq_position(x) if self.freq_position else x)
        b, ch, f, t = h.shape
        h = self.middle(h.reshape(b, ch * f, t))
        return self.up(h.reshape(b, ch, f, t))
