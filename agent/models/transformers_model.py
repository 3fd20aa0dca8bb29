"""TransformersModel: Qwen2-VL / Qwen2.5-VL running in this process with Hugging Face transformers.

torch and transformers are imported inside methods: `import vlagent` stays light, and building a
TransformersModel costs nothing until `load()` (or the first `generate`) reads the checkpoint.

Two fast paths, each on by default and each checked against the stock path by the tests:

- fast_preprocess: screenshots become `pixel_values` through `vlagent.vision` (the processor's
  own resize and normalisation, bit-identical, with fewer copies), and the prompt is tokenized
  with one placeholder per image that is then widened at the id level, instead of the tokenizer
  splitting a string of ~1,300 `<|image_pad|>` per screenshot.
- prefix_cache (incremental prefill): the key/value cache of the last call (its prompt and the
  reply it generated) is kept and handed to the next call cut back to the longest prefix the two
  share (`kv_reuse`), so an agent step prefills only its new turns and its new screenshot; the
  screenshots that are prefilled again (after the screen window rolls) take their vision-tower
  output from `vision_cache` instead of the vision tower. Positions are generate's own, computed
  over the whole prompt, so the suffix gets exactly the positions (M-RoPE included) a full
  prefill gives it.

release_memory (Linux/glibc): freed heap memory goes back to the OS (`malloc_trim`) whenever RSS
has crept 32 MB above its floor, so long runs stay flat.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ModelError, UserError
from ..profiles import PROFILES, Profile, get_profile, profile_for_model_type, profile_for_name
from ..prompts import continues_final, render_messages, strip_continuation
from .kv_reuse import PromptCache, token_keys
from .pixel_cache import PixelCache
from .stopping import cut_at_stop, stop_strings_criteria
from .vision_cache import VisionCache
from .prompt_tokens import TurnTokenizer
from .base import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    Completion,
    CoordinateSystem,
    Message,
    ToolSchema,
)

# Kernel packages a quantized checkpoint needs, as (import name, pip name). transformers 5 runs
# AWQ through gptqmodel; transformers 4 used autoawq.
_QUANT_REQUIREMENTS = {
    "awq": {5: [("gptqmodel", "gptqmodel"), ("accelerate", "accelerate")], 4: [("awq", "autoawq")]},
    "gptq": {5: [("optimum", "optimum"), ("gptqmodel", "gptqmodel")],
             4: [("optimum", "optimum"), (("gptqmodel", "auto_gptq"), "gptqmodel")]},
}

# Special tokens the agent parses (Qwen2-VL grounding); every other special token is dropped.
_GROUNDING_TOKENS = ("<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
                     "<|box_end|>", "<|quad_start|>", "<|quad_end|>")

DEFAULT_MAX_NEW_TOKENS = 512


def _how_to_get(name: str) -> str:
    hub_id = name if name.count("/") == 1 and not name.startswith((".", "/", "~")) else "Qwen/Qwen2-VL-2B-Instruct"
    return (
        f"download it first (`hf download {hub_id} --local-dir DIR`, then pass DIR), pass the path of a "
        "local checkpoint, or serve the model elsewhere and pass its OpenAI-compatible URL"
    )


HUB_PROBE_TIMEOUT = 3.0


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
            f"On a machine with network, {_how_to_get(name)}. (HF_HUB_OFFLINE=1 skips this check and the Hub.)"
        ) from None


class TransformersModel:
    """A Qwen2-VL-family checkpoint (hub id or local path) answering in-process.

    max_new_tokens: the longest answer; None takes the checkpoint's own limit from its
    generation_config.json, or DEFAULT_MAX_NEW_TOKENS where it sets none."""

    def __init__(
        self,
        model: str | Path,
        *,
        device: str | None = None,
        dtype: Any = "auto",
        attn_implementation: str | None = None,
        min_pixels: int = DEFAULT_MIN_PIXELS,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_new_tokens: int | None = None,
        profile: str | None = None,
        temperature: float = 0.0,
        fast_preprocess: bool = True,
        prefix_cache: bool = True,
        release_memory: bool = True,
        adapter: str | Path | None = None,
    ) -> None:
        self.model_name = str(model)
        # A peft (LoRA) adapter directory `vlagent train` wrote over this checkpoint: merged into
        # its weights at load(), so generation runs the plain model at the plain model's speed.
        self.adapter = str(adapter) if adapter is not None else None
        self.description = f"transformers:{self.model_name}" + (f"+{self.adapter}" if self.adapter else "")
        self.device = device
        self.dtype = dtype
        self.attn_implementation = attn_implementation
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels
        self.max_new_tokens = max_new_tokens
        # Named by the user, else a guess from the name until load() reads config.json.
        self.profile_forced = profile is not None
        self.profile: Profile = get_profile(profile) if profile else profile_for_name(self.model_name)
        self.temperature = temperature
        self.fast_preprocess = fast_preprocess
        self.prefix_cache = prefix_cache
        self.release_memory = release_memory
        self.memory_releases = 0
        self._rss_floor: int | None = None
        self._released = False
        self.processor: Any = None
        self.hf_model: Any = None
        self._cache_name = "past_key_values"  # or "cache": what this transformers calls it (load())
        self._pixels = PixelCache()
        self._turn_tokens: TurnTokenizer | None = None
        # Calls that started a fresh key/value cache, and calls that reused the last one's
        # (the tests and `vlagent bench perf` read these counters).
        self.prefix_cache_builds = 0
        self.prefix_cache_hits = 0

    def __repr__(self) -> str:
        return f"TransformersModel({self.model_name!r}, device={self.device!r})"

    @property
    def coordinate_system(self) -> CoordinateSystem:
        return self.profile.coordinate_system

    # -- loading ---------------------------------------------------------------------------

    def load(self) -> "TransformersModel":
        """Read the checkpoint onto the device; `generate` calls this the first time."""
        if self.hf_model is not None:
            return self
        import torch
        import transformers

        config, source, local_only = self._load_config()
        architecture = profile_for_model_type(config.model_type)
        if architecture is None:
            known = ", ".join(f"{t} ({p.family})" for p in PROFILES.values() for t in p.model_types)
            raise UserError(f"{self.model_name} is a {config.model_type!r} model; TransformersModel "
                            f"runs model types {known}")
        if not self.profile_forced:
            self.profile = architecture
        class_name = architecture.model_class
        self._check_quantization(config, transformers.__version__)

        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        kwargs: dict[str, Any] = {"dtype": self._torch_dtype(torch), "local_files_only": local_only}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(source, local_files_only=local_only)
            model = getattr(transformers, class_name).from_pretrained(source, **kwargs)
        except ImportError as e:  # flash-attn or a kernel package missing: the user installs it
            raise UserError(f"cannot load {self.model_name}: {e}") from None
        except OSError as e:
            raise UserError(f"cannot load {self.model_name} ({e}); {_how_to_get(self.model_name)}") from None
        if self.adapter:
            model = _merge_adapter(model, self.adapter)
        # .to() rather than device_map: device_map needs accelerate, which we do not require.
        self.hf_model = model.to(self.device).eval()
        if self.max_new_tokens is None:  # a checkpoint may say how long its answers run
            self.max_new_tokens = getattr(model.generation_config, "max_new_tokens", None) or DEFAULT_MAX_NEW_TOKENS
        # transformers renamed generate's and forward's `past_key_values` to `cache`; pass the
        # name this release reads, so neither release warns nor ignores the prefix cache.
        self._cache_name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        return self

    def _load_config(self) -> tuple[Any, str, bool]:
        from transformers import AutoConfig

        path = Path(self.model_name).expanduser()
        name = self.model_name
        looks_local = path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1
        if path.exists():
            attempts = [(str(path), True)]
        elif looks_local:
            raise UserError(f"model path {self.model_name} does not exist; {_how_to_get(self.model_name)}")
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
        raise UserError(f"cannot load model {self.model_name} ({error}); {_how_to_get(self.model_name)}")

    def _check_quantization(self, config: Any, transformers_version: str) -> None:
        quant = getattr(config, "quantization_config", None) or {}
        method = (quant if isinstance(quant, dict) else quant.to_dict()).get("quant_method")
        major = min(int(transformers_version.split(".")[0]), 5)
        needs = _QUANT_REQUIREMENTS.get(str(method).lower(), {}).get(major, [])
        for modules, pip_name in needs:
            modules = (modules,) if isinstance(modules, str) else modules
            if not any(importlib.util.find_spec(m) for m in modules):
                raise UserError(
                    f"{self.model_name} is {method.upper()}-quantized and needs the {pip_name} "
                    f"package: pip install {pip_name}"
                )

    def _torch_dtype(self, torch: Any) -> Any:
        if self.dtype != "auto":
            return getattr(torch, self.dtype) if isinstance(self.dtype, str) else self.dtype
        if str(self.device).startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32  # bf16 matmuls on most CPUs are slower than fp32, not faster

    # -- generation ------------------------------------------------------------------------

    def render(self, messages: list[Message], tools: list[ToolSchema] | None = None) -> str:
        """The exact text `generate` feeds the model, image placeholders not yet widened."""
        self.load()
        return self._prompt(messages, tools)[0]

    def _prompt(self, messages: list[Message], tools: list[ToolSchema] | None) -> tuple[str, list[Message], bool]:
        """(prompt text, the messages it renders, whether it continues the last assistant turn).
        Tools, calls and results are written by the profile's reference format (the Qwen2-VL
        and Qwen2.5-VL chat templates have no `tools`); the checkpoint's template does the rest."""
        if tools:
            messages = render_messages(messages, tools, self.profile.tool_format)
        continued = continues_final(messages)
        prompt = self.processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=not continued, continue_final_message=continued)
        return prompt, messages, continued

    def generate(
        self, messages: list[Message], tools: list[ToolSchema] | None = None, **options: Any
    ) -> Completion:
        """Answer `messages`; options: max_new_tokens, min_new_tokens, temperature, top_k, top_p,
        stop (strings)."""
        self.load()
        import torch

        start = time.perf_counter()
        prompt, messages, continued = self._prompt(messages, tools)
        images = [
            part["image"]
            for m in messages if isinstance(m.get("content"), list)
            for part in m["content"] if isinstance(part, dict) and part.get("type") == "image"
        ]
        inputs = (self._fast_inputs(prompt, images) if self.fast_preprocess else None) or self._processor_inputs(
            prompt, images
        )
        inputs = inputs.to(self.device)
        prompt_ids = inputs["input_ids"]
        preprocess = time.perf_counter() - start

        temperature = options.get("temperature", self.temperature)
        stop = options.get("stop", self.profile.stop)
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": options.get("max_new_tokens", self.max_new_tokens),
            "do_sample": temperature > 0,
            "stopping_criteria": [timer := first_token_timer()],
        }
        if options.get("min_new_tokens"):  # e.g. benchmarks that need equal-length answers
            gen_kwargs["min_new_tokens"] = options["min_new_tokens"]
        if temperature > 0:
            # Qwen's generation_config.json ships top_k=1, top_p=0.001 (near-greedy): left in
            # place they would make `temperature` do nothing, so unset unless asked for.
            gen_kwargs.update(
                temperature=temperature, top_k=options.get("top_k"), top_p=options.get("top_p")
            )
        if stop:
            gen_kwargs["stopping_criteria"].append(
                stop_strings_criteria(self.processor.tokenizer, stop, prompt_ids.shape[1]))
        # Qwen2-VL keeps the last prompt's M-RoPE offsets on the model and reuses them whenever
        # a cache is passed and no new image follows; they belong to the previous prompt.
        self._forget_rope_deltas()
        begin = time.perf_counter()
        cached_length, keys = 0, None
        try:
            with torch.inference_mode():
                # Looked up (and the suffix's images embedded) on the clock of prefill.
                if self.prefix_cache:
                    keys, cached_length, capture = self._reuse(inputs, images, gen_kwargs)
                else:
                    capture = contextlib.nullcontext()
                with capture:
                    output = self.hf_model.generate(**inputs, **gen_kwargs)
        except torch.cuda.OutOfMemoryError as e:
            raise ModelError(f"out of GPU memory ({e}); lower max_pixels or max_new_tokens") from None
        new_ids = output[0, prompt_ids.shape[1]:].tolist()  # .tolist() waits for the device
        end = time.perf_counter()
        if keys is not None:  # the cache now covers the prompt and the reply but its last token
            self._prompt_cache.keep(keys + new_ids, gen_kwargs[self._cache_name])

        if self.release_memory:
            self._release_freed_memory()
        # cut at the stop string, as servers do (it may end inside a token)
        text, stopped = cut_at_stop(self._decode(new_ids), stop)
        if continued:
            text = strip_continuation(text)
        eos = self.hf_model.generation_config.eos_token_id
        ended = stopped or bool(new_ids) and new_ids[-1] in (eos if isinstance(eos, list) else [eos])
        cut = not ended and len(new_ids) >= gen_kwargs["max_new_tokens"]
        first = timer.first or end
        decode = end - first
        image_token_id = getattr(self.processor, "image_token_id", None)
        return Completion(
            text=text,
            finish_reason="length" if cut else "stop",
            usage={
                "prompt_tokens": prompt_ids.shape[1],
                "completion_tokens": len(new_ids),
                "image_tokens": int((prompt_ids == image_token_id).sum()) if image_token_id is not None else 0,
                # prompt tokens served from the last call's cache, not prefilled (OpenAI's cached_tokens)
                "cached_tokens": cached_length,
                "prefill_tokens": prompt_ids.shape[1] - cached_length,
            },
            timings={
                "preprocess": preprocess,
                "prefill": first - begin,
                "decode": decode,
                "tokens_per_s": (len(new_ids) - 1) / decode if decode > 0 and len(new_ids) > 1 else 0.0,
            },
        )

    # -- preprocessing and the prefix cache ---------------------------------------------------

    def _processor_inputs(self, prompt: str, images: list[Any]) -> Any:
        """The stock path: the processor resizes, normalises and tokenizes."""
        size = {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}
        return self.processor(
            text=[prompt], images=images or None, return_tensors="pt", images_kwargs={"size": size}
        )

    def _fast_inputs(self, prompt: str, images: list[Any]) -> Any:
        """The same inputs as `_processor_inputs`, made faster; None where it cannot be sure to
        match (an unusual processor or tokenizer, a placeholder count that does not add up)."""
        import torch
        from PIL import Image
        from transformers import BatchFeature

        from .. import vision

        processor = self.processor
        image_processor = getattr(processor, "image_processor", None)
        settings = vision.processor_settings(image_processor) if image_processor is not None else None
        image_token = getattr(processor, "image_token", None)
        image_token_id = getattr(processor, "image_token_id", None)
        if settings is None or image_token is None or image_token_id is None:
            return None
        factor = settings["patch_size"] * settings["merge_size"]
        if not all(isinstance(im, Image.Image) and min(im.size) >= factor for im in images):
            # paths, URLs, arrays: the processor reads them; slivers thinner than one 28-pixel
            # cell: qwen-vl-utils' smart_resize (ours) and transformers' round them differently
            return None
        if self._turn_tokens is None or self._turn_tokens.tokenizer is not processor.tokenizer:
            self._turn_tokens = TurnTokenizer(processor.tokenizer)
        ids = torch.tensor([self._turn_tokens.ids(prompt)], dtype=torch.long)
        if int((ids == image_token_id).sum()) != len(images) or prompt.count(image_token) != len(images):
            return None
        data: dict[str, Any] = {}
        if images:
            pixel_values, grid = self._pixel_values(images, settings)
            # One placeholder per image becomes t*h*w / merge² of them, as the processor writes.
            repeats = torch.ones_like(ids[0])
            per_image = (grid.prod(-1) // settings["merge_size"] ** 2).to(repeats.dtype)
            repeats[ids[0] == image_token_id] = per_image
            ids = torch.repeat_interleave(ids[0], repeats).unsqueeze(0)
            data.update(pixel_values=pixel_values, image_grid_thw=grid)
        data["input_ids"] = ids
        data["attention_mask"] = torch.ones_like(ids)
        if getattr(processor, "return_mm_token_type_ids", False):
            kinds = torch.zeros_like(ids)
            kinds[ids == image_token_id] = 1
            video_token_id = getattr(processor, "video_token_id", None)
            if video_token_id is not None:
                kinds[ids == video_token_id] = 2
            data["mm_token_type_ids"] = kinds
        return BatchFeature(data)

    def _pixel_values(self, images: list[Any], settings: dict[str, Any]) -> tuple[Any, Any]:
        """vision.pixel_values, reusing the values of images seen before (see PixelCache)."""
        from .. import vision

        values, grid = self._pixels.batch(images) or vision.pixel_values(
            images, min_pixels=self.min_pixels, max_pixels=self.max_pixels, known=self._pixels.known(images),
            **settings)
        self._pixels.remember(images, values, grid)
        return values, grid

    def prepare_image(self, image: Any) -> None:
        """Make `image`'s pixel values now (the loop calls this from a worker thread while the
        screen settles), so the `generate` that shows it does not wait for them."""
        from PIL import Image

        from .. import vision

        self.load()
        settings = vision.processor_settings(getattr(self.processor, "image_processor", None))
        if not self.fast_preprocess or settings is None or not isinstance(image, Image.Image):
            return

        def compute(im: Any) -> Any:
            values, grid = vision.pixel_values([im], min_pixels=self.min_pixels, max_pixels=self.max_pixels,
                                               **settings)
            return values, tuple(grid[0].tolist())

        self._pixels.prepare(image, compute)

    # The last call's key/value cache and the vision-tower outputs of its screenshots, made on
    # first use (see kv_reuse and vision_cache).
    _prompt_cache: PromptCache | None = None
    _vision_cache: VisionCache | None = None

    def _reuse(self, inputs: Any, images: list[Any], gen_kwargs: dict[str, Any]) -> tuple[list[int], int, Any]:
        """Hand generate the last call's cache, cut back to what this prompt shares with it, and
        the embeddings of the images after that point; returns (this prompt's keys, the number
        of its tokens the cache covers, a context to run generate in).

        Where the cache covers no image and the vision cache knows none of the images, generate
        gets the pixel values as usual and the vision tower's output is kept as it runs."""
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        from .kv_buffer import growing_cache

        if self._prompt_cache is None:
            self._prompt_cache, self._vision_cache = PromptCache(), VisionCache()
        vision = self._vision_cache
        image_token_id = getattr(self.processor, "image_token_id", None)
        image_keys = vision.keys(images)
        ids = inputs["input_ids"][0].tolist()
        keys = token_keys(ids, image_token_id, image_keys)
        cache, length = self._prompt_cache.take(keys, self._min_reuse_share())
        if cache is None:
            cache = growing_cache(self.hf_model.config)
            self.prefix_cache_builds += 1
        else:
            self.prefix_cache_hits += 1
        gen_kwargs[self._cache_name] = cache  # generate extends it in place: kept for the next call
        grid = inputs.get("image_grid_thw")
        if not images or grid is None or "pixel_values" not in inputs:
            return keys, length, contextlib.nullcontext()
        starts = [i for i, k in enumerate(keys) if k < 0 and (i == 0 or keys[i - 1] != k)]
        later = [n for n, start in enumerate(starts) if start >= length]  # images still to prefill
        vision.keep_only(image_keys)
        visual = self.hf_model.model.visual
        if len(later) == len(images) and not any(vision.has(image_keys[n]) for n in later):
            return keys, length, vision.capture(visual, image_keys, grid, visual.spatial_merge_size)
        # The images the cache covers are not fed again, the others come embedded; the grid
        # stays whole: generate computes every token's position from it.
        pixel_values = inputs.pop("pixel_values")
        if later:
            bounds = [0] + grid.prod(-1).cumsum(0).tolist()  # each image's rows of pixel values
            embeds = vision.embeddings(self.hf_model, [image_keys[n] for n in later], pixel_values,
                                       grid[later], [slice(bounds[n], bounds[n + 1]) for n in later])
            gen_kwargs["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=tuple(embeds))}
        return keys, length, contextlib.nullcontext()

    def _min_reuse_share(self) -> float:
        """The least share of a prompt worth reusing here (see kv_reuse.CPU_SDPA_MIN_SHARE)."""
        from .kv_reuse import CPU_SDPA_MIN_SHARE

        on_cpu = str(self.device).startswith("cpu")
        sdpa = getattr(self.hf_model.config, "_attn_implementation", None) == "sdpa"
        return CPU_SDPA_MIN_SHARE if on_cpu and sdpa else 0.0

    def _release_freed_memory(self) -> None:
        """Hand freed heap memory back to the OS when RSS at the end of a call is RELEASE_SLACK
        above the lowest end-of-call level seen, so RSS stays within that band of its floor.

        Each call allocates and frees buffers of tens of MB (pixel values, vision activations,
        attention); glibc serves them from its heap after the first frees, and that heap
        fragments, so RSS creeps up by ~200 KB a call (60 MB over 200 SimPhone steps) although
        nothing leaks. A release costs a few ms plus faulting the pages in again, so it runs
        only then; if even the call after a release ends above the band, the working set itself
        has grown (a longer prompt) and that level becomes the new floor."""
        trim, rss = _malloc_trim(), _rss_bytes()
        if trim is None or rss is None:
            return
        floor = self._rss_floor
        if floor is None:
            self._rss_floor = rss
        elif self._released:
            self._released = False
            self._rss_floor = rss if rss > floor + RELEASE_SLACK else min(floor, rss)
        elif rss > min(floor, rss) + RELEASE_SLACK:
            trim(0)
            self.memory_releases += 1
            self._released = True
        else:
            self._rss_floor = min(floor, rss)

    def _forget_rope_deltas(self) -> None:
        body = getattr(self.hf_model, "model", None)
        if body is not None and hasattr(body, "rope_deltas"):
            body.rope_deltas = None

    def _decode(self, ids: list[int]) -> str:
        # skip_special_tokens would also drop the grounding tokens the parser reads, so drop
        # the other special tokens (end of turn, padding, vision placeholders) by id instead.
        tokenizer = self.processor.tokenizer
        keep = {tokenizer.convert_tokens_to_ids(t) for t in _GROUNDING_TOKENS}
        special = {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
        drop = (special | set(tokenizer.all_special_ids)) - keep
        return tokenizer.decode([i for i in ids if i not in drop], skip_special_tokens=False)


RELEASE_SLACK = 32 * 2**20


def _merge_adapter(model: Any, adapter: str) -> Any:
    """`model` with the peft adapter in `adapter` merged into its weights."""
    if importlib.util.find_spec("peft") is None:
        raise UserError(f"{adapter} is a LoRA adapter and loading it needs peft: pip install 'vlagent[train]'")
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, adapter).merge_and_unload()
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the adapter {adapter} ({e}); give the --out of `vlagent train`") from None


def _malloc_trim() -> Any:
    """glibc's malloc_trim, or None elsewhere (macOS, musl, Windows)."""
    global _TRIM
    if _TRIM is None:
        _TRIM = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _TRIM = ctypes.CDLL(None).malloc_trim
            except (OSError, AttributeError):
                pass
    return _TRIM or None


_TRIM: Any = None


def _rss_bytes() -> int | None:
    """Resident memory of this process from /proc (no psutil needed), or None off Linux."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def first_token_timer() -> Any:
    """A StoppingCriteria that never stops and notes when it is first called: generate() calls
    stopping criteria once per new token, so `.first` marks the end of prefill (vision encoder +
    prompt forward + first sample). Shared with the perf baseline so both time prefill alike."""
    import torch
    from transformers import StoppingCriteria

    class FirstTokenTimer(StoppingCriteria):
        first: float | None = None

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if self.first is None:
                if input_ids.is_cuda:
                    torch.cuda.synchronize()
                self.first = time.perf_counter()
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return FirstTokenTimer()
