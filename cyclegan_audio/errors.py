"""The project's small exception hierarchy.

Every error a user can cause is a `CycleGanAudioError`; the CLIs print its
message on one line and exit non-zero, never with a traceback.
"""


class CycleGanAudioError(Exception):
    """A problem the user can fix; the message says what and, where possible, how."""


class SpecError(CycleGanAudioError):
    """A spectrogram spec that is invalid or from an unknown format version."""


class AudioError(CycleGanAudioError):
    """An audio file that cannot be read or is unusable (path + reason)."""


class ManifestError(CycleGanAudioError):
    """A manifest that is missing, corrupt or from an unknown format version."""


class CheckpointError(CycleGanAudioError):
    """A checkpoint that cannot be honoured by this version of the code."""


class TrainingError(CycleGanAudioError):
    """Training cannot go on (e.g. a non-finite loss)."""
