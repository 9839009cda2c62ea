"""The voice extra's errors: every one is a `tinyplan.TinyplanError` (a `VoiceError`)."""

from __future__ import annotations

from tinyplan._errors import TinyplanError

__all__ = [
    "INSTALL_HINT",
    "AudioError",
    "SoundDeviceError",
    "TranscriberUnavailableError",
    "TranscriptionError",
    "VoiceError",
    "voice_missing",
]

INSTALL_HINT = "install the voice extra: pip install 'tinyplan[voice]'"


class VoiceError(TinyplanError):
    """Speech input failed. Base of the voice extra's errors."""


class AudioError(VoiceError):
    """The audio cannot be read: a missing file, not a WAV file, an unsupported encoding, a malformed array."""


class TranscriberUnavailableError(VoiceError):
    """The transcriber cannot run: its package is not installed, or its server cannot be reached."""


class TranscriptionError(VoiceError):
    """The transcriber ran and failed: an HTTP error status, a malformed answer, a decoding error."""


class SoundDeviceError(VoiceError):
    """No microphone to record from: no sound device, no PortAudio library, or the device failed."""


def voice_missing(package: str) -> TranscriberUnavailableError:
    """The error for a missing package of the voice extra, with the install hint."""
    return TranscriberUnavailableError(f"{package} is not installed: {INSTALL_HINT}")
