"""An AT-SPI client for the accessibility tests, run by Debian's python3 (pyatspi is a system package).

    /usr/bin/python3 tests/support/atspi_listener.py APP_NAME

It listens to every object and window event (as a screen reader does, which also makes Qt's
bridge send them) and to every raw D-Bus signal on the accessibility bus, and writes each as a
JSON line on stdout. Commands, one per line on stdin:

- ``dump`` prints ``{"tree": [...]}``: every node of APP_NAME's tree (role, name, description,
  text, value, states, actions, and the names of the labels it is labelled by);
- ``act NAME ACTION [WALKS]`` invokes the action ACTION of the first node named NAME, then walks
  the tree WALKS times at once (a client reading the tree while the app changes it), and prints
  ``{"acted": NAME}``;
- ``mark TEXT`` prints ``{"mark": TEXT}`` once every earlier event has been written.

Ready once it prints ``{"ready": true}``. Not imported by the tests (they run under the venv).
"""

from __future__ import annotations

import json
import sys

import pyatspi
from gi.repository import Gio, GLib


def emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()


def safe(call, default=""):
    try:
        return call()
    except Exception:
        return default


def describe(node) -> dict:
    record = {"role": safe(node.getRoleName), "name": safe(lambda: node.name),
              "description": safe(lambda: node.description),
              "states": safe(lambda: [pyatspi.stateToString(s) for s in node.getState().getStates()], [])}
    text = safe(node.queryText, None)
    if text is not None:
        record["text"] = safe(lambda: text.getText(0, -1))
    value = safe(node.queryValue, None)
    if value is not None:
        record["value"] = safe(lambda: value.currentValue)
    labels = [safe(lambda r=r, i=i: r.getTarget(i).name) for r in safe(node.getRelationSet, [])
              if safe(r.getRelationType, None) == pyatspi.RELATION_LABELLED_BY
              for i in range(safe(r.getNTargets, 0))]
    if labels:
        record["labelled_by"] = labels
    action = safe(node.queryAction, None)
    if action is not None:
        record["actions"] = [safe(lambda i=i: action.getName(i)) for i in range(safe(lambda: action.nActions, 0))]
    return record


def find_app(name: str):
    desktop = pyatspi.Registry.getDesktop(0)
    for index in range(safe(lambda: desktop.childCount, 0)):
        app = safe(lambda index=index: desktop.getChildAtIndex(index), None)
        if app is not None and safe(lambda app=app: app.name) == name:
            return app
    return None


def walk(node, out: list, depth: int = 0) -> None:
    if node is None or depth > 60:
        return
    out.append(describe(node))
    for index in range(safe(lambda: node.childCount, 0)):
        walk(safe(lambda index=index: node.getChildAtIndex(index), None), out, depth + 1)


def find(node, name: str, depth: int = 0):
    if node is None or depth > 60:
        return None
    if safe(lambda: node.name) == name:
        return node
    for index in range(safe(lambda: node.childCount, 0)):
        hit = find(safe(lambda index=index: node.getChildAtIndex(index), None), name, depth + 1)
        if hit is not None:
            return hit
    return None


def on_event(event) -> None:
    source = event.source
    emit({"event": event.type, "source": safe(lambda: source.name), "role": safe(source.getRoleName),
          "any_data": safe(lambda: str(event.any_data)), "detail1": event.detail1, "detail2": event.detail2})


def on_signal(_conn, sender, path, interface, member, params) -> None:
    emit({"signal": f"{interface}.{member}", "path": path, "body": safe(lambda: str(params.unpack()))})


def command(app_name: str, line: str) -> None:
    words = line.split(" ")
    if words[0] == "dump":
        out: list = []
        walk(find_app(app_name), out)
        emit({"tree": out})
    elif words[0] == "act":
        name, action_name = words[1].replace("_", " "), words[2]
        walks = int(words[3]) if len(words) > 3 else 0
        node = find(find_app(app_name), name)
        if node is None:
            emit({"acted": None})
            return
        action = node.queryAction()
        for index in range(action.nActions):
            if action.getName(index) == action_name:
                action.doAction(index)
        for _ in range(walks):
            walk(find_app(app_name), [])
        emit({"acted": name})
    elif words[0] == "mark":
        emit({"mark": " ".join(words[1:])})


def main() -> None:
    app_name = sys.argv[1]
    pyatspi.Registry.registerEventListener(on_event, "object", "window", "focus")
    bus = Gio.DBusConnection.new_for_address_sync(
        _a11y_address(), Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    bus.signal_subscribe(None, None, None, None, None, Gio.DBusSignalFlags.NONE, on_signal)

    def on_stdin(channel, _condition) -> bool:
        line = channel.readline()
        if not line:
            pyatspi.Registry.stop()
            return False
        command(app_name, line.strip())
        return True

    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.IO_IN | GLib.IO_HUP, on_stdin)
    GLib.idle_add(lambda: emit({"ready": True}) and False)
    pyatspi.Registry.start()


def _a11y_address() -> str:
    session = Gio.bus_get_sync(Gio.BusType.SESSION)
    reply = session.call_sync("org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress", None,
                              GLib.VariantType("(s)"), Gio.DBusCallFlags.NONE, 5000)
    return reply.unpack()[0]


if __name__ == "__main__":
    main()
