"""Helpers for testing vlagent and code built on it, without a phone, a GPU or a download.

`tiny_checkpoint(path, family)` writes a random-weight Qwen2-VL or Qwen2.5-VL checkpoint made
with the real transformers classes (config, model, byte-level BPE tokenizer, image processor, processor, chat template), so
`TransformersModel` runs end to end in seconds on a CPU. Its answers are gibberish; the plumbing
(template, image tokens, pixel values, generate, decode) is the real thing.

`size="small"` makes one a few million parameters large whose tokenizer has learnt the agent's
own prompts (system prompt, tool blocks), so a prompt is a few hundred tokens, not thousands:
small and short enough that `vlagent train` teaches it a SimPhone task on a laptop's CPU.

torch, transformers and tokenizers are imported inside the function: importing this module
costs nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from PIL import Image

# Qwen's special tokens, in Qwen's id order (ids follow the BPE vocabulary). `<tool_call>` and
# `</tool_call>` are added but not special, as in Qwen2.5: decoding must keep them.
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]
TOOL_CALL_TOKENS = ["<tool_call>", "</tool_call>"]

# Our own Jinja template, producing the same text as Qwen2-VL's: a default system prompt when
# the conversation starts without one, image parts as <|vision_start|><|image_pad|><|vision_end|>.
# Fixed text sits in {{ '...' }} expressions because transformers renders with trim_blocks, which
# would eat a newline written right after a block tag.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message.role != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{ '<|im_start|>' + message.role + '\\n' }}"
    "{% if message.content is string %}{{ message.content }}"
    "{% else %}{% for part in message.content %}"
    "{% if part.type == 'image' or 'image' in part or 'image_url' in part %}"
    "{{ '<|vision_start|><|image_pad|><|vision_end|>' }}"
    "{% elif part.type == 'video' or 'video' in part %}"
    "{{ '<|vision_start|><|video_pad|><|vision_end|>' }}"
    "{% elif 'text' in part %}{{ part.text }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Enough text for the BPE to learn some merges; every byte is in the vocabulary regardless
# (byte-level alphabet), so any unicode string encodes.
_CORPUS = [
    "You are a helpful assistant. Click the Settings button, then open Wi-Fi.",
    '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [639, 1095]}}\n',
    "Type the message: Hello, world! Swipe up, go home, wait 2 seconds, terminate with success.",
    "The weather in Paris is 21°C; flights from Zürich to 東京 cost €420. ✿FUNCTION✿: get_weather",
]


TINY_MAX_NEW_TOKENS = 32


TINY_FAMILIES = ("qwen2-vl", "qwen2.5-vl")

# Sizes: the language model's width, depth and heads, its rotary base and M-RoPE split, the vision
# tower's, the BPE vocabulary, whether the tokenizer also learns the agent's prompts, and the
# longest answer. tiny: plumbing only (~0.2M parameters). small: ~3M, a model that can learn to
# point: M-RoPE gives its head_dim/2 = 16 rotary frequencies to (time, row, column) from the
# fastest down, so with Qwen's base of 1e6 the column axis would turn by under 0.001 radian a
# column; a base of 20 and one frequency for time let rows (0.8-0.3 rad) and columns (0.2-0.06 rad)
# be told apart on a phone screen of ~10 x 21 image tokens.
TINY_SIZES: dict[str, dict] = {
    "tiny": dict(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, rope_theta=1e6, mrope=[2, 3, 3],
                 vision_dim=32, vision_heads=2, vision_depth=2, vocab=600, prompts=False,
                 max_new_tokens=TINY_MAX_NEW_TOKENS),
    "small": dict(hidden=192, layers=4, heads=6, kv_heads=2, intermediate=512, rope_theta=20.0, mrope=[1, 7, 8],
                  vision_dim=128, vision_heads=4, vision_depth=2, vocab=3000, prompts=True, max_new_tokens=64),
}


def _prompt_corpus() -> list[str]:
    """The text the agent writes to a phone model, in both tool-call formats and both coordinate
    systems: a small checkpoint's tokenizer learns it, as a real one has learnt English."""
    from .coords import Screen
    from .prompts import render, render_messages
    from .ui_tools import ui_tool_schema

    texts = []
    for system, fmt in (("relative-1000", "qwen"), ("smart-resized", "hermes")):
        screen = Screen(image_size=(1080, 2400), device_size=(1080, 2400), model_size=(1092, 2408))
        messages = [
            {"role": "system", "content": render("phone_system", units=screen.units(system))},
            {"role": "user", "content": "The user's task: Open the Clock app."},
            {"role": "user", "content": "This is the current screen. What is the next action?"},
            {"role": "assistant", "content": '<tool_call>\n{"name": "mobile_use", "arguments": '
                                             '{"action": "terminate", "status": "success"}}\n</tool_call>'},
            {"role": "tool", "name": "mobile_use", "content": "ok"},
        ]
        for m in render_messages(messages, [ui_tool_schema("mobile_use", screen, system)], fmt):
            texts.append(m["content"] if isinstance(m["content"], str) else "")
    return texts


def tiny_checkpoint(path: str | Path, family: str = "qwen2-vl", size: str = "tiny") -> Path:
    """Write a tiny random-weight checkpoint of `family` (a profile name: qwen2-vl or
    qwen2.5-vl) to `path` and return it (seconds on a CPU). `size`: tiny (plumbing) or small
    (a few million parameters, able to learn; see TINY_SIZES).

    Load it like a real one: `AutoProcessor.from_pretrained(path)`, the family's
    `...ForConditionalGeneration.from_pretrained(path)`, or `TransformersModel(path)`.
    """
    import torch
    import transformers
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, Qwen2TokenizerFast, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    if family not in TINY_FAMILIES:
        raise ValueError(f"no tiny checkpoint for {family!r}; families: {', '.join(TINY_FAMILIES)}")
    if size not in TINY_SIZES:
        raise ValueError(f"no tiny checkpoint of size {size!r}; sizes: {', '.join(TINY_SIZES)}")
    dims = TINY_SIZES[size]
    qwen25 = family == "qwen2.5-vl"
    prefix = "Qwen2_5_VL" if qwen25 else "Qwen2VL"

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    # Train the BPE with the byte-level alphabet, then hand vocab and merges to Qwen2's tokenizer
    # class so the checkpoint gets Qwen's own pre-tokenizer regex and decoder.
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=dims["vocab"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(_CORPUS + (_prompt_corpus() if dims["prompts"] else []), trainer=trainer)
    vocab = bpe.get_vocab()
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m)
              for m in json.loads(bpe.to_str())["model"]["merges"]]
    # Special tokens get ids right after the BPE vocabulary, in Qwen's order; as in
    # Qwen2-VL-Instruct, eos is <|im_end|>, pad <|endoftext|>, and there is no bos or unk.
    tokenizer = Qwen2TokenizerFast(
        vocab=vocab, merges=merges, eos_token=SPECIAL_TOKENS[0], pad_token=SPECIAL_TOKENS[0], unk_token=None
    )
    tokenizer.add_special_tokens({"extra_special_tokens": SPECIAL_TOKENS[1:]})
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in TOOL_CALL_TOKENS])
    tokenizer.eos_token = "<|im_end|>"
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}

    vision = dict(patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    vdim, vheads, vdepth = dims["vision_dim"], dims["vision_heads"], dims["vision_depth"]
    if qwen25:  # windowed attention in all but the listed blocks, and a projector to the LM width
        vision.update(depth=vdepth, hidden_size=vdim, intermediate_size=2 * vdim, num_heads=vheads,
                      out_hidden_size=dims["hidden"], window_size=112, fullatt_block_indexes=[vdepth - 1])
    else:
        vision.update(depth=vdepth, embed_dim=vdim, hidden_size=dims["hidden"], num_heads=vheads, mlp_ratio=2)
    config = getattr(transformers, f"{prefix}Config")(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=dims["hidden"],
            intermediate_size=dims["intermediate"],
            num_hidden_layers=dims["layers"],
            num_attention_heads=dims["heads"],
            num_key_value_heads=dims["kv_heads"],
            max_position_embeddings=4096,
            # M-RoPE splits the head_dim / 2 rotary frequencies into (temporal, height, width).
            rope_parameters={"rope_type": "default", "rope_theta": dims["rope_theta"], "mrope_section": dims["mrope"]},
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(0)
    model = getattr(transformers, f"{prefix}ForConditionalGeneration")(config).eval()
    model.generation_config = GenerationConfig(
        # Random weights rarely write <|im_end|>: without a limit every answer runs to the
        # caller's, 512 new tokens by default, and a step takes seconds instead of a fraction.
        max_new_tokens=dims["max_new_tokens"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
    )
    model.save_pretrained(path)

    size = {"shortest_edge": 4 * 28 * 28, "longest_edge": 1280 * 28 * 28}
    processor = getattr(transformers, f"{prefix}Processor")(
        image_processor=Qwen2VLImageProcessor(size=size),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(path)
    return path


# --- an in-memory device ---------------------------------------------------------------------

class ImageDevice:
    """An in-memory Device showing fixed images: for tests and offline demos, not a simulator.

    It shows `images[0]` until an action is executed, then the next image (the last one stays),
    and records every executed action in `.actions`. `size` defaults to the image's size; give
    another to model a HiDPI screen or a phone that captures scaled.
    """

    def __init__(
        self,
        images: "Image.Image | Sequence[Image.Image]",
        *,
        size: tuple[int, int] | None = None,
        kind: str = "phone",
    ) -> None:
        from PIL import Image

        frames = [images] if isinstance(images, Image.Image) else list(images)
        if not frames:
            raise ValueError("ImageDevice needs at least one image")
        self._frames = [f.convert("RGB") for f in frames]
        self._size = size or self._frames[0].size
        self.kind = kind
        self.actions: list = []
        self.description = f"ImageDevice({self._size[0]}x{self._size[1]}, {len(frames)} frames)"

    @classmethod
    def from_files(cls, *paths: "str | Path", **kwargs) -> "ImageDevice":
        from PIL import Image

        from .errors import UserError

        frames = []
        for p in paths:
            try:
                with Image.open(p) as im:
                    frames.append(im.convert("RGB"))
            except Image.DecompressionBombError:
                raise UserError(f"{p} is too large an image to open (over {2 * Image.MAX_IMAGE_PIXELS:,} pixels): "
                                "a screenshot that size is a decompression bomb, not a screen") from None
            except (OSError, ValueError) as e:
                raise UserError(f"cannot read screenshot {p}: {e}") from None
        return cls(frames, **kwargs)

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def connect(self) -> "ImageDevice":
        return self

    def screenshot(self):
        return self._frames[min(len(self.actions), len(self._frames) - 1)].copy()

    def execute(self, action) -> None:
        self.actions.append(action)

    def close(self) -> None:
        pass

    def __enter__(self) -> "ImageDevice":
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.close()

