"""Finding and reading a checkpoint for TransformersModel: a local path or a Hub id (the local
cache first, the network after one short probe), the kernel packages a quantized checkpoint
needs, the dtype to load it in, a LoRA adapter merged into its weights, and the prompt style a
checkpoint `vlagent train` made was trained on.

torch, transformers and peft are imported inside the functions (see transformers_model).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from ..errors import UserError
from .base import checked_prompt_style

# Kernel packages a quantized checkpoint needs, as (import name, pip name). transformers 5 runs
# AWQ through gptqmodel; transformers 4 used autoawq.
_QUANT_REQUIREMENTS = {
    "awq": {5: [("gptqmodel", "gptqmodel"), ("accelerate", "accelerate")], 4: [("awq", "autoawq")]},
    "gptq": {5: [("optimum", "optimum"), ("gptqmodel", "gptqmodel")],
             4: [("optimum", "optimum"), (("gptqmodel", "auto_gptq"), "gptqmodel")]},
}

HUB_PROBE_TIMEOUT = 3.0
# Written by `vlagent train` into its output (and OUT/merged): what else than weights a model
# made there needs to be run as it was trained, {"prompt_style": "full" | "bare"}.
VLAGENT_FILE = "vlagent.json"


def how_to_get(name: str) -> str:
    """What to do about a checkpoint `name` that cannot be read."""
    hub_id = name if name.count("/") == 1 and not name.startswith((".", "/", "~")) else "Qwen/Qwen2-VL-2B-Instruct"
    return (
        f"download it first (`hf download {hub_id} --local-dir DIR`, then pass DIR), pass the path of a "
        "local checkpoint, or serve the model elsewhere and pass its OpenAI-compatible URL"
    )


def _hub_offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _probe_hub(name: str) -> None:
    """One request to the Hub, HUB_PROBE_TIMEOUT seconds at most, before huggingface_hub's own
    download path: that one retries with backoff for half a minute or more on a machine
    without network before it gives up."""
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        httpx.head(endpoint, timeout=HUB_PROBE_TIMEOUT)
    except httpx.TransportError as e:
        raise UserError(
            f"{name} is not in the local Hugging Face cache and the Hub at {endpoint} did not answer "
            f"within {HUB_PROBE_TIMEOUT:.0f} s ({type(e).__name__}): this machine looks offline. "
            f"On a machine with network, {how_to_get(name)}. (HF_HUB_OFFLINE=1 skips this check and the Hub.)"
        ) from None


def load_config(name: str) -> tuple[Any, str, bool]:
    """(the checkpoint's config, the source to load it from, whether that source is local only)
    for `name`, a local path or a Hub id."""
    from transformers import AutoConfig

    path = Path(name).expanduser()
    looks_local = path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1
    if path.exists():
        attempts = [(str(path), True)]
    elif looks_local:
        raise UserError(f"model path {name} does not exist; {how_to_get(name)}")
    else:  # a hub id: the local cache first, the network only when that misses
        attempts = [(name, True)] + ([] if _hub_offline() else [(name, False)])
    error: Exception | None = None
    for source, local_only in attempts:
        if not local_only:
            _probe_hub(name)
        try:
            return AutoConfig.from_pretrained(source, local_files_only=local_only), source, local_only
        except (OSError, ValueError) as e:
            error = e
    raise UserError(f"cannot load model {name} ({error}); {how_to_get(name)}")


def check_quantization(name: str, config: Any, transformers_version: str) -> None:
    """UserError naming the package to install when checkpoint `name` is quantized and the
    kernels it needs under this transformers are missing."""
    quant = getattr(config, "quantization_config", None) or {}
    method = (quant if isinstance(quant, dict) else quant.to_dict()).get("quant_method")
    major = min(int(transformers_version.split(".")[0]), 5)
    needs = _QUANT_REQUIREMENTS.get(str(method).lower(), {}).get(major, [])
    for modules, pip_name in needs:
        modules = (modules,) if isinstance(modules, str) else modules
        if not any(importlib.util.find_spec(m) for m in modules):
            raise UserError(
                f"{name} is {method.upper()}-quantized and needs the {pip_name} "
                f"package: pip install {pip_name}"
            )


def torch_dtype(dtype: Any, device: Any, torch: Any) -> Any:
    """The torch dtype for `dtype` ("auto", a torch dtype's name, or a dtype) on `device`."""
    if dtype != "auto":
        return getattr(torch, dtype) if isinstance(dtype, str) else dtype
    if str(device).startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32  # bf16 matmuls on most CPUs are slower than fp32, not faster


def merge_adapter(model: Any, adapter: str) -> Any:
    """`model` with the peft adapter in `adapter` merged into its weights."""
    if importlib.util.find_spec("peft") is None:
        raise UserError(f"{adapter} is a LoRA adapter and loading it needs peft: pip install 'vlagent[train]'")
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, adapter).merge_and_unload()
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the adapter {adapter} ({e}); give the --out of `vlagent train`") from None


def trained_prompt_style(*dirs: str | None) -> str | None:
    """The RunConfig.prompt_style the first of `dirs` that `vlagent train` wrote says its model
    was trained on; None for any other checkpoint (a Hub id, a released model)."""
    for folder in dirs:
        path = Path(folder).expanduser() / VLAGENT_FILE if folder else None
        if path is not None and path.is_file():
            try:
                return checked_prompt_style(json.loads(path.read_text(encoding="utf-8")).get("prompt_style"))
            except (OSError, ValueError, AttributeError, UserError) as e:
                raise UserError(f"{path} is unreadable ({e}); `vlagent train` writes it, or delete it") from None
    return None
