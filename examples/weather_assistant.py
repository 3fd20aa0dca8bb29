"""Ask a vision-language model about the weather where a photo was taken.

    python examples/weather_assistant.py --model Qwen/Qwen2-VL-7B-Instruct --image city.jpg
    python examples/weather_assistant.py --model http://127.0.0.1:8000/v1 --image city.jpg

The model looks at the photo, calls get_weather (Open-Meteo, no key needed) and answers.
"""

import argparse

import vlagent
from vlagent.tools.weather import get_weather


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model id, path, server URL or scripted:FILE.json")
    parser.add_argument("--image", required=True, help="photo file or URL")
    parser.add_argument("--question", default="What is the weather like where this photo was taken today?")
    args = parser.parse_args(argv)

    assistant = vlagent.Assistant(vlagent.load_model(args.model), [get_weather])
    reply = assistant.ask(args.question, images=[args.image])
    for call, result in zip(reply.calls, reply.results):
        print(f"[{call.name}({call.arguments}) -> {result.text[:120]}]")
    print(reply.text)
    return reply.text


if __name__ == "__main__":
    main()
