"""The base model of a fine-tune: a GGUF file (dequantized by transformers) or a Hugging Face folder.

transformers reads GGUF files itself (``from_pretrained(folder, gguf_file=name)``): it maps the GGUF metadata to a
model config, dequantizes every tensor to float32 and builds the tokenizer from the GGUF vocabulary. The bundled
Qwen2.5-Coder-1.5B Q4_K_M therefore trains as the float32 model it was quantized from (up to the quantization
error), and the LoRA adapter trained on it applies to the quantized file in llama.cpp.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinyplan._errors import ModelError
from tinyplan.finetune._errors import BaseModelError

__all__ = ["BaseModelSource", "check_causal_lm", "load_base", "resolve_base"]


@dataclass(frozen=True, slots=True)
class BaseModelSource:
    """Where the base model's weights are.

    Attributes:
        spec: What the user asked for (``"default"``, ``"tiny"``, a path).
        folder: The folder transformers loads from.
        gguf_file: The GGUF file's name inside ``folder``; None for a Hugging Face folder (``config.json``).
    """

    spec: str
    folder: Path
    gguf_file: str | None

    @property
    def path(self) -> Path:
        """The GGUF file, or the Hugging Face folder."""
        return self.folder / self.gguf_file if self.gguf_file else self.folder

    def pretrained_kwargs(self) -> dict[str, Any]:
        """``from_pretrained`` keyword arguments (``gguf_file`` for a GGUF base)."""
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def resolve_base(spec: str | os.PathLike[str] | None = "default") -> BaseModelSource:
    """Find the base model.

    Args:
        spec: ``"default"`` or None (the bundled Qwen2.5-Coder-1.5B-Instruct GGUF, assembled if needed), ``"tiny"``
            (SmolLM2-135M, for tests), a ``.gguf`` file, or a Hugging Face model folder (with ``config.json``).

    Raises:
        BaseModelError: The file or folder does not exist, a folder has no ``config.json``, or the default model
            cannot be assembled (the message says what to install).
    """
    from tinyplan.backends._gguf import default_model_path, tiny_model_path

    name = "default" if spec is None else str(spec)
    try:
        if name == "default":
            path = default_model_path()
        elif name == "tiny":
            path = tiny_model_path()
        else:
            path = Path(name).expanduser()
    except ModelError as exc:
        raise BaseModelError(f"base model {name!r}: {exc}") from exc
    if path.is_file():
        return BaseModelSource(name, path.resolve().parent, path.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BaseModelError(f"{path} is a folder without config.json: not a Hugging Face model folder")
        return BaseModelSource(name, path.resolve(), None)
    raise BaseModelError(f"base model {name!r} not found: give 'default', a .gguf file or a Hugging Face folder")


def check_causal_lm(source: BaseModelSource) -> Any:
    """Read the base's config (no weights) and check that it is a causal (decoder-only) language model.

    Returns:
        The ``transformers.PretrainedConfig``.

    Raises:
        BaseModelError: The config cannot be read (not a GGUF/model folder transformers knows, an architecture it
            cannot load), or the model type has no causal-LM head in transformers (e.g. ``bert``).
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    try:
        config = AutoConfig.from_pretrained(str(source.folder), **source.pretrained_kwargs())
    except (ValueError, OSError, KeyError, RuntimeError) as exc:
        raise BaseModelError(f"cannot read the base model {source.path}: {exc}") from exc
    model_type = getattr(config, "model_type", None)
    causal = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    # A folder's config names the head its weights were trained for: BERT has a causal-LM class in transformers,
    # but a "BertForMaskedLM" checkpoint is an encoder, not a model that writes text left to right.
    heads = [a for a in getattr(config, "architectures", None) or [] if isinstance(a, str)]
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or (
        heads and not any(h in causal or h.endswith(("ForCausalLM", "LMHeadModel")) for h in heads)
    ):
        what = f"model type {model_type!r}" + (f", {', '.join(heads)}" if heads else "")
        raise BaseModelError(
            f"{source.path} is not a causal language model ({what}); fine-tuning the planner needs a decoder-only "
            "model such as Qwen2.5 or Llama"
        )
    return config


def load_base(source: BaseModelSource, *, dtype: Any = None) -> tuple[Any, Any]:
    """Load the base model and its tokenizer (a GGUF base is dequantized to ``dtype``, a plain dense model).

    Args:
        source: From `resolve_base`.
        dtype: The torch dtype of the weights (default float32: a CPU trains in float32).

    Returns:
        ``(model, tokenizer)``: a ``transformers`` causal LM and its tokenizer, with a padding token set (the end
        of sequence token when the model has none).

    Raises:
        BaseModelError: Not a causal LM (`check_causal_lm`), or loading fails.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_causal_lm(source)
    kwargs: dict[str, Any] = source.pretrained_kwargs()
    model_kwargs = dict(kwargs)
    if source.gguf_file:
        from transformers import GgufConfig

        model_kwargs["quantization_config"] = GgufConfig(dequantize=True)  # dense weights that LoRA can wrap
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.folder), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(str(source.folder), dtype=dtype or torch.float32, **model_kwargs)
    except (ValueError, OSError, KeyError, RuntimeError, NotImplementedError) as exc:
        raise BaseModelError(f"cannot load the base model {source.path}: {exc}") from exc
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # the weights are dense now: a plain model, which the Trainer accepts for training
        quantizer.remove_quantization_config(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(model.config, "architectures", None):
        model.config.architectures = [type(model).__name__]  # GGUF configs lack it; llama.cpp's converter needs it
    return model, tokenizer
