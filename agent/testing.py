"""Helpers for testing vlagent and code built on it, without a phone, a GPU or a download.

`tiny_checkpoint(path, family)` writes a random-weight Qwen2-VL or Qwen2.5-VL checkpoint made
with the real transformers classes (config, model, byte-level BPE tokenizer, image processor, processor, chat template), so
`TransformersModel` runs end to end in seconds on a CPU. Its answers are gibberish; the plumbing
(template, image tokens, pixel values, generate, decode) is the real thing.

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


def tiny_checkpoint(path: str | Path, family: str = "qwen2-vl") -> Path:
    """Write a tiny random-weight checkpoint of `family` (a profile name: qwen2-vl or
    qwen2.5-vl) to `path` and return it (seconds on a CPU).

    Load it like a real one: `AutoProcessor.from_pretrained(path)`, the family's
    `...ForConditionalGeneration.from_pretrained(path)`, or `TransformersModel(path)`.
    """
    import torch
    import transformers
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, Qwen2TokenizerFast, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    if family not in TINY_FAMILIES:
        raise ValueError(f"no tiny checkpoint for {family!r}; families: {', '.join(TINY_FAMILIES)}")
    qwen25 = family == "qwen2.5-vl"
    prefix = "Qwen2_5_VL" if qwen25 else "Qwen2VL"

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    # Train the BPE with the byte-level alphabet, then hand vocab and merges to Qwen2's tokenizer
    # class so the checkpoint gets Qwen's own pre-tokenizer regex and decoder.
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(_CORPUS, trainer=trainer)
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
    if qwen25:  # windowed attention in all but the listed blocks, and a projector to the LM width
        vision.update(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                      window_size=112, fullatt_block_indexes=[1])
    else:
        vision.update(depth=2, embed_dim=32, hidden_size=64, num_heads=2, mlp_ratio=2)
    config = getattr(transformers, f"{prefix}Config")(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            # M-RoPE splits the head_dim / 2 = 8 rotary frequencies into (temporal, height, width).
            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
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
        max_new_tokens=TINY_MAX_NEW_TOKENS,
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

