"""Screen recordings into the model: SimPhone through `adb shell screenrecord` and pull
(AdbDevice.record, Session.record), through the tiny checkpoint's real processor with as many
video tokens as vlagent.video says. The Xvfb desktop's recording is in test_desktop.py, on its X
server (pyautogui stays bound to the first display it met)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vlagent import video as V
from vlagent.video_io import open_video

pytest.importorskip("av")

@pytest.mark.adb
@pytest.mark.timeout(120)
def test_simphone_recording_reaches_the_model(sim, adb, video_tokens, tmp_path):
    from vlagent.devices import AdbDevice

    with AdbDevice(sim.serial, ime_settle=0) as phone:
        # the screen changes during the recording: screenrecord writes a frame per change
        opener = threading.Timer(0.8, lambda: adb("shell", "am", "start", "-n",
                                                  "com.android.settings/.Settings", serial=sim.serial))
        opener.start()
        path = phone.record(2)
        opener.join()
    try:
        assert path.read_bytes()[4:8] == b"ftyp"
        listing = adb("shell", "ls", "/sdcard/", serial=sim.serial).stdout.decode()
        assert "vlagent-recording" not in listing  # the phone's copy is gone
        source = open_video(path)
        # read at 10 frames a second up to the last change (the file holds no later time)
        assert source.fps == 10.0 and source.total_frames >= 2
        written, computed = video_tokens(V.Video(path))
        assert written == computed > 0
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.adb
@pytest.mark.timeout(120)
def test_session_record_then_query_about_the_video(sim):
    import vlagent
    from vlagent.devices import AdbDevice
    from vlagent.models.scripted import ScriptedModel

    class Seen(ScriptedModel):
        def generate(self, messages, tools=None, **options):
            self.sent = messages
            return super().generate(messages, tools, **options)

    model = Seen(['{"answer": "Settings opened"}'])
    with vlagent.connect(AdbDevice(sim.serial, ime_settle=0).connect(), model=model, cache=False) as session:
        clip = session.record(1)
        try:
            assert isinstance(clip, V.Video) and clip.is_file
            assert session.query("What happened?", video=clip) == "Settings opened"
            assert model.sent[0]["content"][0] == {"type": "video", "video": clip}
            assert "Watch the video" in model.sent[0]["content"][1]["text"]
        finally:
            Path(clip.source).unlink(missing_ok=True)
