"""Unit tests of the protocol parser and the bounded capture (no emulator)."""
import pytest

from ferrous import runner
from ferrous.protocol import Event, LineParser, ProtocolError, parse_line

pytestmark = pytest.mark.harness


def test_bare_and_numeric_fields():
    ev = parse_line("@@ memmap entries=12 usable_kib=261000 max_phys=0xfffff000 path=uefi neg=-3")
    assert ev.name == "memmap"
    assert ev["entries"] == 12 and ev["usable_kib"] == 261000
    assert ev["max_phys"] == 0xFFFFF000
    assert ev["path"] == "uefi" and ev["neg"] == -3


def test_quoted_values_and_escapes():
    ev = parse_line(r'@@ boot path=uefi loader="ferrous-efi 1" cmdline="a \"b\" c\\d\ne" version=1')
    assert ev["loader"] == "ferrous-efi 1"
    assert ev["cmdline"] == 'a "b" c\\d\ne'
    assert ev["version"] == 1
    # A quoted number stays a string: only bare values are converted.
    assert parse_line('@@ x v="12"')["v"] == "12"
    assert parse_line('@@ x v=""')["v"] == ""


def test_non_protocol_lines_are_ignored():
    for line in ["", "hello", " @@ boot path=uefi", "@@boot", "x @@ end status=ok", "BdsDxe: loading"]:
        assert parse_line(line) is None, line


def test_escape_sequences_and_cr_are_stripped():
    ev = parse_line(b"\x1b[0m\x1b[37m\x1b[40m@@ end status=ok\r")
    assert ev == Event("end", {"status": "ok"})
    ev = parse_line(b"\x1b[2J\x1b[1;1H@@ rsdp addr=0xf0000\r")
    assert ev["addr"] == 0xF0000


@pytest.mark.parametrize("bad", [
    '@@ x key="unterminated',
    '@@ x key=a"b',
    '@@ x Key=1',
    '@@ x key',
    '@@ x key=',
    '@@ x k="bad \\t escape"',
    '@@ x k="a"b',
    '@@ Bad-Name k=1',
])
def test_malformed_lines_raise(bad):
    with pytest.raises(ProtocolError):
        parse_line(bad)


def test_event_missing_field_message():
    ev = parse_line("@@ end status=ok")
    with pytest.raises(KeyError, match="no field 'nope'"):
        ev["nope"]
    assert ev.get("nope", 5) == 5 and "status" in ev


def test_line_parser_partial_lines():
    p = LineParser()
    assert p.feed(b"noise\n@@ boot pa") == []
    assert p.feed(b"th=uefi") == []
    evs = p.feed(b'\n@@ seed value=7 source=cmdline\n@@ end sta')
    assert [e.name for e in evs] == ["boot", "seed"]
    assert evs[1]["value"] == 7
    assert p.finish() == [] and p.error_count == 1     # "@@ end sta" is malformed (no '=')
    p2 = LineParser()
    p2.feed(b"@@ end status=ok")
    assert p2.finish() == [Event("end", {"status": "ok"})]


def test_line_parser_byte_at_a_time_and_noise():
    data = (b"\x1b[0mBdsDxe: starting\r\n\x1b[2J@@ boot path=multiboot2 loader=\"GRUB 2.06\"\r\n"
            b"printk text @@ not a line\n@@ end status=fail\n")
    p = LineParser()
    evs = []
    for i in range(len(data)):
        evs += p.feed(data[i:i + 1])
    assert [(e.name, dict(e.fields)) for e in evs] == [
        ("boot", {"path": "multiboot2", "loader": "GRUB 2.06"}), ("end", {"status": "fail"})]


def test_line_parser_collects_malformed_and_bounds_long_lines():
    p = LineParser(max_line=100)
    evs = p.feed(b'@@ x k="open\n' + b"A" * 10000 + b"\n@@ end status=ok\n")
    assert [e.name for e in evs] == ["end"]
    assert p.error_count == 1 and "unterminated" in p.errors[0]
    assert len(p._buf) == 0


def test_capture_caps_transcript_and_keeps_tail():
    cap = runner.Capture()
    chunk = b"flood flood flood\n" * 1000
    n = 0
    while n < 5 * 1024 * 1024:
        cap.feed_events(chunk)
        n += len(chunk)
    cap.feed_events(b"@@ end status=ok\n")
    text, truncated = cap.transcript()
    assert truncated
    assert len(text) <= runner.TRANSCRIPT_HEAD + runner.TRANSCRIPT_TAIL + 100
    assert "bytes dropped" in text
    assert text.rstrip().endswith("@@ end status=ok")
    assert cap.total == n + len(b"@@ end status=ok\n")
    assert [e.name for e in cap.events] == ["end"]


def test_capture_event_cap_keeps_important_events(monkeypatch):
    monkeypatch.setattr(runner, "MAX_EVENTS", 10)
    cap = runner.Capture()
    cap.feed_events(b"@@ event kind=x\n" * 50 + b"@@ frames total=1 leaked=0\n@@ end status=ok\n")
    names = [e.name for e in cap.events]
    assert names.count("event") == 10 and names[-2:] == ["frames", "end"]
    assert cap.events_dropped == 40


def test_classification_from_end_and_exit_codes():
    def classify(data, exit_code=None, timed_out=False, log="", emu="qemu"):
        cap = runner.Capture()
        cap.feed_events(data)
        r = runner.Run()
        runner._classify(r, cap, timed_out, exit_code, log, emu, data.decode())
        return r.outcome, r.notes

    assert classify(b"@@ end status=ok\n", 33)[0] == "OK"
    assert classify(b"@@ end status=fail\n", 35)[0] == "FAIL"
    assert classify(b"@@ end status=panic\n", 37)[0] == "PANIC"
    out, notes = classify(b"@@ end status=ok\n", 37)       # the exit code wins (tests/test_runner_unit.py)
    assert out == "PANIC" and "exit code 37" in notes[0]
    assert classify(b"@@ boot path=uefi\n", None, timed_out=True)[0] == "TIMEOUT"
    assert classify(b"@@ loader_error msg=\"no kernel\"\n", 39)[0] == "LOADER_ERROR"
    assert classify(b"ferrous: grub: could not boot\n", 0)[0] == "LOADER_ERROR"
    assert classify(b"@@ boot path=uefi\n", 0, log="Triple fault")[0] == "TRIPLE_FAULT"
    assert classify(b"", 1, log=">>PANIC<< exception(): 3rd (13) exception with no resolution",
                    emu="bochs")[0] == "TRIPLE_FAULT"
    assert classify(b"@@ boot path=uefi\n", 1)[0] == "EMULATOR_ERROR"


def test_run_tests_view():
    cap = runner.Capture()
    cap.feed_events(b"@@ test_begin name=a.x group=a\n@@ test_pass name=a.x\n"
                    b"@@ test_begin name=a.y group=a\n@@ test_fail name=a.y file=k.c line=3 expr=\"l == r\""
                    b" left=1 right=2\n@@ test_begin name=a.z group=a\n@@ test_skip name=a.z reason=\"n/a\"\n"
                    b"@@ test_begin name=a.w group=a\n")
    r = runner.Run(events=cap.events, transcript="")
    t = r.tests()
    assert {k: v.status for k, v in t.items()} == {"a.x": "pass", "a.y": "fail", "a.z": "skip",
                                                   "a.w": "incomplete"}
    assert t["a.y"].fields["left"] == 1 and "left=1" in t["a.y"].describe()
    assert r.first("test_begin")["name"] == "a.x" and r.last("test_begin")["name"] == "a.w"
    assert len(r.all("test_begin")) == 4


def test_with_key():
    assert runner._with_key("test=a.*", "seed", "5") == "test=a.* seed=5"
    assert runner._with_key("seed=1 test=a", "seed", "5") == "seed=1 test=a"
    assert runner._with_key("", "wait", "serial") == "wait=serial"
