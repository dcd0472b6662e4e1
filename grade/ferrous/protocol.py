"""Parser for the Ferrous serial protocol (grade/PROTOCOL.md).

A protocol line is `@@ <event> key=value key="quoted" ...` at the start of a line. Everything else on
the serial port (firmware noise, printk text, ANSI escape sequences) is ignored. Escape sequences and
carriage returns are stripped before a line is examined, so `ESC[0m@@ boot ...` still counts.
"""
import re

_ANSI = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_EVENT = re.compile(r"[a-z0-9_]+\Z")
_KEY = re.compile(r"[a-z0-9_]+")
_NUM = re.compile(r"(?:0x[0-9a-fA-F]+|-?[0-9]+)\Z")


class ProtocolError(ValueError):
    """A line that starts with `@@ ` but does not follow the grammar."""


class Event:
    """One parsed protocol line: name, fields (int for numeric bare values, else str), raw text."""

    __slots__ = ("name", "fields", "raw")

    def __init__(self, name, fields, raw=""):
        self.name = name
        self.fields = fields
        self.raw = raw

    def __getitem__(self, key):
        try:
            return self.fields[key]
        except KeyError:
            raise KeyError(f"event {self.name!r} has no field {key!r}: {self.raw!r}") from None

    def __contains__(self, key):
        return key in self.fields

    def get(self, key, default=None):
        return self.fields.get(key, default)

    def __eq__(self, other):
        return isinstance(other, Event) and (self.name, self.fields) == (other.name, other.fields)

    def __repr__(self):
        return f"Event({self.name!r}, {self.fields!r})"


def strip_noise(data):
    """Remove ANSI/VT escape sequences and carriage returns from bytes."""
    return _ANSI.sub(b"", data).replace(b"\r", b"")


def _bare_value(text):
    if _NUM.match(text):
        return int(text, 16) if text.startswith("0x") else int(text)
    return text


def parse_fields(text, raw):
    """Parse `key=value ...` (the part after the event name) into a dict; ProtocolError if malformed."""
    fields = {}
    i, n = 0, len(text)
    while i < n:
        if text[i] == " ":
            i += 1
            continue
        m = _KEY.match(text, i)
        if not m or m.end() >= n or text[m.end()] != "=":
            raise ProtocolError(f"bad key at column {i}: {raw!r}")
        key = m.group(0)
        i = m.end() + 1
        if i < n and text[i] == '"':
            i += 1
            out = []
            while True:
                if i >= n:
                    raise ProtocolError(f"unterminated quoted value for {key!r}: {raw!r}")
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    if i + 1 >= n:
                        raise ProtocolError(f"dangling backslash in {key!r}: {raw!r}")
                    e = text[i + 1]
                    if e == "n":
                        out.append("\n")
                    elif e in '"\\':
                        out.append(e)
                    else:
                        raise ProtocolError(f"bad escape \\{e} in {key!r}: {raw!r}")
                    i += 2
                    continue
                out.append(c)
                i += 1
            if i < n and text[i] != " ":
                raise ProtocolError(f"garbage after quoted value of {key!r}: {raw!r}")
            fields[key] = "".join(out)
        else:
            j = text.find(" ", i)
            j = n if j < 0 else j
            val = text[i:j]
            if not val or '"' in val:
                raise ProtocolError(f"bad bare value for {key!r}: {raw!r}")
            fields[key] = _bare_value(val)
            i = j
    return fields


def parse_line(line):
    """Parse one line (str or bytes, without the newline). Returns an Event, None for a non-protocol
    line, and raises ProtocolError for a line that starts with `@@ ` but is malformed."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogateescape")
    text = strip_noise(line).decode("utf-8", "replace").rstrip(" \n")
    if not text.startswith("@@ "):
        return None
    body = text[3:]
    name, _, rest = body.partition(" ")
    if not _EVENT.match(name):
        raise ProtocolError(f"bad event name {name!r}: {text!r}")
    return Event(name, parse_fields(rest, text), text)


class LineParser:
    """Incremental parser: feed() raw serial bytes, get the events of the completed lines.

    A partial last line is kept until its newline arrives (or finish() is called). Lines longer than
    max_line bytes are cut (the rest until the newline is discarded) so a flood cannot grow the buffer.
    Malformed protocol lines are collected in .errors (at most max_errors kept)."""

    def __init__(self, max_line=64 * 1024, max_errors=100):
        self._buf = bytearray()
        self._skipping = False
        self.max_line = max_line
        self.errors = []
        self.max_errors = max_errors
        self.error_count = 0

    def _line(self, raw):
        try:
            return parse_line(bytes(raw))
        except ProtocolError as e:
            self.error_count += 1
            if len(self.errors) < self.max_errors:
                self.errors.append(str(e))
            return None

    def feed(self, data):
        """Consume bytes; return the list of Events completed by them."""
        events = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                chunk = data[start:]
                if not self._skipping:
                    room = self.max_line - len(self._buf)
                    self._buf += chunk[:max(room, 0)]
                    if len(chunk) > room:
                        self._skipping = True
                return events
            chunk = data[start:nl]
            if not self._skipping:
                self._buf += chunk[:max(self.max_line - len(self._buf), 0)]
                ev = self._line(self._buf)
                if ev is not None:
                    events.append(ev)
            else:
                ev = self._line(self._buf)
                if ev is not None:
                    events.append(ev)
            self._buf.clear()
            self._skipping = False
            start = nl + 1

    def finish(self):
        """Parse a pending partial line (end of stream); return [Event] or []."""
        if not self._buf:
            return []
        ev = self._line(self._buf)
        self._buf.clear()
        self._skipping = False
        return [ev] if ev is not None else []
