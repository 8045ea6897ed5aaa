"""The CLIXML that Windows PowerShell 5.1 writes to a redirected stderr, read back as text: in
one piece and cut anywhere (a Receive can end inside a tag or an escape), mixed with plain bytes,
and refused when it declares entities."""

from __future__ import annotations

from labdeck.executors.winrm.clixml import ClixmlDecoder, decode_stderr, unescape

# The shape PowerShell 5.1 writes (not a recording): a progress record first, then the error
# message lines, each ending with an escaped CR LF.
ERROR_DOC = ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
             '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
             '<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first '
             'use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>'
             '<S S="Error">Get-Item : Cannot find path \'C:\\nope\' because it does not exist._x000D__x000A_</S>'
             '<S S="Error">At line:1 char:1 &lt;caf\u00e9&gt;_x000D__x000A_</S>'
             '<S S="Warning">disk almost full_x000D__x000A_</S>'
             '<S S="Verbose">not shown_x000D__x000A_</S></Objs>').encode("utf-8")
TEXT = ("Get-Item : Cannot find path 'C:\\nope' because it does not exist.\r\nAt line:1 char:1 <caf\u00e9>\r\n"
        "WARNING: disk almost full\r\n")


def test_error_records_become_their_text():
    assert decode_stderr(ERROR_DOC) == TEXT
    assert "CLIXML" not in decode_stderr(ERROR_DOC) and "<Objs" not in decode_stderr(ERROR_DOC)


def test_plain_bytes_around_the_document_pass_through():
    assert decode_stderr(b"native stderr\n" + ERROR_DOC + b"#end 5 abc\r\n") == "native stderr\n" + TEXT + "#end 5 abc\r\n"
    assert decode_stderr(ERROR_DOC + ERROR_DOC) == TEXT + TEXT


def test_cut_anywhere_it_decodes_the_same():
    whole = b"x\n" + ERROR_DOC + b"after"
    for cut in range(1, len(whole)):
        decoder = ClixmlDecoder()
        assert decoder.feed(whole[:cut]) + decoder.feed(whole[cut:]) + decoder.close() == (
            "x\n" + TEXT + "after").encode(), cut


def test_text_comes_out_as_each_record_completes():
    decoder = ClixmlDecoder()
    first_end = ERROR_DOC.index(b"</S>") + 4
    assert decoder.feed(ERROR_DOC[:first_end]).decode().startswith("Get-Item : Cannot find path")


def test_escapes_follow_powershells_rules():
    assert unescape("a_x000D__x000A_b") == "a\r\nb"
    assert unescape("a_x005F_x000D_b") == "a_x000D_b"  # an escaped underscore is not the start of an escape


def test_entities_and_doctypes_are_never_expanded():
    bomb = (b'#< CLIXML\r\n<!DOCTYPE Objs [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<Objs><S S="Error">&b;</S></Objs>')
    text = decode_stderr(bomb)
    assert "aaaaaaaaaa" * 2 not in text and "<!DOCTYPE" in text  # shown as it came, not expanded
    external = b'#< CLIXML\r\n<!DOCTYPE Objs [<!ENTITY x SYSTEM "file:///etc/passwd">]><Objs><S S="Error">&x;</S></Objs>'
    assert "root:" not in decode_stderr(external)


def test_what_is_not_clixml_is_shown_as_it_came():
    assert decode_stderr(b"#< CLIXML\r\nnot xml at all") == "#< CLIXML\r\nnot xml at all"
