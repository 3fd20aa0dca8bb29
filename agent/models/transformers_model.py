"""TransformersModel: Qwen2-VL / Qwen2.5-VL running in this process with Hugging Face transformers.

torch and transformers are imported inside methods: `import vlagent` stays light, and building a
TransformersModel costs nothing until `load()` (or the first `generate`) reads the checkpoint
(`checkpoint`: where it comes from, quantization kernels, dtype, a LoRA adapter).

Two fast paths, each on by default and each checked against the stock path by the tests:

- fast_preprocess: the processor's inputs made with fewer copies (`fast_inputs`).
- prefix_cache (incremental prefill): the last call's key/value cache and vision-tower outputs
  reused for what the next prompt shares with it (`incremental_prefill`).

release_memory (Linux/glibc): freed heap memory goes back to the OS whenever RSS has crept above
its floor (`memory_release`), so long runs stay flat.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError, UserError
from ..profiles import PROFILES, Profile, get_profile, profile_for_model_type, profile_for_name
from ..prompts import continues_final, render_messages, strip_continuation
from .checkpoint import check_quantization, how_to_get, load_config, merge_adapter, torch_dtype, trained_prompt_style
from .fast_inputs import FastInputs
from .incremental_prefill import IncrementalPrefill
from .memory_release import HeapReleaser
from .stopping import cut_at_stop, stop_strings_criteria

if TYPE_CHECKING:
    from ..video import Clip
from .base import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    Completion,
    CoordinateSystem,
    Message,
    ToolSchema,
    checked_prompt_style,
)

# Special tokens the agent parses (Qwen2-VL grounding); every other special token is dropped.
_GROUNDING_TOKENS = ("<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
                     "<|box_end|>", "<|quad_start|>", "<|quad_end|>")

DEFAULT_MAX_NEW_TOKENS = 512


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
        prompt_style: str | None = None,
    ) -> None:
        self.model_name = str(model)
        # A peft (LoRA) adapter directory `vlagent train` wrote over this checkpoint: merged into
        # its weights at load(), so generation runs the plain model at the plain model's speed.
        self.adapter = str(adapter) if adapter is not None else None
        self.description = f"transformers:{self.model_name}" + (f"+{self.adapter}" if self.adapter else "")
        # The prompt the Agent sends it: named, else the one a checkpoint fine-tuned here learnt on.
        self.prompt_style = checked_prompt_style(prompt_style) or trained_prompt_style(self.adapter, self.model_name)
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
        self._memory = HeapReleaser()
        self.processor: Any = None
        self.hf_model: Any = None
        self._cache_name = "past_key_values"  # or "cache": what this transformers calls it (load())
        self._fast = FastInputs()
        self._prefill = IncrementalPrefill()
        # One load and one call at a time: `bench sim -j N` shares one loaded model between N
        # threads, and the prompt cache, the vision cache, Qwen2-VL's M-RoPE offsets and the heap
        # releaser are this object's state, and two calls at once corrupted them.
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"TransformersModel({self.model_name!r}, device={self.device!r})"

    def serve_conversations(self, count: int) -> None:
        """Keep the prompt cache of each of `count` conversations that take turns on this model
        (`bench sim -j N` threads sharing it) instead of the last call's only, so each step
        reuses its own conversation's keys and values. Memory: one prompt's cache each."""
        with self._lock:
            self._prefill.prompt.slots = max(1, count)

    @property
    def coordinate_system(self) -> CoordinateSystem:
        return self.profile.coordinate_system

    # Calls that started a fresh key/value cache, calls that reused the last one's, and heap
    # releases (the tests and `vlagent bench perf` read these counters).
    @property
    def prefix_cache_builds(self) -> int:
        return self._prefill.builds

    @property
    def prefix_cache_hits(self) -> int:
        return self._prefill.hits

    @property
    def memory_releases(self) -> int:
        return self._memory.releases

    # -- loading ---------------------------------------------------------------------------

    def load(self) -> "TransformersModel":
        """Read the checkpoint onto the device; `generate` calls this the first time."""
        if self.hf_model is not None:
            return self
        with self._lock:
            if self.hf_model is None:  # another thread may have loaded it while this one waited
                self._load()
        return self

    def _load(self) -> None:
        import torch
        import transformers

        config, source, local_only = load_config(self.model_name)
        architecture = profile_for_model_type(config.model_type)
        if architecture is None:
            known = ", ".join(f"{t} ({p.family})" for p in PROFILES.values() for t in p.model_types)
            raise UserError(f"{self.model_name} is a {config.model_type!r} model; TransformersModel "
                            f"runs model types {known}")
        if not self.profile_forced:
            self.profile = architecture
        class_name = architecture.model_class
        check_quantization(self.model_name, config, transformers.__version__)

        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        kwargs: dict[str, Any] = {"dtype": torch_dtype(self.dtype, self.device, torch), "local_files_only": local_only}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(source, local_files_only=local_only)
            model = getattr(transformers, class_name).from_pretrained(source, **kwargs)
        except ImportError as e:  # flash-attn or a kernel package missing: the user installs it
            raise UserError(f"cannot load {self.model_name}: {e}") from None
        except OSError as e:
            raise UserError(f"cannot load {self.model_name} ({e}); {how_to_get(self.model_name)}") from None
        if self.adapter:
            model = merge_adapter(model, self.adapter)
        if self.max_new_tokens is None:  # a checkpoint may say how long its answers run
            self.max_new_tokens = getattr(model.generation_config, "max_new_tokens", None) or DEFAULT_MAX_NEW_TOKENS
        # transformers renamed generate's and forward's `past_key_values` to `cache`; pass the
        # name this release reads, so neither release warns nor ignores the prefix cache.
        self._cache_name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        # .to() rather than device_map: device_map needs accelerate, which we do not require. Set
        # last: `load` takes a model with hf_model set as loaded, without waiting for the lock.
        self.hf_model = model.to(self.device).eval()

    # -- generation ------------------------------------------------------------------------

    def render(self, messages: list[Message], tools: list[ToolSchema] | None = None) -> str:
        """The exact text `generate` feeds the model, image placeholders not yet widened."""
        self.load()
        return self.prompt(messages, tools)[0]

    def prompt(self, messages: list[Message], tools: list[ToolSchema] | None) -> tuple[str, list[Message], bool]:
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
        stop (strings). Threads sharing this model take turns."""
        self.load()
        with self._lock:
            return self._generate(messages, tools, options)

    def _generate(self, messages: list[Message], tools: list[ToolSchema] | None, options: dict[str, Any]) -> Completion:
        import torch

        start = time.perf_counter()
        prompt, messages, continued = self.prompt(messages, tools)
        images = [
            part["image"]
            for m in messages if isinstance(m.get("content"), list)
            for part in m["content"] if isinstance(part, dict) and part.get("type") == "image"
        ]
        from .. import video  # here: `import vlagent` stays cheap (issue #20)

        clips = [video.load(video.from_part(part)) for part in video.video_parts(messages)]
        # With the prompt cache, a screen it covers needs no pixel values: they are made per image.
        inputs = self.inputs(prompt, images, clips, lazy_pixels=self.prefix_cache and not clips).to(self.device)
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
                # A video's tokens are one id repeated: the prefix cache could not tell two apart.
                if self.prefix_cache and not clips:
                    keys, cached_length, capture = self._prefill.start(
                        self.hf_model, inputs, images, gen_kwargs, cache_name=self._cache_name, device=self.device,
                        image_token_id=getattr(self.processor, "image_token_id", None))
                else:
                    capture = contextlib.nullcontext()
                with capture:
                    output = self.hf_model.generate(**inputs, **gen_kwargs)
        except torch.cuda.OutOfMemoryError as e:
            raise ModelError(f"out of GPU memory ({e}); lower max_pixels or max_new_tokens") from None
        new_ids = output[0, prompt_ids.shape[1]:].tolist()  # .tolist() waits for the device
        end = time.perf_counter()
        if keys is not None:  # the cache now covers the prompt and the reply but its last token
            self._prefill.keep(keys, new_ids, gen_kwargs[self._cache_name])

        if self.release_memory:
            self._memory.after_call()
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
        video_token_id = getattr(self.processor, "video_token_id", None)
        return Completion(
            text=text,
            finish_reason="length" if cut else "stop",
            usage={
                "prompt_tokens": prompt_ids.shape[1],
                "completion_tokens": len(new_ids),
                "image_tokens": int((prompt_ids == image_token_id).sum()) if image_token_id is not None else 0,
                "video_tokens": int((prompt_ids == video_token_id).sum()) if clips and video_token_id is not None else 0,
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

    # -- preprocessing ------------------------------------------------------------------------

    def inputs(self, prompt: str, images: list[Any], clips: "list[Clip]" = (), *, lazy_pixels: bool = False) -> Any:
        """What `generate` feeds the model for `prompt` (from `prompt()`), its images and its
        videos (`vlagent.video.load`): the fast path's inputs where it is on and sure to match
        (no videos), else the processor's. lazy_pixels: on the fast path, `pixel_values` is made
        per image when asked for (fast_inputs.LazyPixelValues: for the incremental prefill)."""
        fast = self.fast_preprocess and not clips
        return (self._fast_inputs(prompt, images, lazy_pixels=lazy_pixels) if fast else None) or \
            self._processor_inputs(prompt, images, clips)

    def _processor_inputs(self, prompt: str, images: list[Any], clips: "list[Clip]" = ()) -> Any:
        """The stock path: the processor resizes, normalises and tokenizes. Videos come already
        sampled and sized (qwen-vl-utils' rules, `vlagent.video`): the processor is told to take
        every frame as it is, as qwen-vl-utils tells it."""
        size = {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}
        extra: dict[str, Any] = {}
        if clips:
            areas = [c.size[0] * c.size[1] for c in clips]
            extra = {"videos": [c.frames for c in clips], "videos_kwargs": {
                # one rate for the call (the processor takes one): the first video's
                "do_sample_frames": False, "fps": clips[0].fps,
                "size": {"shortest_edge": min(areas), "longest_edge": max(areas)}}}
            if hasattr(getattr(self.processor, "video_processor", None), "cap_pixels_per_frame"):
                # the reference's cap, which our sizes already meet (and no warning that it is off)
                extra["videos_kwargs"]["cap_pixels_per_frame"] = True
        return self.processor(
            text=[prompt], images=images or None, return_tensors="pt", images_kwargs={"size": size}, **extra
        )

    def _fast_inputs(self, prompt: str, images: list[Any], *, lazy_pixels: bool = False) -> Any:
        """The same inputs as `_processor_inputs`, made faster (see fast_inputs); None where they
        might not match."""
        return self._fast.build(self.processor, prompt, images, min_pixels=self.min_pixels,
                                max_pixels=self.max_pixels, lazy_pixels=lazy_pixels)

    def prepare_image(self, image: Any) -> None:
        """Make `image`'s pixel values now (the loop calls this from a worker thread while the
        screen settles), so the `generate` that shows it does not wait for them."""
        self.load()
        if self.fast_preprocess:
            self._fast.prepare(self.processor, image, min_pixels=self.min_pixels, max_pixels=self.max_pixels)

    # -- around generate -------------------------------------------------------------------------

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
