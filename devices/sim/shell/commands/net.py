"""SimPhone's network interfaces as `ifconfig` (toybox) and `ip addr`/`ip link` (iproute2, which is
Android's `ip`) print them: `lo`, and `wlan0`, which is up with a DHCP address while Wi-Fi is on and
down without one while Wi-Fi (or airplane mode) has it off, as on a phone. SimPhone has no modem,
so there is no rmnet interface.
"""

from __future__ import annotations

from ..command import CommandTable, UsageError

COMMANDS = CommandTable()

_WLAN_MAC = "02:00:00:00:00:00"   # what Android 10+ shows apps and the shell instead of the real MAC


def wlan_ip(sh) -> str | None:
    """wlan0's IPv4 address, or None while Wi-Fi is off. The host part follows the seed, so two
    SimPhones on one test differ."""
    snap = sh.phone.state()
    return None if not snap["wifi"] else f"192.168.1.{100 + sh.phone.seed % 100}"


def _interfaces(sh) -> list[dict]:
    ip = wlan_ip(sh)
    return [
        {"name": "lo", "index": 1, "up": True, "ip": "127.0.0.1", "prefix": 8, "bcast": None,
         "ip6": ("::1", 128, "Host"), "mtu": 65536, "loopback": True, "qlen": 1000},
        {"name": "wlan0", "index": 23, "up": ip is not None, "ip": ip, "prefix": 24, "bcast": "192.168.1.255",
         "ip6": ("fe80::d8a3:c1ff:fe52:7b10", 64, "Link") if ip else None, "mtu": 1500, "loopback": False,
         "qlen": 3000},
    ]


def _mask(prefix: int) -> str:
    bits = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return ".".join(str((bits >> s) & 255) for s in (24, 16, 8, 0))


def _ifconfig_block(i: dict) -> str:
    """toybox's display_ifconfig: the hardware type is UNSPEC for wlan0 because Android refuses the
    shell SIOCGIFHWADDR; counters from /proc/net/dev."""
    out = [f"{i['name']:<9} Link encap:{'Local Loopback' if i['loopback'] else 'UNSPEC'}  \n"]
    if i["ip"]:
        out.append(f"{'':10}inet addr:{i['ip']} " + (f" Bcast:{i['bcast']} " if i["bcast"] else "")
                   + f" Mask:{_mask(i['prefix'])} \n")
    if i["ip6"]:
        out.append(f"{'':10}inet6 addr: {i['ip6'][0]}/{i['ip6'][1]} Scope: {i['ip6'][2]}\n")
    flags = (["UP"] if i["up"] else []) + (["LOOPBACK"] if i["loopback"] else ["BROADCAST"]) \
        + (["RUNNING"] if i["up"] else []) + ([] if i["loopback"] else ["MULTICAST"])
    out.append(f"{'':10}{' '.join(flags)}  MTU:{i['mtu']}  Metric:1\n")
    rx, tx = (48213, 31877) if i["up"] else (0, 0)
    out.append(f"{'':10}RX packets:{rx // 120} errors:0 dropped:0 overruns:0 frame:0 \n"
               f"{'':10}TX packets:{tx // 110} errors:0 dropped:0 overruns:0 carrier:0 \n"
               f"{'':10}collisions:0 txqueuelen:{i['qlen']} \n"
               f"{'':10}RX bytes:{rx} TX bytes:{tx} \n\n")
    return "".join(out)


@COMMANDS.add("ifconfig")
def _ifconfig(sh, args, io_):
    show_all = "-a" in args
    names = [a for a in args if not a.startswith("-")]
    ifaces = _interfaces(sh)
    if names:
        if len(names) > 1:
            # toybox would try to configure the interface, which needs NET_ADMIN the shell lacks
            raise UsageError("ifconfig: SIOCSIFFLAGS: Permission denied", 1)
        found = [i for i in ifaces if i["name"] == names[0]]
        if not found:
            io_.err(f"ifconfig: {names[0]}: No such device\n")
            return 1
        io_.out(_ifconfig_block(found[0]))
        return 0
    io_.out("".join(_ifconfig_block(i) for i in ifaces if i["up"] or show_all))
    return 0


def _ip_block(i: dict, family: str | None, link_only: bool) -> str:
    state = "UNKNOWN" if i["loopback"] else ("UP" if i["up"] else "DOWN")
    flags = "LOOPBACK,UP,LOWER_UP" if i["loopback"] else ("BROADCAST,MULTICAST,UP,LOWER_UP" if i["up"]
                                                           else "BROADCAST,MULTICAST")
    qdisc = "noqueue" if i["loopback"] else "mq"
    out = [f"{i['index']}: {i['name']}: <{flags}> mtu {i['mtu']} qdisc {qdisc} state {state} "
           f"group default qlen {i['qlen']}\n"]
    if family is None:
        out.append("    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n" if i["loopback"] else
                   f"    link/ether {_WLAN_MAC} brd ff:ff:ff:ff:ff:ff\n")
    if link_only:
        return "".join(out)
    if i["ip"] and family in (None, "4"):
        brd = f" brd {i['bcast']}" if i["bcast"] else ""
        scope = "host" if i["loopback"] else "global"
        out.append(f"    inet {i['ip']}/{i['prefix']}{brd} scope {scope} {i['name']}\n"
                   "       valid_lft forever preferred_lft forever\n")
    if i["ip6"] and family in (None, "6"):
        out.append(f"    inet6 {i['ip6'][0]}/{i['ip6'][1]} scope {i['ip6'][2].lower()} \n"
                   "       valid_lft forever preferred_lft forever\n")
    return "".join(out) if family is None or len(out) > 1 else ""


@COMMANDS.add("ip")
def _ip(sh, args, io_):
    family = None
    while args and args[0] in ("-4", "-6"):
        family, args = args[0][1], args[1:]
    obj = args[0] if args else ""
    rest = [a for a in args[1:] if a not in ("show", "list", "dev")]
    if obj in ("a", "addr", "address", "l", "link"):
        ifaces = _interfaces(sh)
        if rest:
            ifaces = [i for i in ifaces if i["name"] == rest[0]]
            if not ifaces:
                io_.err(f"Device \"{rest[0]}\" does not exist.\n")
                return 1
        link_only = obj in ("l", "link")
        io_.out("".join(_ip_block(i, None if link_only else family, link_only) for i in ifaces))
        return 0
    if obj in ("r", "route"):
        ip = wlan_ip(sh)
        if ip:
            io_.out(f"192.168.1.0/24 dev wlan0 proto kernel scope link src {ip} \n")
        return 0
    if not obj:
        io_.err("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\nwhere  OBJECT := { address | link | route }\n")
        return 255
    io_.err(f"Object \"{obj}\" is unknown, try \"ip help\".\n")
    return 255
