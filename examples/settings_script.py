"""Turn Wi-Fi on in Settings: exact steps where the pixel is known, model steps where it is not.

    python examples/settings_script.py --device sim --model http://localhost:8000/v1#Qwen2-VL-7B-Instruct
    python examples/settings_script.py --device adb --model Qwen/Qwen2-VL-2B-Instruct

The model finds "Network & internet" and the Wi-Fi switch, says when Wi-Fi is on and reads the
battery level. Run it again on the same screens: the grounding cache answers every grounded
step and the log says "grounding cache hit ... no model call".
"""

import argparse
import logging

from vlagent import connect


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="sim", help="sim, adb[:SERIAL], desktop[:N] (default: sim)")
    parser.add_argument("--model", help="model spec: a server URL, a checkpoint, scripted:FILE.json")
    parser.add_argument("--cache", help="grounding cache file (default: ~/.cache/vlagent/grounding.json)")
    parser.add_argument("--out", help="record the session as a trajectory in this folder (for `vlagent replay`)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    with connect(args.device, args.model, out=args.out, cache=args.cache or True) as phone:
        phone.home()                                   # exact: a system button
        phone.open_app("Settings")                     # exact: by launcher label
        phone.tap("Network & internet")                # grounded: the model finds it
        phone.tap("the Wi-Fi switch")                  # grounded
        phone.wait_for("Wi-Fi is on", timeout=10)      # the model answers yes/no, polled
        battery = phone.query("What battery level does the status bar show, in percent?", schema=int)
        phone.back()                                   # exact
        print(f"Wi-Fi is on; battery at {battery}%")
        print(f"model calls: {phone.model_calls}, cache hits: {phone.cache_hits}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
