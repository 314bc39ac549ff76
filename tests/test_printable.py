"""Text from others is shown without anything a terminal would act on: escape sequences whole, control characters, bidi overrides."""

import pytest

from railyard.printable import first_control, printable

C1 = [chr(c) for c in range(0x80, 0xA0)]
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


@pytest.mark.parametrize("text, shown", [
    ("fraud\x1b]0;pwned\x07\x1b[2J model", "fraud model"),  # retitle the window, clear the screen
    ("a\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),  # a hyperlink, ended by ST
    ("\x1b[31mred\x1b[0m \x1b[1;2H\x1b[?25l", "red "),  # colours, cursor moves, a private mode
    ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),  # DCS
    ("\x1b(0box\x1b(B \x1bcreset \x1b7saved\x1b8", "box reset saved"),  # charset, reset, save and restore
    ("x\x9b31my \x9d0;t\x07", "x31my 0;t"),  # 8-bit CSI and OSC: the controls go, their text stays harmless
    ("ab\u202egnp.exe", "abgnp.exe"),  # right-to-left override
    ("é — → 日本", "é — → 日本"),  # text beyond ASCII stays
])
def test_escape_sequences_go_whole_and_text_stays(text, shown):
    assert printable(text) == shown


@pytest.mark.parametrize("text", ["\x1b]0;title", "\x1b[2", "\x1b", "end\x1b]0;unended\x1b[", "\x1b\x1b[31m"])
def test_a_cut_or_unended_sequence_leaves_no_escape(text):
    assert "\x1b" not in printable(text)


def test_an_unended_string_sequence_ends_at_its_line():
    # Unended, a terminal would swallow everything after it; here the next line (another job's row) stays.
    assert printable("job 1 \x1b]0;x\njob 2\n") == "job 1 0;x\njob 2\n"


@pytest.mark.parametrize("control", [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F)] + C1 + BIDI)
def test_every_control_character_is_removed(control):
    assert printable(f"a{control}é") == "aé" == printable(f"a{control}é", multiline=False)
    assert first_control(f"a{control}é") == control


def test_newlines_and_tabs_stay_in_multi_line_text_only():
    assert printable("line 1\r\n\tline 2\n") == "line 1\n\tline 2\n"
    assert printable("line 1\r\n\tline 2\n", multiline=False) == "line 1line 2"
    assert first_control("a\tb\nc", multiline=True) is None
    assert first_control("a\tb\nc") == "\t"


def test_plain_text_is_unchanged():
    text = "2024-05-01 12:00:00  complete  fraud-team  fraud prediction model [x] (y) {z} ~ 100%"
    assert printable(text) == text and first_control(text) is None
