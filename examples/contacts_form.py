"""Add a contact through the Contacts form: grounded taps for the buttons and fields, exact typing
(unicode included: on a phone it goes through ADBKeyboard), then a check of what was saved.

    python examples/contacts_form.py --device sim --model http://localhost:8000/v1#Qwen2-VL-7B-Instruct
    python examples/contacts_form.py --name "Zoë Ångström" --phone "+33 6 12 34 56 78" --email zoe@example.org
"""

import argparse
import logging

from vlagent import connect


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="sim", help="sim, adb[:SERIAL] (default: sim)")
    parser.add_argument("--model", help="model spec: a server URL, a checkpoint, scripted:FILE.json")
    parser.add_argument("--cache", help="grounding cache file (default: ~/.cache/vlagent/grounding.json)")
    parser.add_argument("--out", help="record the session as a trajectory in this folder")
    parser.add_argument("--name", default="Zoë Ångström-Nakamura")
    parser.add_argument("--phone", default="+33 6 12 34 56 78")
    parser.add_argument("--email", default="zoe@example.org")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    with connect(args.device, args.model, out=args.out, cache=args.cache or True) as phone:
        phone.open_app("Contacts")
        phone.tap("the Create contact button")         # grounded: the floating + button
        phone.type(args.name)                           # the new form opens with Name focused
        phone.key("enter")                              # Enter moves to Phone
        phone.type(args.phone)
        phone.tap("the Email field")                    # grounded
        phone.type(args.email)
        phone.tap("the Save button")                    # grounded
        phone.assert_(f"the contact page of {args.name} is showing")
        shown = phone.query("Which phone number does the contact page show?", schema=str)
        print(f"saved {args.name}: {shown}")
        print(f"model calls: {phone.model_calls}, cache hits: {phone.cache_hits}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
