"""Video frames picked and sized as qwen-vl-utils picks and sizes them (its public functions are
the reference: smart_nframes, calculate_video_frame_range, fetch_video), over a table of
durations, rates and limits; then through the tiny checkpoint's real processor and generate."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from PIL import Image

from vlagent import video as V
from vlagent.errors import UserError
from vlagent.video_io import open_video, write_mp4

qvu = pytest.importorskip("qwen_vl_utils.vision_process")
torch = pytest.importorskip("torch")

# (total frames, the file's fps, the message's options)
COUNT_TABLE = [
    (30, 30.0, {}), (60, 30.0, {}), (300, 30.0, {}), (900, 30.0, {}), (7, 25.0, {}),
    (25, 25.0, {"fps": 1.0}), (250, 25.0, {"fps": 0.5}), (100, 10.0, {"fps": 4.0}),
    (1000, 24.0, {"fps": 2.0, "max_frames": 16}), (40, 20.0, {"min_frames": 9}),
    (100000, 60.0, {}), (120, 60.0, {"nframes": 7}), (120, 60.0, {"nframes": 120}),
    (15, 30.0, {"fps": 2.0, "min_frames": 3, "max_frames": 11}), (12, 2.0, {}), (5, 1.0, {"fps": 8.0}),
]


@pytest.mark.parametrize("total,rate,options", COUNT_TABLE)
def test_frame_count_equals_smart_nframes(total, rate, options):
    assert V.frame_count(total, rate, **options) == qvu.smart_nframes(dict(options), total, rate)


def test_too_few_frames_raise_like_the_reference():
    with pytest.raises(ValueError):
        qvu.smart_nframes({"nframes": 1}, 10, 10.0)
    with pytest.raises(UserError):
        V.frame_count(10, 10.0, nframes=1)


@pytest.mark.parametrize("start,end", [(None, None), (1.0, None), (None, 2.5), (0.4, 3.3), (-1, 99), (2.2, 2.9)])
def test_frame_range_equals_the_reference(start, end):
    options = {k: v for k, v in (("video_start", start), ("video_end", end)) if v is not None}
    assert V.frame_range(100, 25.0, start, end) == qvu.calculate_video_frame_range(options, 100, 25.0)


@pytest.mark.parametrize("first,last", [(0, 9), (0, 299), (7, 88), (3, 1000)])
def test_frame_indices_equal_torch_linspace(first, last):
    for count in range(2, min(last - first + 1, 120) + 1, 3):
        assert V.frame_indices(first, last, count) == torch.linspace(first, last, count).round().long().tolist()


class _FakeDecord(types.ModuleType):
    """decord, as qwen-vl-utils reads it, over a (total, h, w) timeline of frame-numbered frames:
    the reference's own sampling and sizing code runs on it."""

    def __init__(self, total: int, rate: float, height: int, width: int):
        super().__init__("decord")
        outer = self

        class VideoReader:
            def __init__(self, path):
                pass

            def __len__(self):
                return total

            def get_avg_fps(self):
                return rate

            def get_batch(self, idx):
                outer.asked = list(idx)
                return types.SimpleNamespace(asnumpy=lambda: np.zeros((len(idx), height, width, 3), np.uint8))

        self.VideoReader = VideoReader


# (total frames, fps, height, width, options): durations, rates, screen shapes and limits
SIZE_TABLE = [
    (60, 30.0, 240, 320, {}),
    (300, 30.0, 2400, 1080, {"fps": 0.5}),
    (48, 24.0, 720, 1280, {"min_pixels": 64 * 28 * 28, "max_pixels": 256 * 28 * 28}),
    (90, 30.0, 1080, 1920, {"nframes": 4}),
    (400, 20.0, 120, 160, {"fps": 1.0, "total_pixels": 20 * 28 * 28 * 10}),
    (100, 25.0, 768, 1024, {"video_start": 1.0, "video_end": 3.0}),
    (100, 25.0, 768, 1024, {"total_pixels": 128 * 28 * 28, "min_pixels": 16 * 28 * 28}),
    (30, 10.0, 56, 700, {"max_pixels": 10_000, "min_pixels": 4 * 28 * 28}),
]


@pytest.mark.parametrize("total,rate,height,width,options", SIZE_TABLE)
def test_file_sampling_and_sizing_equal_fetch_video(monkeypatch, total, rate, height, width, options):
    fake = _FakeDecord(total, rate, height, width)
    monkeypatch.setitem(sys.modules, "decord", fake)
    monkeypatch.setattr(qvu, "get_video_reader_backend", lambda: "decord")
    (frames, meta), sample_fps = qvu.fetch_video({"video": "x.mp4", **options}, return_video_sample_fps=True,
                                                 return_video_metadata=True)
    video = V.from_part({"type": "video", "video": "x.mp4", **options})
    first, last, count = V.frame_range(total, rate, video.start, video.end)
    n = V.frame_count(count, rate, fps=video.fps, nframes=video.nframes, min_frames=video.min_frames,
                      max_frames=video.max_frames)
    indices = V.frame_indices(first, last, n)
    size = V.frame_size(height, width, n, min_pixels=video.min_pixels, max_pixels=video.max_pixels,
                        total_pixels=video.total_pixels)
    assert indices == fake.asked == list(meta["frames_indices"])
    assert (n, 3, *size) == tuple(frames.shape)
    assert n / max(count, 1e-6) * rate == pytest.approx(sample_fps)


def test_a_real_file_loads_as_fetch_video_loads_it(monkeypatch, tmp_path):
    """An MP4 written and read with PyAV: same frames, same size, same pixels as the reference's
    pipeline given the same decoded frames."""
    path = tmp_path / "count.mp4"
    ramp = np.add.outer(np.arange(96), np.arange(128)).astype(np.uint8)[..., None].repeat(3, -1)
    write_mp4([(ramp * (i % 5 + 1)).astype(np.uint8) for i in range(25)], 5.0, path)
    source = open_video(path)
    assert (source.total_frames, source.fps) == (25, 5.0)

    fake = _FakeDecord(25, 5.0, 96, 128)
    fake.VideoReader.get_batch = lambda self, idx: types.SimpleNamespace(asnumpy=lambda: source.frames(idx))
    monkeypatch.setitem(sys.modules, "decord", fake)
    monkeypatch.setattr(qvu, "get_video_reader_backend", lambda: "decord")
    reference, sample_fps = qvu.fetch_video({"video": str(path)}, return_video_sample_fps=True)
    clip = V.load(V.Video(path))
    assert clip.frames.shape == tuple(reference.permute(0, 2, 3, 1).shape)
    assert np.array_equal(clip.frames, reference.permute(0, 2, 3, 1).numpy().astype(np.uint8))
    assert clip.fps == pytest.approx(sample_fps)


@pytest.mark.parametrize("count,size,options", [
    (5, (300, 200), {}), (4, (1080, 2400), {"max_pixels": 300 * 28 * 28}), (3, (640, 480), {"min_pixels": 50_000}),
    (8, (1280, 800), {"total_pixels": 200 * 28 * 28 * 4, "sample_fps": 1.0}),
])
def test_a_list_of_frames_equals_fetch_video(count, size, options):
    rng = np.random.default_rng(count)
    frames = [Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(count)]
    reference = qvu.fetch_video({"video": frames, **options})
    clip = V.load(V.from_part({"type": "video", "video": frames, **options}))
    assert clip.frames.shape == tuple(reference.permute(0, 2, 3, 1).shape)
    assert np.array_equal(clip.frames, reference.permute(0, 2, 3, 1).numpy().astype(np.uint8))
    assert clip.fps == options.get("sample_fps", 2.0)


def test_fps_and_nframes_together_are_refused():
    with pytest.raises(UserError, match="not both"):
        V.Video("x.mp4", fps=1.0, nframes=4)


def test_a_variable_rate_recording_is_read_by_time(tmp_path):
    """Frames only where the screen changed (as screenrecord writes): picked by time."""
    import av

    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for value, ms in ((0, 0), (120, 1500), (240, 1600)):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), value, np.uint8), format="rgb24")
            frame.pts, frame.time_base = ms, __import__("fractions").Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    source = open_video(path)
    assert source.fps == 10.0 and source.total_frames >= 17
    frames = source.frames([0, 14, 15, 16])
    assert [round(int(f[0, 0, 0]) / 120) for f in frames] == [0, 0, 1, 2]


# -- through the tiny checkpoint ------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_mp4([np.full((240, 320, 3), (i * 20) % 256, np.uint8) for i in range(12)], 4.0, path)
    return path


@pytest.fixture(scope="module")
def tiny(tiny_model_path):
    from vlagent.models.transformers_model import TransformersModel

    return TransformersModel(tiny_model_path, max_new_tokens=4).load()


def test_the_processor_writes_as_many_video_tokens_as_the_sizing_says(tiny, clip_path):
    messages = [{"role": "user", "content": [{"type": "video", "video": V.Video(clip_path)},
                                             {"type": "text", "text": "What happens?"}]}]
    prompt = tiny.render(messages)
    assert "<|vision_start|><|video_pad|><|vision_end|>What happens?" in prompt
    clip = V.load(V.Video(clip_path))
    inputs = tiny.inputs(prompt, [], [clip])
    assert tuple(inputs["video_grid_thw"][0].tolist()) == clip.grid
    assert int((inputs["input_ids"] == tiny.processor.video_token_id).sum()) == clip.tokens > 0


def test_generate_with_a_video_and_an_image(tiny, clip_path):
    shot = Image.new("RGB", (200, 120), "white")
    messages = [{"role": "user", "content": [{"type": "image", "image": shot}, {"type": "video", "video": str(clip_path),
                                                                                "fps": 1.0},
                                             {"type": "text", "text": "Compare them."}]}]
    completion = tiny.generate(messages, max_new_tokens=3)
    clip = V.load(V.Video(clip_path, fps=1.0))
    assert completion.usage["video_tokens"] == clip.tokens
    assert completion.usage["image_tokens"] > 0 and completion.usage["completion_tokens"] <= 3


def test_openai_sends_a_video_url_data_part(clip_path):
    import base64

    from vlagent.models.openai_messages import wire_message

    frames = [Image.new("RGB", (64, 48), (i * 50, 0, 0)) for i in range(4)]
    msg = {"role": "user", "content": [{"type": "video", "video": V.Video(clip_path)},
                                       {"type": "video", "video": frames, "sample_fps": 1.0},
                                       {"type": "text", "text": "hi"}]}
    wire = wire_message(msg, image_url=lambda im: "unused")
    (a, b, text) = wire["content"]
    assert a["type"] == b["type"] == "video_url" and text == {"type": "text", "text": "hi"}
    assert a["video_url"]["url"] == "data:video/mp4;base64," + base64.b64encode(clip_path.read_bytes()).decode()
    data = base64.b64decode(b["video_url"]["url"].removeprefix("data:video/mp4;base64,"))
    assert data[4:8] == b"ftyp"


def test_assistant_and_chat_take_a_video(tiny_model_path, clip_path):
    from typer.testing import CliRunner

    from vlagent.cli import app

    result = CliRunner().invoke(app, ["chat", "-m", str(tiny_model_path), "--video", str(clip_path), "-t", "weather",
                                      "-p", "What happens in this video?"])
    assert result.exit_code == 0, result.output
    assert "tools: get_weather" in result.output


def test_readme_video_example_runs_and_counts_as_it_says(tiny, tmp_path, monkeypatch):
    """README's `vlagent chat --video` line, run as written on a 3-second 320x240 clip."""
    import re
    import shlex
    from pathlib import Path

    from typer.testing import CliRunner

    from vlagent.cli import app

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    line = next(l for l in readme.splitlines() if l.startswith("vlagent chat --model tiny") and "--video" in l)
    write_mp4([np.full((240, 320, 3), (i * 20) % 256, np.uint8) for i in range(12)], 4.0, tmp_path / "screen.mp4")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, shlex.split(line)[1:])
    assert result.exit_code == 0, result.output
    tokens = int(re.search(r"= (\d+) video tokens", readme.replace("\n", " ")).group(1))
    assert V.load(V.Video(tmp_path / "screen.mp4")).tokens == tokens
