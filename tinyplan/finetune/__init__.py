"""Fine-tune the planner model with LoRA and serve the adapter through llama.cpp (TinyAgent's third step).

Install the optional extra: ``pip install 'tinyplan[train]'`` (transformers, peft, TRL, accelerate, gguf; install a
CPU build of torch first on a machine without a GPU). See docs/finetune.md.

* `finetune` (``tinyplan finetune``): LoRA with TRL's ``SFTTrainer`` on the planner's exact prompts and the plans,
  loss on the plan tokens only, from the bundled GGUF or a Hugging Face folder; checkpoints and resume; the adapter
  converted to a GGUF LoRA adapter that ``LlamaCppBackend(lora=...)`` / ``tinyplan run --lora`` serve.
* `load_training_data`: synthesized examples or SFT exports → prompt/completion pairs by split, checked line by line.
* `resolve_base`, `load_base`, `check_causal_lm`: the base model.
* `convert_adapter`: a PEFT adapter → GGUF, with llama.cpp's ``convert_lora_to_gguf.py``.
"""

from tinyplan._extras import require_extra

require_extra("tinyplan.finetune", "train", ("torch", "transformers", "peft", "trl", "accelerate", "datasets", "gguf"))

from tinyplan.finetune._base import BaseModelSource, check_causal_lm, load_base, resolve_base
from tinyplan.finetune._convert import LLAMA_CPP_SRC_ENV, convert_adapter, llama_cpp_converter
from tinyplan.finetune._data import TrainingData, load_training_data, record_to_pair
from tinyplan.finetune._errors import AdapterExportError, BaseModelError, FinetuneError, TrainingDataError
from tinyplan.finetune._train import ADAPTER_GGUF, FinetuneConfig, FinetuneResult, StepLog, build_trainer, finetune

__all__ = [
    "ADAPTER_GGUF",
    "LLAMA_CPP_SRC_ENV",
    "AdapterExportError",
    "BaseModelError",
    "BaseModelSource",
    "FinetuneConfig",
    "FinetuneError",
    "FinetuneResult",
    "StepLog",
    "TrainingData",
    "TrainingDataError",
    "build_trainer",
    "check_causal_lm",
    "convert_adapter",
    "finetune",
    "llama_cpp_converter",
    "load_base",
    "load_training_data",
    "record_to_pair",
    "resolve_base",
]
