"""Record a spoken request from the microphone until the speaker stops (``tinyplan listen``).

`until_silence` is the decision, on any stream of sample blocks: it waits for speech (a block whose loudness is
well above the noise floor measured at the start), keeps recording, and stops after ``silence`` seconds of quiet
or at ``max_seconds``. `microphone_blocks` streams blocks from the default input device with sounddevice
(PortAudio). `record_until_silence` puts them together.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Generator, Iterable
from typing import Any

import numpy as np

from tinyplan.voice._audio import SAMPLE_RATE, Samples
from tinyplan.voice._errors import SoundDeviceError, VoiceError

__all__ = ["microphone_blocks", "record_until_silence", "until_silence"]

_BLOCK = 480  # samples: 30 ms at 16 kHz
_MIN_LEVEL = 0.01  # RMS (full scale 1.0) below which nothing counts as speech, however quiet the room
_FLOOR_FACTOR = 4.0  # speech is this many times louder than the noise floor
_PRE_ROLL = 0.3  # seconds kept before the first loud block (the start of a word is quiet)


def _rms(block: Samples) -> float:
    return float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))) if len(block) else 0.0


def until_silence(
    blocks: Iterable[Samples],
    *,
    rate: int = SAMPLE_RATE,
    silence: float = 1.0,
    max_seconds: float = 15.0,
    start_timeout: float = 8.0,
    calibrate: float = 0.3,
) -> Samples:
    """Take blocks of mono samples until speech has started and then stopped.

    Args:
        blocks: Mono float32 sample blocks in time order (any length).
        rate: Their sample rate in Hz.
        silence: Seconds of quiet after speech that end the recording.
        max_seconds: The longest recording kept, in seconds.
        start_timeout: Seconds to wait for speech to start.
        calibrate: The first seconds measure the noise floor (the quietest block among them).

    Returns:
        The samples from just before the speech started (0.3 s) to the end, shape ``(n,)`` float32.

    Raises:
        VoiceError: No speech started within ``start_timeout``, or the blocks ended first.
    """
    kept: list[Samples] = []
    seen = 0.0
    floor: float | None = None
    levels: list[float] = []
    started_at: float | None = None
    quiet = 0.0
    pre: list[Samples] = []
    for raw in blocks:
        block = np.asarray(raw, dtype=np.float32).reshape(-1)
        duration = len(block) / rate
        level = _rms(block)
        seen += duration
        if started_at is None:
            if seen <= calibrate or floor is None:
                levels.append(level)
            if seen >= calibrate and floor is None:
                floor = min(levels)
            threshold = max(_MIN_LEVEL, (floor or 0.0) * _FLOOR_FACTOR)
            pre.append(block)
            while sum(len(b) for b in pre) / rate > _PRE_ROLL + duration:
                pre.pop(0)
            if floor is not None and level >= threshold:
                started_at = seen
                kept.extend(pre)
                pre = []
            elif seen >= start_timeout:
                raise VoiceError(f"heard nothing for {start_timeout:g} s: speak after the prompt, closer to the mic")
            continue
        kept.append(block)
        threshold = max(_MIN_LEVEL, (floor or 0.0) * _FLOOR_FACTOR)
        quiet = quiet + duration if level < threshold else 0.0
        if quiet >= silence or seen - started_at >= max_seconds:
            break
    else:
        if started_at is None:
            raise VoiceError("the recording ended before anyone spoke")
    return np.concatenate(kept).astype(np.float32) if kept else np.zeros(0, dtype=np.float32)


def microphone_blocks(*, rate: int = SAMPLE_RATE, device: int | str | None = None) -> Generator[Samples, None, None]:
    """Open a microphone and return its blocks of 30 ms of mono float32 samples, until the generator is closed.

    The device is checked and opened at once (not at the first block), so a missing microphone is found before
    anyone is asked to speak.

    Args:
        rate: Sample rate in Hz.
        device: A sounddevice input device (index or name); None: the default input.

    Raises:
        SoundDeviceError: sounddevice or the PortAudio library is missing, there is no input device, or the device
            stops delivering audio (each message says what to do; ``tinyplan run --audio FILE`` needs no device).
    """
    sd = _sounddevice()
    try:
        sd.check_input_settings(device=device, channels=1, samplerate=rate, dtype="float32")
    except Exception as exc:
        raise SoundDeviceError(
            f"no microphone to record from ({_one_line(exc)}); record a WAV elsewhere and use tinyplan run --audio FILE"
        ) from None
    blocks: queue.Queue[Samples] = queue.Queue()

    def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
        blocks.put(np.array(indata[:, 0], dtype=np.float32))

    try:
        stream = sd.InputStream(
            samplerate=rate, channels=1, dtype="float32", blocksize=_BLOCK, device=device, callback=callback
        )
        stream.start()
    except Exception as exc:
        raise SoundDeviceError(f"cannot open the microphone: {_one_line(exc)}") from None

    def read() -> Generator[Samples, None, None]:
        try:
            while True:
                try:
                    yield blocks.get(timeout=2.0)
                except queue.Empty:
                    raise SoundDeviceError("the microphone delivered no audio for 2 s") from None
        finally:
            stream.stop()
            stream.close()

    return read()


def record_until_silence(
    *,
    silence: float = 1.0,
    max_seconds: float = 15.0,
    start_timeout: float = 8.0,
    device: int | str | None = None,
    on_ready: Callable[[], None] | None = None,
) -> Samples:
    """Record from the microphone until the speaker stops (see `until_silence`); 16 kHz mono float32.

    Args:
        silence: Seconds of quiet after speech that end the recording.
        max_seconds: The longest recording kept.
        start_timeout: Seconds to wait for speech to start.
        device: The input device (see `microphone_blocks`).
        on_ready: Called once the microphone is open (e.g. to tell the user to speak).

    Raises:
        SoundDeviceError: No microphone (see `microphone_blocks`).
        VoiceError: Nobody spoke within ``start_timeout`` seconds.
    """
    source = microphone_blocks(device=device)
    try:
        if on_ready is not None:
            on_ready()
        return until_silence(source, silence=silence, max_seconds=max_seconds, start_timeout=start_timeout)
    finally:
        source.close()


def _sounddevice() -> Any:
    try:
        import sounddevice  # type: ignore[import-not-found,import-untyped]
    except ImportError:
        raise SoundDeviceError(
            "no microphone support: the sounddevice package is not installed (pip install 'tinyplan[voice]')"
        ) from None
    except OSError as exc:  # sounddevice loads PortAudio when imported
        raise SoundDeviceError(
            f"no microphone support: the PortAudio library is missing ({_one_line(exc)}); install it, e.g. "
            "apt-get install libportaudio2"
        ) from None
    return sounddevice


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
