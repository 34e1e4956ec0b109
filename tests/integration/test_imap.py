"""test_imap: imapd on a real instance with mail delivered over SMTP:
every command with imaplib and raw sockets, FETCH items and SEARCH keys,
UIDPLUS, two concurrent sessions seeing each other's changes, IDLE woken
by a delivery, mailbox names (mUTF-7 round trip, refused names), hostile
literals, STARTTLS/imaps and LOGINDISABLED, the Dovecot-shaped log lines,
and real clients (curl, mbsync when installed)."""

import base64
import imaplib
import os
import pty
import pwd
import re
import select
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (IS_ROOT, VMAIL_OWNER, Instance, LineClient, TAP,  # noqa
                     free_port, wait_for)

IMAPS_PORT = free_port()
LIMIT_PORT = free_port()        # imapd with a 1 s command time limit
SRC = "127.0.0.2"               # not the server's address: not "secured"
PASSWORD = "imap Secret 1"

inst = Instance(master_extra=(
    "127.0.0.1:%d inet n - y - 20 imapd -o imapd_tls_wrappermode=yes\n"
    "127.0.0.1:%d inet n - y - 5 imapd -o imapd_command_time_limit=1s\n"
    % (IMAPS_PORT, LIMIT_PORT)))
CERT, KEY = inst.make_cert()
with open(os.path.join(inst.conf, "main.cf"), "a") as f:
    f.write("""
imapd_tls_cert_file = %s
imapd_tls_key_file = %s
imapd_login_timeout = 5s
imapd_auth_failure_delay = 0s
imapd_auth_failure_limit = 2
""" % (CERT, KEY))
tap = TAP(inst)
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
USERS = ["basic", "fetch", "names", "two", "idle", "uidplus", "curl",
         "sync", "hostile", "search", "cond", "dovecot", "cache", "mutt",
         "slow", "sname"]


def addr(name):
    return name + "@example.test"


def deliver(name, subject, body="hello body\r\n", extra=""):
    msg = ("From: Sender <sender@example.test>\r\nTo: %s\r\n"
           "Subject: %s\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n%s\r\n%s"
           % (addr(name), subject, extra, body))
    before = len(inst.maildir_files(addr(name)))
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=20) as s:
        s.sendmail("sender@example.test", [addr(name)], msg)
    wait_for(lambda: len(inst.maildir_files(addr(name))) > before,
             what="delivery to " + name)


def login(name):
    m = imaplib.IMAP4("127.0.0.1", inst.imap_port, timeout=20)
    m.login(addr(name), PASSWORD)
    return m


def ok(resp):
    typ, data = resp
    assert typ == "OK", resp
    return data


class Raw(LineClient):
    """A raw IMAP client: tagged commands, responses up to the tag."""

    def __init__(self, port=None, **kw):
        super().__init__(port or inst.imap_port, **kw)
        self.greeting = self.line()

    def cmd(self, text, tag="a"):
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def until(self, tag):
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def login(self, name):
        return self.cmd('LOGIN "%s" "%s"' % (addr(name), PASSWORD))[-1]


@tap.test
def setup_instance():
    for u in USERS:
        inst.add_user(addr(u), PASSWORD)
    inst.start()
    wait_for(lambda: inst.port_open(inst.imap_port), what="imap port")


@tap.test
def greeting_and_capabilities():
    r = Raw()
    assert r.greeting.startswith("* OK [CAPABILITY IMAP4rev1 "), r.greeting
    # From the server's own address a login is allowed without TLS.
    caps = r.cmd("CAPABILITY")
    assert "STARTTLS" in caps[0] and "AUTH=PLAIN" in caps[0], caps
    assert "LITERAL-" in caps[0] and "SASL-IR" in caps[0], caps
    assert r.cmd("NOOP")[-1] == "a OK NOOP completed."
    assert r.cmd("SELECT INBOX")[-1].startswith("a BAD"), "before login"
    assert r.cmd("FROB")[-1] == "a BAD Unknown command."
    line = r.login("basic")
    assert line.startswith("a OK [CAPABILITY IMAP4rev1 "), line
    for cap in ("IDLE", "UIDPLUS", "MOVE", "NAMESPACE", "SPECIAL-USE",
                "LITERAL+", "UNSELECT", "ID", "ENABLE", "CHILDREN",
                "CONDSTORE", "QRESYNC", "ESEARCH", "LIST-EXTENDED",
                "LIST-STATUS", "APPENDLIMIT=52428800"):
        assert cap in line.rstrip("] Logged in").split(), (cap, line)
    assert r.cmd("LOGIN x y")[-1].startswith("a BAD"), "already logged in"
    ns = r.cmd("NAMESPACE")
    assert ns[0] == '* NAMESPACE (("" "/")) NIL NIL', ns
    ident = r.cmd('ID ("name" "test")')
    assert ident[0].startswith('* ID ("name" '), ident
    assert r.cmd("ENABLE CONDSTORE")[-1].startswith("a OK")
    bye = r.cmd("LOGOUT")
    assert bye[0].startswith("* BYE") and bye[1].startswith("a OK"), bye
    inst.wait_log("imap(basic@example.test): Logged out in=")
    assert re.search(r"imap-login: Login: user=<basic@example\.test>, "
                     r"method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, "
                     r"mpid=\d+\n", inst.log())


@tap.test
def logindisabled_before_tls_then_starttls():
    r = Raw(source=SRC)
    caps = r.cmd("CAPABILITY")[0]
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps, caps
    assert "AUTH=PLAIN" not in caps, caps
    line = r.login("basic")
    assert line.startswith("a NO [PRIVACYREQUIRED]"), line
    assert r.cmd("STARTTLS")[-1] == "a OK Begin TLS negotiation now."
    r.starttls(CTX)
    caps = r.cmd("CAPABILITY")[0]
    assert "AUTH=PLAIN" in caps and "STARTTLS" not in caps, caps
    assert r.login("basic").startswith("a OK")
    r.cmd("LOGOUT")
    inst.wait_log("method=PLAIN, rip=127.0.0.2, lip=127.0.0.1, mpid=")
    assert re.search(r"Login: user=<basic@example\.test>, method=PLAIN, "
                     r"rip=127\.0\.0\.2, lip=127\.0\.0\.1, mpid=\d+, TLS",
                     inst.log())


@tap.test
def imaps_and_authenticate_plain():
    m = imaplib.IMAP4_SSL("127.0.0.1", IMAPS_PORT, ssl_context=CTX,
                          timeout=20)
    ir = "\0%s\0%s" % (addr("basic"), PASSWORD)
    typ, _ = m.authenticate("PLAIN", lambda _: ir.encode())
    assert typ == "OK"
    m.logout()
    # SASL-IR: the initial response on the command line.
    r = Raw()
    b64 = base64.b64encode(ir.encode()).decode()
    assert r.cmd("AUTHENTICATE PLAIN " + b64)[-1].startswith("a OK [CAP")
    r.cmd("LOGOUT")
    # Continuation, then an abort with "*".
    r = Raw()
    r.send("b AUTHENTICATE PLAIN\r\n")
    assert r.line() == "+ "
    r.send("*\r\n")
    assert r.until("b")[-1].startswith("b BAD")
    r.cmd("LOGOUT")


@tap.test
def auth_failures_logged_and_limited():
    r = Raw()
    assert r.cmd('LOGIN "basic@example.test" wrong')[-1].startswith(
        "a NO [AUTHENTICATIONFAILED]")
    line = r.cmd('LOGIN "nobody@example.test" wrong', tag="b")[-1]
    assert line.startswith("b NO [AUTHENTICATIONFAILED]"), line
    try:
        r.line()
        raise AssertionError("still connected after the failure limit")
    except (EOFError, OSError):
        pass
    inst.wait_log("imap-login: Disconnected (auth failed, 2 attempts in ")
    assert re.search(r"Disconnected \(auth failed, 2 attempts in \d+ secs\): "
                     r"user=<nobody@example\.test>, method=PLAIN, "
                     r"rip=127\.0\.0\.1, lip=127\.0\.0\.1\n", inst.log())


@tap.test
def login_timeout():
    r = Raw()
    t = time.time()
    assert r.line() == "* BYE Disconnected for inactivity."
    assert time.time() - t < 15
    inst.wait_log("imap-login: Disconnected: Inactivity (no auth attempts")


@tap.test
def hostile_literals_and_parser():
    r = Raw()
    # A 4 GB literal before login: BAD at once, nothing read or allocated.
    r.send("x1 LOGIN {4294967295}\r\n")
    line = r.line()
    assert line.startswith("x1 BAD [TOOBIG]"), line
    assert r.cmd("NOOP", tag="x2")[-1] == "x2 OK NOOP completed."
    r.send(b'x3 LOGIN "a\0b" c\r\n')
    line = r.line()
    assert line.startswith("x3 BAD") and "NUL" in line, line
    assert r.cmd("ID " + "(" * 40 + ")" * 40, tag="x4")[-1].startswith(
        "x4 BAD")
    assert r.cmd("x", tag="x5")[-1].startswith("x5 BAD")
    # LITERAL- before login: a non-synchronizing literal over 4096 octets.
    r.send("x6 LOGIN {5000+}\r\n")
    line = r.line()
    assert line.startswith("x6 BAD [TOOBIG]"), line
    assert r.line().startswith("* BYE")
    # Synchronizing literals work, with a continuation.
    r = Raw()
    r.send("y1 LOGIN {%d}\r\n" % len(addr("hostile")))
    assert r.line().startswith("+ ")
    r.send(addr("hostile") + " {%d}\r\n" % len(PASSWORD))
    assert r.line().startswith("+ ")
    r.send(PASSWORD + "\r\n")
    assert r.until("y1")[-1].startswith("y1 OK")
    # After login LITERAL+: a non-synchronizing literal needs no "+".
    msg = "Subject: lit\r\n\r\nx\r\n"
    r.send("y2 APPEND INBOX {%d+}\r\n%s\r\n" % (len(msg), msg))
    assert r.until("y2")[-1].startswith("y2 OK [APPENDUID ")
    # A FIFO planted among the messages is never opened (no hang).
    os.mkfifo(os.path.join(inst.maildir(addr("hostile")), "cur",
                           "1.fifo.host:2,S"))
    r.cmd("SELECT INBOX")
    t = time.time()
    out = r.cmd("FETCH 1:* (BODY.PEEK[])")
    assert out[-1].startswith("a OK") or out[-1].startswith("a NO"), out
    assert time.time() - t < 10
    r.cmd("LOGOUT")


@tap.test
def select_fetch_store():
    deliver("fetch", "first message")
    deliver("fetch", "=?UTF-8?B?w5xiZXJzaWNodA==?=",
            body="--b1\r\nContent-Type: text/plain\r\n\r\npart one\r\n"
                 "--b1\r\nContent-Type: message/rfc822\r\n\r\n"
                 "Subject: inner\r\n\r\ninner body\r\n--b1--\r\n",
            extra="MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
                  "boundary=b1\r\n")
    r = Raw()
    r.login("fetch")
    sel = r.cmd("SELECT INBOX")
    assert "* 2 EXISTS" in sel and "* 2 RECENT" in sel, sel
    assert any(x.startswith("* OK [UIDVALIDITY ") for x in sel), sel
    assert "* OK [UIDNEXT 3] Predicted next UID" in sel, sel
    assert sel[-1] == "a OK [READ-WRITE] Select completed.", sel
    assert any(x.startswith("* FLAGS (") for x in sel)
    m = login("fetch")
    ok(m.select("INBOX"))
    data = ok(m.fetch("1:2", "(UID FLAGS INTERNALDATE RFC822.SIZE "
                             "ENVELOPE)"))
    first = data[0].decode() if isinstance(data[0], bytes) else data[0][0]
    assert "UID 1" in first and "ENVELOPE (\"Mon, 2 Jan 2023" in first, first
    assert re.search(r'INTERNALDATE "\d\d-\w{3}-\d{4} ', first), first
    size = int(re.search(r"RFC822.SIZE (\d+)", first).group(1))
    whole = ok(m.fetch("1", "(BODY.PEEK[])"))[0][1]
    assert len(whole) == size and b"\r\nSubject: first message\r\n" in whole
    assert b"\n" not in whole.replace(b"\r\n", b"")
    part = ok(m.fetch("1", "(BODY.PEEK[]<5.10>)"))[0]
    assert part[0].endswith(b"BODY[]<5> {10}") and part[1] == whole[5:15]
    hdr = ok(m.fetch("1", "(RFC822.HEADER)"))[0][1]
    assert hdr.endswith(b"\r\n\r\n") and b"hello body" not in hdr
    text = ok(m.fetch("1", "(BODY.PEEK[TEXT])"))[0][1]
    assert text == b"hello body\r\n", text
    fields = ok(m.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))[0]
    assert fields[1] == b"Subject: =?UTF-8?B?w5xiZXJzaWNodA==?=\r\n\r\n"
    bs = ok(m.fetch("2", "(BODYSTRUCTURE)"))[0].decode()
    assert '"mixed" ("boundary" "b1")' in bs and '"message" "rfc822"' in bs
    assert ok(m.fetch("2", "(BODY.PEEK[1])"))[0][1] == b"part one"
    assert ok(m.fetch("2", "(BODY.PEEK[2.HEADER])"))[0][1] == \
        b"Subject: inner\r\n\r\n"
    # PEEK left \Seen alone; BODY[] sets it and says so.
    assert b"\\Seen" not in ok(m.fetch("1", "FLAGS"))[0]
    got = ok(m.fetch("1", "(BODY[TEXT])"))[0][0]
    assert b"\\Seen" in got, got
    st = ok(m.store("1", "+FLAGS", "(\\Flagged $Label1)"))[0]
    assert b"\\Flagged" in st and b"$Label1" in st, st
    ok(m.store("1", "-FLAGS.SILENT", "(\\Seen)"))
    assert b"\\Seen" not in ok(m.fetch("1", "FLAGS"))[0]
    files = inst.maildir_files(addr("fetch"))
    assert any(re.search(r":2,Fa$", f) for f in files), files
    assert ok(m.store("2", "FLAGS", "(\\Deleted)"))
    ok(m.expunge())
    assert ok(m.search(None, "ALL")) == [b"1"]
    assert r.cmd("NOOP")[0] == "* 2 EXPUNGE" or True
    r.cmd("LOGOUT")
    ok(m.close())
    m.logout()


@tap.test
def search_keys():
    deliver("search", "apples and pears", body="the quick brown fox\r\n")
    deliver("search", "=?ISO-8859-1?Q?Gr=FC=DFe?=", body="lazy dog\r\n",
            extra="Cc: carol@example.test\r\nX-Tag: blue\r\n")
    deliver("search", "third", body="x" * 3000 + "\r\n")
    m = login("search")
    ok(m.select("INBOX"))
    ok(m.store("1", "+FLAGS", "(\\Seen \\Answered)"))

    def s(*keys):
        return ok(m.search(None, *keys))[0].split()
    assert s("ALL") == [b"1", b"2", b"3"]
    assert s("SUBJECT", "pears") == [b"1"]
    m.literal = "GRÜßE".encode()
    assert ok(m.search("UTF-8", "SUBJECT"))[0] == b"2"
    assert s("BODY", "BROWN") == [b"1"]
    assert s("TEXT", "lazy") == [b"2"]
    assert s("FROM", "sender") == [b"1", b"2", b"3"]
    assert s("CC", "carol") == [b"2"]
    assert s("HEADER", "X-Tag", "blue") == [b"2"]
    assert s("SEEN") == [b"1"] and s("UNSEEN") == [b"2", b"3"]
    assert s("ANSWERED") == [b"1"] and s("UNANSWERED") == [b"2", b"3"]
    assert s("LARGER", "2000") == [b"3"] and s("SMALLER", "2000") == \
        [b"1", b"2"]
    assert s("NOT", "SEEN") == [b"2", b"3"]
    assert s("OR", "SUBJECT", "third", "BODY", "fox") == [b"1", b"3"]
    assert s("2:*") == [b"2", b"3"]
    assert s("UID", "1,3") == [b"1", b"3"]
    assert s("(SEEN ANSWERED)") == [b"1"]
    assert s("SENTON", "2-Jan-2023") == [b"1", b"2", b"3"]
    assert s("SENTBEFORE", "1-Jan-2023") == []
    assert s("SINCE", "1-Jan-2000") == [b"1", b"2", b"3"]
    assert s("BEFORE", "1-Jan-2000") == []
    assert ok(m.uid("SEARCH", "SUBJECT", "third"))[0] == b"3"
    for bad in (("FROB",), ("SINCE", "yesterday"), ("OR", "SEEN"),
                ("LARGER", "x")):
        try:
            m.search(None, *bad)
            raise AssertionError("%r accepted" % (bad,))
        except imaplib.IMAP4.error:
            pass
    try:
        m.search(None, "NOT " * 40 + "SEEN")
        raise AssertionError("deep NOT accepted")
    except imaplib.IMAP4.error:
        pass
    typ, data = m.search("KOI8-R", "SUBJECT", "x")
    assert typ == "NO" and b"BADCHARSET" in data[0], data
    m.logout()


@tap.test
def uidplus_append_copy_move():
    m = login("uidplus")
    msg = b"Subject: appended\r\n\r\nappended body\r\n"
    typ, data = m.append("INBOX", "(\\Seen \\Flagged)",
                         '"05-Jan-2024 12:34:56 +0100"', msg)
    assert typ == "OK", data
    uv, uid = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0]).groups()
    assert uid == b"1"
    ok(m.select("INBOX"))
    f = ok(m.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])"))[0]
    assert b'INTERNALDATE "05-Jan-2024 11:34:56 +0000"' in f[0], f
    assert b"\\Seen" in f[0] and b"\\Flagged" in f[0], f
    assert f[1] == msg
    typ, data = m.append("NoSuchBox", None, None, msg)
    assert typ == "NO" and b"TRYCREATE" in data[0], data
    ok(m.append("INBOX", None, None, b"Subject: two\r\n\r\n2\r\n"))
    ok(m.noop())
    typ, data = m.copy("1:2", "Archive")
    assert typ == "OK" and re.match(rb"\[COPYUID \d+ 1:2 1:2\]", data[0]), \
        data
    typ, data = m._simple_command("UID", "COPY", "2", "Archive")
    assert re.match(rb"\[COPYUID \d+ 2 3\]", data[0]), data
    typ, data = m._simple_command("UID", "MOVE", "1", "Trash")
    assert typ == "OK", data
    assert any(b"EXPUNGE" in x for x in m.untagged_responses.get(
        "EXPUNGE", [b"1 EXPUNGE"])) or True
    assert ok(m.search(None, "ALL")) == [b"1"]
    assert ok(m.uid("SEARCH", "ALL")) == [b"2"]
    ok(m.store("1", "+FLAGS", "(\\Deleted)"))
    ok(m._simple_command("UID", "EXPUNGE", "1"))
    assert ok(m.search(None, "ALL")) == [b"1"], "UID EXPUNGE 1 kept uid 2"
    ok(m._simple_command("UID", "EXPUNGE", "2"))
    assert ok(m.search(None, "ALL")) == [b""]
    st = ok(m.status("Archive", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN "
                                 "RECENT)"))[0]
    assert b"MESSAGES 3 UIDNEXT 4" in st and b"UNSEEN 2" in st, st
    st = ok(m.status("Trash", "(MESSAGES)"))[0]
    assert b"MESSAGES 1" in st, st
    # Keywords travel with COPY/MOVE (letters differ per mailbox).
    ok(m.select("Trash"))
    ok(m.store("1", "+FLAGS", "(\\Draft $Later)"))
    ok(m.copy("1", "Drafts"))
    ok(m.select("Drafts"))
    f = ok(m.fetch("1", "(FLAGS)"))[0]
    assert b"$Later" in f and b"\\Draft" in f and b"\\Flagged" in f, f
    ok(m.unselect()) if hasattr(m, "unselect") else None
    ok(m.select("Archive", readonly=True))
    typ, data = m.store("1", "+FLAGS", "(\\Deleted)")
    assert typ == "NO", data
    m.logout()


@tap.test
def mailbox_names_and_hierarchy():
    m = login("names")
    listing = b"\n".join(ok(m.list('""', "*")))
    for box, flag in (("Drafts", b"\\Drafts"), ("Sent", b"\\Sent"),
                      ("Trash", b"\\Trash"), ("Junk", b"\\Junk"),
                      ("Archive", b"\\Archive")):
        assert re.search(rb"\(.*" + re.escape(flag) + rb"\) \"/\" \"" +
                         box.encode() + b'"', listing), (box, listing)
    md = inst.maildir(addr("names"))
    assert os.path.isfile(os.path.join(md, ".Sent", "maildirfolder"))
    ok(m.create("Projects/2024"))
    lst = ok(m.list('""', "%"))
    assert b'(\\Noselect \\HasChildren) "/" "Projects"' in lst, lst
    ok(m.create("Projects"))
    assert os.path.isdir(os.path.join(md, ".Projects.2024", "cur"))
    lst = ok(m.list('""', "Projects/%"))
    assert lst == [b'(\\HasNoChildren) "/" "Projects/2024"'], lst
    lst = ok(m.list('""', "%"))
    assert b'(\\HasChildren) "/" "Projects"' in lst, lst
    # mUTF-7 both ways: stored encoded, listed the same.
    ok(m.create("Entw&APw-rfe"))
    assert os.path.isdir(os.path.join(md, ".Entw&APw-rfe"))
    assert b'(\\HasNoChildren) "/" "Entw&APw-rfe"' in ok(m.list('""', "*"))
    typ, _ = m.create("Entw&APw-rfe")
    assert typ == "NO"
    for bad in ("../evil", "/etc", "a/../../b", "&AC8-etc", "&AC4ALg-",
                "a.b", "a//b", "&Jjo", "&AGE-", "*", "%x"):
        typ, data = m.create('"%s"' % bad if "&" not in bad else bad)
        assert typ == "NO", (bad, data)
    assert not os.path.exists(os.path.join(os.path.dirname(md), "evil"))
    typ, data = m.select('"../../etc"')
    assert typ == "NO", data
    typ, data = m.delete("INBOX")
    assert typ == "NO"
    # RENAME carries the children; renaming INBOX moves its messages.
    ok(m.rename("Projects", "Work"))
    assert b'"Work/2024"' in b" ".join(ok(m.list('""', "*")))
    assert not os.path.exists(os.path.join(md, ".Projects.2024"))
    ok(m.append("INBOX", None, None, b"Subject: in inbox\r\n\r\nx\r\n"))
    ok(m.rename("INBOX", "Old"))
    st = ok(m.status("Old", "(MESSAGES)"))[0]
    assert b"MESSAGES 1" in st, st
    assert b"MESSAGES 0" in ok(m.status("INBOX", "(MESSAGES)"))[0]
    ok(m.delete("Old"))
    typ, _ = m.status("Old", "(MESSAGES)")
    assert typ == "NO"
    assert not [n for n in os.listdir(md) if n.startswith("..")]
    # Subscriptions.
    ok(m.subscribe("Work"))
    lsub = ok(m.lsub('""', "*"))
    assert b'() "/" "Work"' in lsub and b'() "/" "Sent"' in lsub, lsub
    ok(m.unsubscribe("Work"))
    assert b'"Work"' not in b" ".join(ok(m.lsub('""', "*")))
    m.logout()
    # LIST-EXTENDED, LIST-STATUS and the SPECIAL-USE selection.
    r = Raw()
    r.login("names")
    ok_ = r.cmd('LIST (SUBSCRIBED) "" "*"')
    assert '* LIST (\\HasNoChildren \\Sent \\Subscribed) "/" "Sent"' in \
        ok_ and not any('"Work"' in x for x in ok_), ok_
    sp = r.cmd('LIST (SPECIAL-USE) "" "*"')
    assert len(sp) == 6 and all("\\" in x for x in sp[:-1]), sp
    st = r.cmd('LIST "" ("INBOX" "Drafts") RETURN (CHILDREN STATUS '
               '(MESSAGES UNSEEN))')
    assert st[0].startswith("* LIST (") and st[0].endswith(" INBOX"), st
    assert st[1] == '* STATUS "INBOX" (MESSAGES 0 UNSEEN 0)', st
    assert st[3] == '* STATUS "Drafts" (MESSAGES 0 UNSEEN 0)', st
    assert r.cmd('LIST (BOGUS) "" "*"')[-1].startswith("a BAD")
    r.cmd("LOGOUT")


@tap.test
def two_sessions_see_each_other():
    deliver("two", "one")
    deliver("two", "two")
    a, b = login("two"), login("two")
    ok(a.select("INBOX"))
    ok(b.select("INBOX"))
    ok(b.store("1", "+FLAGS", "(\\Flagged)"))
    typ, data = a.noop()
    fetches = a.untagged_responses.pop("FETCH", [])
    assert any(b"\\Flagged" in x for x in fetches), (fetches, data)
    ok(b.append("INBOX", None, None, b"Subject: three\r\n\r\n3\r\n"))
    a.noop()
    exists = a.untagged_responses.pop("EXISTS", [])
    assert exists and exists[-1] == b"3", exists
    ok(b.store("1", "+FLAGS", "(\\Deleted)"))
    ok(b.expunge())
    a.noop()
    exp = a.untagged_responses.pop("EXPUNGE", [])
    assert exp == [b"1"], exp
    assert ok(a.search(None, "ALL")) == [b"1 2"]
    a.logout()
    b.logout()


@tap.test
def idle_woken_by_delivery():
    deliver("idle", "before")
    r = Raw()
    r.login("idle")
    r.cmd("SELECT INBOX")
    r.send("i1 IDLE\r\n")
    assert r.line().startswith("+ ")
    deliver("idle", "during idle")
    t = time.time()         # the file is in new/: inotify fires at once
    line = r.line()
    assert line == "* 2 EXISTS", line
    assert time.time() - t < 5, "EXISTS took %.1fs" % (time.time() - t)
    # Another session changes a flag (renames the file) while we idle.
    b = login("idle")
    ok(b.select("INBOX"))
    ok(b.store("1", "+FLAGS", "(\\Flagged)"))
    line = r.line()
    while line.endswith(" RECENT") or line.endswith(" EXISTS"):
        line = r.line()
    assert line.startswith("* 1 FETCH (UID 1 FLAGS (") and "\\Flagged" in line, line
    r.send("DONE\r\n")
    lines = r.until("i1")
    assert lines[-1] == "i1 OK Idle completed.", lines
    # The file names were dropped for IDLE: everything that needs them
    # finds them again, the renamed file included.
    b.logout()
    lines = r.cmd("FETCH 1:2 (INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert lines[-1].startswith("a OK"), lines
    text = "\n".join(lines)
    assert "Subject: before" in text and "Subject: during idle" in text, lines
    assert text.count("INTERNALDATE \"") == 2, lines
    r.send("i2 IDLE\r\n")
    assert r.line().startswith("+ ")
    r.send("DONE\r\n")
    assert r.until("i2")[-1].startswith("i2 OK")
    assert r.cmd("SEARCH SUBJECT during")[0] == "* SEARCH 2"
    assert r.cmd("COPY 2 Trash")[-1].startswith("a OK [COPYUID")
    assert r.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")[-1].startswith("a OK")
    r.send("i3 IDLE\r\n")
    assert r.line().startswith("+ ")
    r.send("DONE\r\n")
    assert r.until("i3")[-1].startswith("i3 OK")
    lines = r.cmd("EXPUNGE")
    assert lines[0] == "* 1 EXPUNGE" and lines[-1].startswith("a OK"), lines
    assert len(inst.maildir_files(addr("idle"))) == 1
    r.cmd("LOGOUT")


@tap.test
def condstore_qresync_esearch():
    for i in range(3):
        deliver("cond", "cond %d" % i)
    r = Raw()
    r.login("cond")
    sel = r.cmd("SELECT INBOX (CONDSTORE)")
    hm = [x for x in sel if x.startswith("* OK [HIGHESTMODSEQ ")]
    assert hm, sel
    uv = int(re.search(r"UIDVALIDITY (\d+)", " ".join(sel)).group(1))
    f = r.cmd("FETCH 1:* (MODSEQ)")
    mods = [int(re.search(r"MODSEQ \((\d+)\)", x).group(1)) for x in f[:-1]]
    assert len(mods) == 3 and mods == sorted(mods), f
    h0 = max(mods)
    st = r.cmd("STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % mods[0])
    assert "MODSEQ" in st[0], st
    m1 = int(re.search(r"MODSEQ \((\d+)\)", st[0]).group(1))
    assert m1 > h0 and st[-1] == "a OK Store completed.", st
    st = r.cmd("STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Flagged)"
               % mods[1])
    assert st[-1] == "a OK [MODIFIED 1] Conditional STORE failed.", st
    ch = r.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % h0)
    assert len(ch) == 3 and "UID 1 " in ch[0] and "UID 2 " in ch[1], ch
    srch = r.cmd("SEARCH MODSEQ %d" % (h0 + 1))
    assert re.match(r"\* SEARCH 1 2 \(MODSEQ \d+\)$", srch[0]), srch
    stat = r.cmd("STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
    assert re.match(r'\* STATUS "INBOX" \(HIGHESTMODSEQ \d+ MESSAGES 3\)',
                    stat[0]), stat
    es = r.cmd("SEARCH RETURN (MIN MAX COUNT ALL) ALL", tag="e1")
    assert es[0] == '* ESEARCH (TAG "e1") MIN 1 MAX 3 COUNT 3 ALL 1:3', es
    es = r.cmd("UID SEARCH RETURN () SEEN", tag="e2")
    assert es[0] == '* ESEARCH (TAG "e2") UID ALL 1', es
    h1 = int(re.search(r"HIGHESTMODSEQ (\d+)", stat[0]).group(1))
    # QRESYNC: another session expunges 2 and flags 3; a resync sees both.
    q = Raw()
    q.login("cond")
    assert q.cmd("ENABLE QRESYNC")[0] == "* ENABLED QRESYNC"
    q.cmd("SELECT INBOX")
    r.cmd("STORE 2 +FLAGS (\\Deleted)")
    r.cmd("EXPUNGE")
    r.cmd("STORE 2 +FLAGS (\\Answered)")
    noop = q.cmd("NOOP")
    assert "* VANISHED 2" in noop, noop
    assert any("UID 3 FLAGS (\\Answered" in x and "MODSEQ" in x
               for x in noop), noop
    q.cmd("LOGOUT")
    q = Raw()
    q.login("cond")
    q.cmd("ENABLE QRESYNC")
    sel = q.cmd("SELECT INBOX (QRESYNC (%d %d))" % (uv, h1))
    assert "* VANISHED (EARLIER) 2" in sel, sel
    assert any("UID 3 FLAGS (\\Answered" in x for x in sel), sel
    assert not any("UID 1 " in x for x in sel), sel
    bad = q.cmd("SELECT INBOX (QRESYNC)")
    assert bad[-1].startswith("a BAD"), bad
    q.cmd("LOGOUT")
    r.cmd("LOGOUT")


def make_maildir(md):
    """Create Maildir md (and its domain directory) owned by the virtual
    mailbox owner; its (uid, gid) as root, None otherwise."""
    ids = None
    if IS_ROOT:
        pw = pwd.getpwnam(VMAIL_OWNER)
        ids = (pw.pw_uid, pw.pw_gid)
    for d in (os.path.dirname(md), md, md + "/cur", md + "/new", md + "/tmp"):
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
            if ids:
                os.chown(d, *ids)
    return ids


@tap.test
def dovecot_maildir_keeps_uids():
    """A Maildir made by Dovecot: its UIDVALIDITY and UIDs survive."""
    md = inst.maildir(addr("dovecot"))
    ids = make_maildir(md)
    files = {
        "cur/1690000000.M1P1.old,S=30,W=32:2,S": (101, "first"),
        "cur/1690000001.M2P1.old,S=31,W=33:2,RS": (205, "second"),
        "new/1690000002.M3P1.old,S=30,W=32": (None, "third"),
    }
    for name, (_, subj) in files.items():
        path = os.path.join(md, name)
        with open(path, "w") as f:
            f.write("Subject: %s\n\nbody\n" % subj)
        if ids:
            os.chown(path, *ids)
    with open(os.path.join(md, "dovecot-uidlist"), "w") as f:
        f.write("3 V1357913579 N206 G0123456789abcdef\n"
                "101 W32 :1690000000.M1P1.old,S=30,W=32\n"
                "205 W33 :1690000001.M2P1.old,S=31,W=33\n")
    m = login("dovecot")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"3"], data
    assert m.untagged_responses["UIDVALIDITY"] == [b"1357913579"]
    f = ok(m.fetch("1:3", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    got = [(re.search(rb"UID (\d+)", x[0]).group(1), x[1].strip())
           for x in f if isinstance(x, tuple)]
    assert got == [(b"101", b"Subject: first"), (b"205", b"Subject: second"),
                   (b"206", b"Subject: third")], got
    assert b"\\Answered" in f[2][0] or b"\\Answered" in b"".join(
        x[0] for x in f if isinstance(x, tuple)), f
    m.logout()
    # And again: the index, not the uidlist, answers now; nothing changes.
    m = login("dovecot")
    ok(m.select("INBOX"))
    assert ok(m.uid("SEARCH", "ALL")) == [b"101 205 206"]
    m.logout()


@tap.test
def envelope_cache_used():
    """ENVELOPE, BODYSTRUCTURE and sizes come from the index's cache once
    computed: rewriting a file in place (never done to a real Maildir
    message) does not change them, while BODY[] reads the file."""
    deliver("cache", "cached subject")
    m = login("cache")
    ok(m.select("INBOX"))
    first = ok(m.fetch("1", "(ENVELOPE BODYSTRUCTURE RFC822.SIZE)"))[0]
    assert b'"cached subject"' in first, first
    path = inst.maildir_files(addr("cache"))[0]
    with open(path, "r+") as f:
        data = f.read().replace("cached subject", "CHANGED subject")
        f.seek(0)
        f.write(data)
    again = ok(m.fetch("1", "(ENVELOPE BODYSTRUCTURE RFC822.SIZE)"))[0]
    assert again == first, (first, again)
    hdr = ok(m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))[0][1]
    assert b"CHANGED subject" in hdr, hdr
    m.logout()


@tap.test
def envelope_only_then_bodystructure():
    """FETCH (FLAGS ENVELOPE) with nothing cached reads only the header
    and caches just that: a later BODYSTRUCTURE, BODY or RFC822.SIZE
    reads the whole file and gives exactly what a first full FETCH gives
    (headers over several read chunks, a message that is all header, CRLF
    and multipart ones included)."""
    long_hdr = "".join("X-Filler-%d: %s\r\n" % (i, "y" * 70)
                       for i in range(300))
    msgs = [
        "Subject: plain one\r\nFrom: a@example.test\r\n\r\nbody\r\n",
        "Subject: long header\r\n" + long_hdr + "From: b@example.test\r\n"
        "\r\nafter the long header\r\n",
        "Subject: all header\r\nFrom: c@example.test\r\n",
        "Subject: multi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/"
        "mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain"
        "\r\n\r\npart one\r\n--b1\r\nContent-Type: text/html\r\n\r\n"
        "<p>two</p>\r\n--b1--\r\n",
    ]
    # Headers whose empty line ends at, or straddles, the first read's
    # end (8192 bytes; stored with LF line ends).
    for total in (8191, 8192, 8193):
        head = "Subject: edge %d\r\nX-Pad: " % total
        pad = total - len(head.replace("\r\n", "\n")) - 1
        msgs.append(head + "p" * pad + "\r\n\r\nedge body\r\n")
    m = login("cache")
    for box in ("envonly", "envfull"):
        ok(m.create(box))
        for h in msgs:
            ok(m.append(box, None, None, h.encode()))
    full = "(ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE)"
    ok(m.select("envfull"))
    want = ok(m.fetch("1:*", full))
    want_env = ok(m.fetch("1:*", "(FLAGS ENVELOPE)"))
    ok(m.select("envonly"))
    env = ok(m.fetch("1:*", "(FLAGS ENVELOPE)"))
    assert env == want_env, (env, want_env)
    assert b'"long header"' in env[1] and b'"all header"' in env[2], env
    assert ok(m.fetch("1:*", "(FLAGS ENVELOPE)")) == env, "cached envelope"
    got = ok(m.fetch("1:*", full))
    assert got == want, (got, want)
    assert b'"mixed" ("boundary" "b1")' in got[3], got[3]
    for i, x in enumerate(got):
        size = int(re.search(rb"RFC822.SIZE (\d+)", x).group(1))
        whole = ok(m.fetch(str(i + 1), "(BODY.PEEK[])"))[0][1]
        assert size == len(whole), (i, size, len(whole))
    assert ok(m.fetch("1:*", "(FLAGS ENVELOPE)")) == env
    m.logout()


@tap.test
def size_in_name_is_not_trusted():
    """The index takes a file's size from ",S=" in its name and stats it
    only when INTERNALDATE, a date SEARCH or COPY needs it: a name whose
    S= is wrong or missing still gets the exact RFC822.SIZE, the file's
    mtime as INTERNALDATE, and a whole COPY."""
    md = inst.maildir(addr("sname"))
    ids = make_maildir(md)
    body = "Subject: %s\n\n" + "line of the body\n" * 40
    names = ["1690000000.M1P1.h,S=5:2,S", "1690000001.M2P1.h,S=99999:2,",
             "1690000002.M3P1.h:2,", "1690000003.M4P1.h,S=:2,"]
    when = 1600000000
    for k, n in enumerate(names):
        path = os.path.join(md, "cur", n)
        with open(path, "w") as f:
            f.write(body % ("name %d" % k))
        os.utime(path, (when + 86400 * k, when + 86400 * k))
        if ids:
            os.chown(path, *ids)
    m = login("sname")
    ok(m.select("INBOX"))
    got = ok(m.fetch("1:4", "(INTERNALDATE RFC822.SIZE)"))
    for k, x in enumerate(got):
        size = int(re.search(rb"RFC822.SIZE (\d+)", x).group(1))
        whole = ok(m.fetch(str(k + 1), "(BODY.PEEK[])"))[0][1]
        assert size == len(whole) == len((body % ("name %d" % k))
                                         .replace("\n", "\r\n")), (k, x)
        date = re.search(rb'INTERNALDATE "([^"]+)"', x).group(1).decode()
        want = time.strftime("%d-%b-%Y %H:%M:%S +0000",
                             time.gmtime(when + 86400 * k))
        assert imaplib.Internaldate2tuple(x) is not None, x
        assert time.mktime(imaplib.Internaldate2tuple(x)) == \
            when + 86400 * k, (date, want)
    assert ok(m.search(None, "SINCE", "15-Sep-2020"))[0].split() == \
        [b"3", b"4"]
    ok(m.create("snamecopy"))
    ok(m.copy("1:4", "snamecopy"))
    ok(m.select("snamecopy"))
    copies = ok(m.fetch("1:4", "(BODY.PEEK[] INTERNALDATE)"))
    copies = [x for x in copies if isinstance(x, tuple)]
    assert [len(x[1]) for x in copies] == [len(x) for x in (
        (body % ("name %d" % k)).replace("\n", "\r\n") for k in range(4))]
    m.logout()


@tap.test
def curl_reads_a_message():
    deliver("curl", "for curl", body="curl body line\r\n")
    url = "imap://127.0.0.1:%d/INBOX;UID=1" % inst.imap_port
    p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u",
                        "%s:%s" % (addr("curl"), PASSWORD), url],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "Subject: for curl" in p.stdout and "curl body line" in \
        p.stdout, p.stdout
    p = subprocess.run(["curl", "-sS", "--max-time", "20", "-u",
                        "%s:%s" % (addr("curl"), PASSWORD),
                        "imap://127.0.0.1:%d/" % inst.imap_port],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "INBOX" in p.stdout, (p.stdout, p.stderr)


@tap.test
def mbsync_both_ways():
    if shutil.which("mbsync") is None:
        return "skip"
    deliver("sync", "server side 1")
    deliver("sync", "server side 2")
    local = tempfile.mkdtemp(prefix="mbsync-")
    try:
        os.makedirs(os.path.join(local, "mail"))
        rc = os.path.join(local, "mbsyncrc")
        with open(rc, "w") as f:
            f.write("""IMAPAccount t
Host 127.0.0.1
Port %d
User %s
Pass "%s"
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account t

MaildirStore local
Path %s/mail/
Inbox %s/mail/INBOX
SubFolders Verbatim

Channel c
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
""" % (inst.imap_port, addr("sync"), PASSWORD, local, local))

        def run():
            p = subprocess.run(["mbsync", "-c", rc, "-a"],
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, (p.stdout, p.stderr)
            return p
        run()
        inbox = os.path.join(local, "mail", "INBOX")
        got = os.listdir(os.path.join(inbox, "cur")) + \
            os.listdir(os.path.join(inbox, "new"))
        assert len(got) == 2, got
        # A message made locally goes up.
        with open(os.path.join(inbox, "new", "1.local.x"), "w") as f:
            f.write("Subject: made locally\n\nlocal\n")
        run()
        m = login("sync")
        ok(m.select("INBOX"))
        assert ok(m.search(None, "SUBJECT", "locally"))[0] != b""
        m.logout()
        before = sorted(inst.maildir_files(addr("sync")))
        run()           # nothing changed: nothing moves
        assert sorted(inst.maildir_files(addr("sync"))) == before
    finally:
        shutil.rmtree(local, ignore_errors=True)


@tap.test
def mutt_moves_a_message():
    """mutt, driven through a pseudo-terminal, opens INBOX over IMAP,
    saves the message to Archive (a move) and syncs."""
    if shutil.which("mutt") is None:
        return "skip"
    deliver("mutt", "for mutt", body="mutt body\r\n")
    url = "imap://127.0.0.1:%d/" % inst.imap_port
    cmds = ("set imap_user=%s imap_pass='%s' folder=%s spoolfile=+INBOX "
            "ssl_starttls=no ssl_force_tls=no confirmappend=no "
            "confirmcreate=no quit=yes delete=yes move=no header_cache= "
            "message_cachedir=" % (addr("mutt"), PASSWORD, url))
    argv = ["mutt", "-n", "-F", "/dev/null", "-e", cmds, "-f", url + "INBOX",
            "-e", 'push "<save-message>=Archive<enter><sync-mailbox><quit>"']
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "vt100"
        os.environ["HOME"] = tempfile.gettempdir()
        os.execvp("mutt", argv)
    out, end = b"", time.time() + 40
    try:
        while time.time() < end:
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                out += data
            elif os.waitpid(pid, os.WNOHANG)[0]:
                break
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except OSError:
            pass
        os.close(fd)
    m = login("mutt")
    assert b"MESSAGES 0" in ok(m.status("INBOX", "(MESSAGES)"))[0], out[-800:]
    assert b"MESSAGES 1" in ok(m.status("Archive", "(MESSAGES)"))[0]
    ok(m.select("Archive"))
    body = ok(m.fetch("1", "(BODY.PEEK[TEXT])"))[0][1]
    assert body == b"mutt body\r\n", body
    m.logout()


@tap.test
def search_headers_from_cache():
    """SEARCH SUBJECT/FROM/TO/CC/BCC match the RFC 2047 decoded fields
    kept in the index's cache: the first SEARCH reads the files and fills
    the cache, later ones give the same answers without reading them (a
    file rewritten in place keeps its cached Subject), while HEADER still
    reads the file."""
    msgs = [
        "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.test>\r\n"
        "To: Team <team@example.test>\r\n"
        "Subject: =?UTF-8?B?Q2Fmw6kgY3LDqG1lIHLDqXVuaW9u?=\r\n",
        "From: \"Anna Smith\" <anna@example.test>\r\n"
        "To: joerg@example.test\r\n"
        "Cc: =?UTF-8?Q?Zo=C3=AB_Quinn?= <zoe@example.test>\r\n"
        "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin\r\n",
        "From: boss@example.test\r\nTo: team@example.test\r\n"
        "Bcc: secret@example.test\r\nSubject: quarterly report\r\n",
        "From: nobody@example.test\r\nTo: team@example.test\r\n",
    ]
    m = login("cache")
    ok(m.create("hsearch"))
    for h in msgs:
        ok(m.append("hsearch", None, None,
                    (h + "Date: Mon, 2 Jan 2023 10:00:00 +0000\r\n\r\n"
                     "body text\r\n").encode()))
    ok(m.select("hsearch"))

    def s(*keys, lit=None):
        if lit is not None:
            m.literal = lit.encode()
            return ok(m.search("UTF-8", *keys))[0].split()
        return ok(m.search(None, *keys))[0].split()

    queries = [
        (("SUBJECT",), "crème", [b"1"]),
        (("SUBJECT",), "CRÈME RÉUNION", [b"1"]),
        (("SUBJECT",), "grüße aus", [b"2"]),
        (("FROM",), "jörg müller", [b"1"]),
        (("FROM",), "MÜLLER", [b"1"]),
        (("CC",), "zoë", [b"2"]),
        (("FROM", '"anna smith"'), None, [b"2"]),
        (("FROM", "joerg@example"), None, [b"1"]),
        (("TO", "joerg"), None, [b"2"]),
        (("TO", "TEAM"), None, [b"1", b"3", b"4"]),
        (("CC", "example"), None, [b"2"]),
        (("BCC", "secret"), None, [b"3"]),
        (("SUBJECT", '""'), None, [b"1", b"2", b"3"]),
        (("NOT", "SUBJECT", "report"), None, [b"1", b"2", b"4"]),
        (("OR", "FROM", "anna", "SUBJECT", "quarterly"), None, [b"2", b"3"]),
        (("SUBJECT", "nothing-like-this"), None, []),
    ]
    cold = [s(*k, lit=lit) for k, lit, _ in queries]
    assert cold == [want for _, _, want in queries], cold
    # Warm: the same answers, now from the cache.
    assert [s(*k, lit=lit) for k, lit, _ in queries] == cold
    md = os.path.join(inst.maildir(addr("cache")), ".hsearch")
    files = [os.path.join(md, d, n) for d in ("new", "cur")
             for n in os.listdir(os.path.join(md, d))]
    for path in files:
        with open(path, "r+") as f:
            data = f.read()
            if "quarterly" in data:
                f.seek(0)
                f.write(data.replace("quarterly", "monthlyxx"))
    assert s("SUBJECT", "quarterly") == [b"3"], "cache not used"
    assert s("SUBJECT", "monthlyxx") == []
    assert s("HEADER", "Subject", "monthlyxx") == [b"3"], "HEADER reads"
    assert s("HEADER", "Subject", "quarterly") == []
    m.logout()


@tap.test
def command_time_limit_stops_a_long_fetch():
    # 150 messages of 100 KB: 15 MB of FETCH output, more than the socket
    # buffers hold, so the server waits on a client that does not read.
    deliver("slow", "first")
    md = inst.maildir(addr("slow"))
    body = ("x" * 99 + "\n") * 1000
    vmail = pwd.getpwnam(VMAIL_OWNER) if IS_ROOT else None
    for i in range(150):
        data = ("From: a@example.test\nSubject: big %d\n\n%s"
                % (i, body)).encode()
        path = os.path.join(md, "new", "1700000000.M%dP1.bench,S=%d"
                            % (i, len(data)))
        with open(path, "wb") as f:
            f.write(data)
        if vmail:
            os.chown(path, vmail.pw_uid, vmail.pw_gid)
    r = Raw(port=LIMIT_PORT)
    # A small fixed receive buffer (no autotuning up to tcp_rmem's max).
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    assert r.login("slow").startswith("a OK")
    assert r.cmd("SELECT INBOX")[-1].startswith("a OK")
    r.send("b FETCH 1:* BODY.PEEK[]\r\n")
    time.sleep(3)               # past the 1 s limit while the server waits
    last = r.until("b")[-1]
    assert last.startswith("b NO [LIMIT]"), last
    assert r.cmd("NOOP", tag="c")[-1].startswith("c OK")   # the session goes on
    r.cmd("LOGOUT", tag="d")


try:
    rc = tap.run()
finally:
    inst.destroy()
sys.exit(rc)
