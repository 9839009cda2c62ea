"""Audio in: WAV files read with the standard library, resampled to 16 kHz mono float32 with numpy; and back out.

Whisper listens at 16 kHz. `load_audio` takes what a `Transcriber` takes — a WAV file's path or an array already at
16 kHz — and returns the array; it never needs FFmpeg for WAV (8-, 16-, 24- or 32-bit integer PCM or 32-bit float,
any rate, any number of channels, averaged to mono). `wav_bytes` writes an array as a 16-bit PCM WAV, the form a
whisper.cpp server takes.
"""

from __future__ import annotations

import io
import os
import struct
import wave
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from tinyplan.voice._errors import AudioError

__all__ = ["SAMPLE_RATE", "Audio", "Samples", "load_audio", "read_wav", "resample", "wav_bytes"]

SAMPLE_RATE = 16_000
"""Hz: what Whisper models take."""

Samples: TypeAlias = npt.NDArray[np.float32]
"""Mono float32 samples, shape ``(n,)``."""
Audio: TypeAlias = str | os.PathLike[str] | npt.NDArray[Any]
"""What a `Transcriber` takes: a WAV file's path, or mono float32 samples in [-1, 1] at 16 kHz (shape ``(n,)``)."""

_WAVE_FORMAT_IEEE_FLOAT = 3
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def read_wav(path: str | os.PathLike[str]) -> tuple[Samples, int]:
    """Read a WAV file as mono float32 samples in [-1, 1].

    Args:
        path: A RIFF/WAVE file: integer PCM of 8, 16, 24 or 32 bits, or 32-bit IEEE float; any rate and channel
            count (channels are averaged).

    Returns:
        ``(samples, rate)``: shape ``(frames,)`` float32, and the sample rate in Hz.

    Raises:
        AudioError: The file is missing, not a WAV file, or of an encoding listed as unsupported above.
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise AudioError(f"cannot read the audio file {file}: {exc.strerror or exc}") from None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError(f"{file} is not a WAV file (convert it first, e.g. `sox in.mp3 -r 16000 -c 1 out.wav`)")
    fmt_tag = _format_tag(data)
    if fmt_tag == _WAVE_FORMAT_IEEE_FLOAT:
        rate, channels, frames = _float_wav(data, file)
        samples = np.frombuffer(frames, dtype="<f4").astype(np.float32)
    else:
        try:
            with wave.open(io.BytesIO(data)) as w:
                rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
                raw = w.readframes(w.getnframes())
        except (wave.Error, EOFError) as exc:
            raise AudioError(f"cannot read {file} as WAV: {exc}") from None
        samples = _pcm_to_float(raw, width)
    if channels < 1 or rate < 1:
        raise AudioError(f"{file} declares {channels} channel(s) at {rate} Hz")
    usable = len(samples) - len(samples) % channels
    mono = samples[:usable].reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return mono.astype(np.float32, copy=False), rate


def _format_tag(data: bytes) -> int:
    """The ``fmt `` chunk's format tag (the sub-format's for WAVE_FORMAT_EXTENSIBLE); 1 when it cannot be found."""
    at = 12
    while at + 8 <= len(data):
        cid, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if cid == b"fmt " and size >= 2:
            tag = int(struct.unpack("<H", data[at + 8 : at + 10])[0])
            if tag == _WAVE_FORMAT_EXTENSIBLE and size >= 26:
                tag = int(struct.unpack("<H", data[at + 32 : at + 34])[0])
            return tag
        at += 8 + size + (size & 1)
    return 1


def _float_wav(data: bytes, file: Path) -> tuple[int, int, bytes]:
    """Rate, channels and sample bytes of a 32-bit float WAV (the `wave` module reads integer PCM only)."""
    at, rate, channels, frames = 12, 0, 0, b""
    while at + 8 <= len(data):
        cid, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        body = data[at + 8 : at + 8 + size]
        if cid == b"fmt ":
            channels, rate = struct.unpack("<HI", body[2:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if bits != 32:
                raise AudioError(f"{file} holds {bits}-bit float samples; only 32-bit float is read")
        elif cid == b"data":
            frames = body[: len(body) - len(body) % 4]
        at += 8 + size + (size & 1)
    return int(rate), int(channels), frames


def _pcm_to_float(raw: bytes, width: int) -> Samples:
    if width == 1:  # 8-bit WAV is unsigned
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if width == 2:
        return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)
    if width == 3:
        b = np.frombuffer(raw[: len(raw) - len(raw) % 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return (value.astype(np.float32) / float(1 << 23)).astype(np.float32)
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    raise AudioError(f"unsupported WAV sample width: {width * 8} bits")


def resample(samples: Samples, rate: int, target: int = SAMPLE_RATE) -> Samples:
    """Resample mono float32 audio from ``rate`` to ``target`` Hz.

    Downsampling first low-passes below the new Nyquist frequency (a Hann-windowed sinc, 63 taps), then
    interpolates linearly; upsampling only interpolates. Good enough for speech recognition, not for music.

    Returns:
        float32 samples of shape ``(round(n * target / rate),)``.
    """
    x = np.asarray(samples, dtype=np.float32)
    if rate == target or len(x) == 0:
        return x
    if target < rate:
        cutoff = 0.5 * target / rate * 0.95  # cycles per input sample
        taps = 63
        n = np.arange(taps) - (taps - 1) / 2
        kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hanning(taps)
        kernel /= kernel.sum()
        x = np.convolve(x, kernel.astype(np.float32), mode="same").astype(np.float32)
    count = round(len(x) * target / rate)
    positions = np.arange(count, dtype=np.float64) * (rate / target)
    out = np.interp(positions, np.arange(len(x), dtype=np.float64), x)
    return out.astype(np.float32)


def load_audio(audio: Audio) -> Samples:
    """The samples a Whisper model takes: mono float32 at 16 kHz.

    Args:
        audio: A WAV file's path (read and resampled), or an array of samples already at 16 kHz (float32 in
            [-1, 1]; other float or integer dtypes are converted, 2-D ``(frames, channels)`` averaged to mono).

    Raises:
        AudioError: The file cannot be read (see `read_wav`), or the array is empty or not 1-D/2-D.
    """
    if isinstance(audio, str | os.PathLike):
        samples, rate = read_wav(audio)
        return resample(samples, rate)
    array = np.asarray(audio)
    if array.ndim == 2:
        array = array.mean(axis=1)
    if array.ndim != 1:
        raise AudioError(f"audio arrays are mono samples of shape (n,) at 16 kHz, not shape {array.shape}")
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)
    return np.ascontiguousarray(array, dtype=np.float32)  # type: ignore[no-any-return]


def wav_bytes(samples: Samples, rate: int = SAMPLE_RATE) -> bytes:
    """Mono float32 samples as a 16-bit PCM WAV file's bytes (values clipped to [-1, 1])."""
    pcm = (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()
