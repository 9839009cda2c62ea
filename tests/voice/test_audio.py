"""Audio in and out without FFmpeg: WAV files of every common encoding, resampling to 16 kHz, arrays as they come."""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from tinyplan.voice import AudioError, load_audio, read_wav, resample, wav_bytes

RATE = 22_050


def tone(freq: float = 440.0, seconds: float = 0.5, rate: int = RATE, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_int_wav(path: Path, samples: np.ndarray, width: int, rate: int = RATE, channels: int = 1) -> Path:
    frames = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    if width == 1:
        raw = (np.round(frames * 127) + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = np.round(frames * 32767).astype("<i2").tobytes()
    elif width == 3:
        ints = np.round(frames * (2**23 - 1)).astype(np.int32)
        raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    else:
        raw = np.round(frames * (2**31 - 1)).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return path


def write_float_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_integer_wav_files_read_as_float_samples(tmp_path: Path, width: int) -> None:
    source = tone()
    samples, rate = read_wav(write_int_wav(tmp_path / "a.wav", source, width))
    assert rate == RATE and samples.dtype == np.float32 and samples.shape == source.shape
    assert np.max(np.abs(samples - source)) < (0.02 if width == 1 else 1e-3)


def test_float_and_stereo_wav_files(tmp_path: Path) -> None:
    source = tone()
    samples, _ = read_wav(write_float_wav(tmp_path / "f.wav", source))
    assert np.allclose(samples, source)
    stereo, _ = read_wav(write_int_wav(tmp_path / "s.wav", source, 2, channels=2))
    assert stereo.shape == source.shape and np.max(np.abs(stereo - source)) < 1e-3


def test_a_wav_file_loads_at_16_khz_with_its_pitch_kept(tmp_path: Path) -> None:
    audio = load_audio(write_int_wav(tmp_path / "t.wav", tone(440.0, 1.0), 2))
    assert audio.dtype == np.float32 and audio.shape == (16_000,)
    assert abs(peak_hz(audio, 16_000) - 440.0) < 2.0
    # a tone above the new Nyquist frequency (8 kHz) is filtered out, not folded into the speech band
    high = resample(tone(10_000.0, 1.0), RATE)
    assert np.sqrt(np.mean(high**2)) < 0.05


def test_arrays_pass_through_and_integer_arrays_are_scaled() -> None:
    samples = tone(rate=16_000)
    assert np.array_equal(load_audio(samples), samples)
    ints = (samples * 32767).astype(np.int16)
    assert np.max(np.abs(load_audio(ints) - samples)) < 1e-3
    assert load_audio(np.stack([samples, samples], axis=1)).shape == samples.shape  # (frames, channels) → mono
    with pytest.raises(AudioError, match="shape"):
        load_audio(np.zeros((2, 2, 2), dtype=np.float32))


def test_unreadable_audio_says_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="cannot read the audio file"):
        load_audio(tmp_path / "missing.wav")
    mp3 = tmp_path / "request.mp3"
    mp3.write_bytes(b"ID3\x03\x00" + b"\x00" * 100)
    with pytest.raises(AudioError, match="not a WAV file"):
        load_audio(mp3)


def test_wav_bytes_write_16_bit_pcm_that_reads_back(tmp_path: Path) -> None:
    samples = tone(rate=16_000)
    data = wav_bytes(samples)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16_000, 1, 2)
    (tmp_path / "back.wav").write_bytes(data)
    assert np.max(np.abs(load_audio(tmp_path / "back.wav") - samples)) < 1e-3
