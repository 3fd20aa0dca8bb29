"""Read a boarding pass from a photo and look up the flight's status.

    export AVIATIONSTACK_API_KEY=...   # a free key from aviationstack.com
    python examples/flight_from_photo.py --model Qwen/Qwen2-VL-7B-Instruct --image boarding_pass.jpg
"""

import argparse

import vlagent
from vlagent.tools.flights import flight_status


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model id, path, server URL or scripted:FILE.json")
    parser.add_argument("--image", required=True, help="photo of a boarding pass (file or URL)")
    args = parser.parse_args(argv)

    assistant = vlagent.Assistant(vlagent.load_model(args.model), [flight_status])
    reply = assistant.ask("Which flight is on this boarding pass, and is it on time?", images=[args.image])
    print(reply.text)
    return reply.text


if __name__ == "__main__":
    main()
