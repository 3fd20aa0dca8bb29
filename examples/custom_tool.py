"""Give the model your own typed Python function as a tool.

    python examples/custom_tool.py --model Qwen/Qwen2-VL-2B-Instruct "What is 15% of a 84.50 bill?"

The JSON Schema the model sees comes from the type hints and the docstring; arguments are
validated against it before the function runs, and mistakes go back to the model.
"""

import argparse
from typing import Literal

import vlagent


@vlagent.tool
def tip(bill: float, percent: float = 15.0, rounding: Literal["none", "up"] = "none") -> dict:
    """Work out a tip and the total to pay.

    Args:
        bill: The bill before the tip, in any currency.
        percent: Tip percentage.
        rounding: "up" rounds the total up to a whole unit.
    """
    amount = bill * percent / 100
    total = bill + amount
    if rounding == "up":
        total = float(-(-total // 1))
    return {"tip": round(amount, 2), "total": round(total, 2)}


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model id, path, server URL or scripted:FILE.json")
    parser.add_argument("question")
    args = parser.parse_args(argv)

    reply = vlagent.Assistant(vlagent.load_model(args.model), [tip]).ask(args.question)
    print(reply.text)
    return reply.text


if __name__ == "__main__":
    main()
