"""cyclegan-audio: unpaired audio-to-audio translation with CycleGAN on spectrogram tiles."""

__version__ = "0.1.0"

from .errors import CycleGanAudioError  # noqa: E402
from .spec import SpectrogramSpec  # noqa: E402

__all__ = ["CycleGanAudioError", "SpectrogramSpec", "__version__"]
