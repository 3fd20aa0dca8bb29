"""Save SimPhone screenshots, e.g. for docs:  python examples/simphone_screenshot.py docs/

Drives a SimPhone over the real adb binary: home screen, then Settings.
"""

import argparse
from pathlib import Path

from vlagent.actions import OpenApp
from vlagent.devices import AdbDevice
from vlagent.devices.sim import SimPhoneServer, connect_adb, disconnect_adb


def main(argv=None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--width", type=int, default=540, help="saved width in pixels (the phone is 1080 wide)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    saved = []
    with SimPhoneServer() as server:
        connect_adb(server)
        try:
            with AdbDevice(server.serial) as phone:
                for name, action in (("home", None), ("settings", OpenApp(name="Settings"))):
                    if action:
                        phone.execute(action)
                    frame = phone.screenshot()
                    frame = frame.resize((args.width, round(frame.height * args.width / frame.width)))
                    path = args.out / f"simphone_{name}.png"
                    frame.save(path, optimize=True)
                    saved.append(path)
                    print(path)
        finally:
            disconnect_adb(server)
    return saved


if __name__ == "__main__":
    main()
