"""test_pop3: pop3d against RFC 1939/2449 and real clients (poplib, a raw
socket, curl, fetchmail): every command and state error, TOP, byte-stuffing,
snapshots, the session lock, UIDL stability (also Dovecot's dovecot-uidlist
format), limits, and the log lines. Mailboxes are filled by writing files
into the Maildir directly (fast), except where SMTP delivery is the point."""

import os
import poplib
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, VMAIL_OWNER, Instance, TAP, wait_for  # noqa: E402

TIMEOUT = 4
inst = Instance(main_extra="""
pop3d_timeout = %ds
pop3d_hard_error_limit = 20
pop3d_auth_failure_limit = 2
pop3d_auth_failure_delay = 0s
""" % TIMEOUT)
tap = TAP(inst)
PASSWORD = "pop-Pass 1"        # a space: PASS takes the rest of the line
USERS = ["errors", "stuff", "drop", "inuse", "uidl", "dovecot", "snap",
         "idle", "big", "fmkeep", "fmdel", "curl", "logs", "limits"]


def addr(name):
    return name + "@example.test"


# --- mailbox helpers -------------------------------------------------------
def vmail_ids():
    if not IS_ROOT:
        return None
    pw = pwd.getpwnam(VMAIL_OWNER)
    return pw.pw_uid, pw.pw_gid


def chown(path):
    ids = vmail_ids()
    if ids:
        os.chown(path, *ids)


def maildir(name):
    md = inst.maildir(addr(name))
    for d in (os.path.dirname(md), md) + tuple(
            os.path.join(md, s) for s in ("cur", "new", "tmp")):
        if not os.path.isdir(d):
            os.mkdir(d, 0o700)
            chown(d)
    return md


def put(name, data, sub="new", fname=None, seq=[0]):
    """Write one message file (bytes, stored as given) into the Maildir."""
    seq[0] += 1
    fname = fname or "%d.M%06dP1.test" % (1600000000 + seq[0], seq[0])
    path = os.path.join(maildir(name), sub, fname)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)
    chown(path)
    return fname


def msg(i, body="Body.\n"):
    return ("From: a@example.org\nTo: b@example.test\nSubject: m%d\n\n%s"
            % (i, body)).encode()


def files(name):
    md = maildir(name)
    return {sub: sorted(os.listdir(os.path.join(md, sub)))
            for sub in ("new", "cur")}


def crlf_size(data):
    return len(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


# --- a raw client ----------------------------------------------------------
class Raw:
    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", inst.pop3_port),
                                             timeout=15)
        self.f = self.sock.makefile("rb")
        self.greeting = self.line()
        assert self.greeting.startswith(b"+OK"), self.greeting

    def line(self):
        data = self.f.readline()
        assert data.endswith(b"\r\n"), data
        return data[:-2]

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        """The lines of a multi-line answer, still dot-stuffed."""
        out = []
        while True:
            data = self.f.readline()
            assert data.endswith(b"\r\n"), ("not CRLF", data, out[-3:])
            if data == b".\r\n":
                return out
            out.append(data[:-2])

    def login(self, name, password=PASSWORD):
        assert self.cmd("USER " + addr(name)) == b"+OK"
        return self.cmd("PASS " + password)

    def eof(self):
        return self.f.read() == b""

    def close(self):
        self.f.close()          # makefile() holds the socket open too
        self.sock.close()


def pop(name):
    p = poplib.POP3("127.0.0.1", inst.pop3_port, timeout=15)
    p.user(addr(name))
    p.pass_(PASSWORD)
    return p


# --- tests -----------------------------------------------------------------
@tap.test
def setup_instance():
    for u in USERS + ["nombox"]:
        inst.add_user(addr(u), PASSWORD)
    # a password but no mailbox: an administrator's mistake
    vmailbox = os.path.join(inst.conf, "vmailbox")
    with open(vmailbox) as f:
        lines = [l for l in f if not l.startswith(addr("nombox"))]
    with open(vmailbox, "w") as f:
        f.writelines(lines)
    inst.cli("map", "build", "hash:" + vmailbox)
    inst.start()
    wait_for(lambda: inst.port_open(inst.pop3_port), what="pop3 port")


@tap.test
def capa_lists_only_what_exists_in_both_states():
    c = Raw()
    assert c.cmd("CAPA") == b"+OK Capability list follows"
    before = c.multi()
    for cap in (b"TOP", b"UIDL", b"RESP-CODES", b"PIPELINING",
                b"AUTH-RESP-CODE", b"USER"):
        assert cap in before, before
    # no certificate here: no STLS; a client on the server's own address
    # counts as secure (Dovecot's rule), so plaintext logins are offered
    assert not [x for x in before if x.startswith(b"STLS")], before
    assert b"SASL PLAIN LOGIN" in before, before
    assert c.cmd("STLS") == b"-ERR TLS support isn't enabled."
    assert any(x.startswith(b"IMPLEMENTATION ") for x in before), before
    assert c.login("errors") == b"+OK Logged in."
    assert c.cmd("capa") == b"+OK Capability list follows"
    after = c.multi()
    assert b"TOP" in after and b"UIDL" in after and b"USER" not in after, after
    assert c.cmd("QUIT") == b"+OK Logging out."
    assert c.eof()


@tap.test
def authorization_state_errors():
    put("errors", msg(1))
    c = Raw()
    for verb in ("STAT", "LIST", "UIDL", "RETR 1", "TOP 1 1", "DELE 1",
                 "RSET", "NOOP"):
        assert c.cmd(verb) == b"-ERR Not logged in.", verb
    c.close()
    c = Raw()
    assert c.cmd("PASS " + PASSWORD) == b"-ERR No username given."
    assert c.cmd("USER") == b"-ERR USER takes one argument."
    assert c.cmd("USER a b") == b"-ERR USER takes one argument."
    assert c.cmd("USER " + "x" * 300).startswith(b"-ERR")     # line limit too
    # a wrong password sends the client back to USER (RFC 1939)
    assert c.cmd("USER " + addr("errors")) == b"+OK"
    assert c.cmd("PASS wrong") == b"-ERR [AUTH] Authentication failed."
    assert c.cmd("PASS " + PASSWORD) == b"-ERR No username given."
    assert c.login("errors") == b"+OK Logged in."
    c.cmd("QUIT")
    c.close()
    # QUIT before login ends the session too
    c = Raw()
    assert c.cmd("QUIT") == b"+OK Logging out."
    assert c.eof()


@tap.test
def unreadable_message_is_a_temporary_error():
    if not IS_ROOT:
        return "skip"                  # needs a file pop3d cannot read
    good = put("limits", msg(1))
    bad = put("limits", msg(2))
    os.chown(os.path.join(maildir("limits"), "new", bad), 0, 0)
    c = Raw()
    assert c.login("limits") == b"+OK Logged in."
    assert c.cmd("RETR 2") == \
        b"-ERR [SYS/TEMP] Unable to read the message."
    assert c.cmd("LIST") == b"-ERR [SYS/TEMP] Unable to read the mailbox."
    assert c.cmd("RETR 1").startswith(b"+OK ")
    c.multi()
    assert c.cmd("QUIT") == b"+OK Logging out."
    for name in (good, bad):
        for sub in ("new", "cur"):
            for n in os.listdir(os.path.join(maildir("limits"), sub)):
                if n.startswith(name):
                    os.unlink(os.path.join(maildir("limits"), sub, n))


@tap.test
def login_without_a_mailbox_is_a_permanent_error():
    c = Raw()
    assert c.login("nombox") == b"-ERR [SYS/PERM] No mailbox for this user."
    assert c.eof()
    inst.wait_log("pop3(nombox@example.test): no virtual_mailbox_maps entry")


@tap.test
def syntax_errors_and_limits():
    c = Raw()
    assert c.cmd("FOO") == b"-ERR Unknown command: FOO"
    assert c.cmd("") == b"-ERR Unknown command."
    assert c.cmd("NOOP\x01") == b"-ERR Invalid characters in command."
    assert c.cmd("X" * 40) == b"-ERR Unknown command."
    assert c.cmd("NOOP " + "a" * 600) == b"-ERR Line too long."
    # still in step after the long line
    assert c.cmd("CAPA").startswith(b"+OK")
    c.multi()
    c.cmd("QUIT")
    c.close()


@tap.test
def transaction_state_errors():
    c = Raw()
    assert c.login("errors") == b"+OK Logged in."
    assert c.cmd("USER x") == b"-ERR Already logged in."
    assert c.cmd("PASS x") == b"-ERR Already logged in."
    assert c.cmd("STAT 1") == b"-ERR Too many arguments."
    assert c.cmd("RETR") == b"-ERR Message number expected."
    assert c.cmd("RETR 0") == b"-ERR There's no message 0."
    assert c.cmd("RETR 2") == b"-ERR There's no message 2."
    assert c.cmd("RETR -1").startswith(b"-ERR Invalid message number")
    assert c.cmd("RETR 99999999999999999999999").startswith(
        b"-ERR Invalid message number")
    assert c.cmd("RETR 1 2") == b"-ERR Too many arguments."
    assert c.cmd("LIST 2") == b"-ERR There's no message 2."
    assert c.cmd("UIDL x").startswith(b"-ERR Invalid message number")
    assert c.cmd("TOP 1") == b"-ERR Message number and line count expected."
    assert c.cmd("TOP 1 x") == b"-ERR Invalid line count."
    assert c.cmd("TOP 1 -1") == b"-ERR Invalid line count."
    assert c.cmd("DELE") == b"-ERR Message number expected."
    assert c.cmd("NOOP x") == b"-ERR Too many arguments."
    assert c.cmd("RSET x") == b"-ERR Too many arguments."
    assert c.cmd("NOOP") == b"+OK"
    assert c.cmd("DELE 1") == b"+OK Marked to be deleted."
    for verb in ("DELE 1", "RETR 1", "TOP 1 0", "LIST 1", "UIDL 1"):
        assert c.cmd(verb) == b"-ERR Message is deleted.", verb
    assert c.cmd("STAT") == b"+OK 0 0"
    assert c.cmd("LIST") == b"+OK 0 messages:" and c.multi() == []
    assert c.cmd("UIDL") == b"+OK" and c.multi() == []
    assert c.cmd("RSET") == b"+OK"
    assert c.cmd("STAT").startswith(b"+OK 1 ")
    assert c.cmd("QUIT") == b"+OK Logging out."
    assert c.eof()
    f = files("errors")
    assert f["new"] == [] and len(f["cur"]) == 1, f


@tap.test
def bad_command_limit_disconnects():
    c = Raw()
    for i in range(19):
        assert c.cmd("BOGUS%d" % i).startswith(b"-ERR Unknown command")
    assert c.cmd("BOGUS") == b"-ERR Unknown command: BOGUS"
    assert c.line() == b"-ERR Too many bad commands."
    assert c.eof()
    inst.wait_log("pop3-login: Disconnected: Too many invalid commands "
                  "(no auth attempts in ")


@tap.test
def login_failure_limit_disconnects():
    c = Raw()
    for i in range(2):
        assert c.cmd("USER " + addr("limits")) == b"+OK"
        assert c.cmd("PASS nope%d" % i) == b"-ERR [AUTH] Authentication failed."
    assert c.eof()
    inst.wait_log("pop3-login: Disconnected (auth failed, 2 attempts in ")
    c = Raw()
    assert c.cmd("USER nobody@example.test") == b"+OK"
    assert c.cmd("PASS x") == b"-ERR [AUTH] Authentication failed."
    c.close()


@tap.test
def pipelined_commands_answered_in_order():
    put("limits", msg(1))
    put("limits", msg(2))
    c = Raw()
    c.send("USER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL 2\r\nDELE 1\r\n"
           "TOP 2 0\r\nNOOP\r\nRSET\r\nBOGUS\r\nQUIT\r\n"
           % (addr("limits"), PASSWORD))
    assert c.line() == b"+OK"
    assert c.line() == b"+OK Logged in."
    assert c.line().startswith(b"+OK 2 ")
    assert c.line() == b"+OK 2 messages:" and len(c.multi()) == 2
    assert c.line().startswith(b"+OK 2 ")
    assert c.line() == b"+OK Marked to be deleted."
    assert c.line() == b"+OK" and c.multi()[-1] == b""
    assert c.line() == b"+OK"
    assert c.line() == b"+OK"
    assert c.line().startswith(b"-ERR Unknown command")
    assert c.line() == b"+OK Logging out."
    assert c.eof()
    assert len(files("limits")["cur"]) == 2


@tap.test
def retr_top_byte_stuffing_and_sizes():
    body = (b".\n..\n...x\n. leading space\n.\r\nnot a dot\n.\n"
            b"line5\nline6\n.")                       # no final newline
    lf = msg(1, "").rstrip(b"\n") + b"\n\n" + body
    crlf = (b"Subject: crlf\r\nX: y\r\n\r\n.one\r\ntwo\r\n")
    put("stuff", lf)
    put("stuff", crlf)
    c = Raw()
    assert c.login("stuff") == b"+OK Logged in."
    want = lf.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n"
    size = len(lf.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert c.cmd("LIST 1") == b"+OK 1 %d" % size
    assert c.cmd("LIST 2") == b"+OK 2 %d" % len(crlf)
    assert c.cmd("STAT") == b"+OK 2 %d" % (size + len(crlf))
    assert c.cmd("RETR 1") == b"+OK %d octets" % size
    wire = c.multi()
    stuffed = [(b"." + l if l.startswith(b".") else l)
               for l in want[:-2].split(b"\r\n")]
    assert wire == stuffed, (wire, stuffed)
    assert all(l.startswith(b"..") for l in wire if l.startswith(b"."))
    # TOP n: header, the blank line, n body lines, stuffed too
    assert c.cmd("TOP 1 0") == b"+OK"
    assert c.multi() == wire[:wire.index(b"") + 1]
    assert c.cmd("TOP 1 3") == b"+OK"
    assert c.multi() == wire[:wire.index(b"") + 4]
    assert c.cmd("TOP 1 1000") == b"+OK"
    assert c.multi() == wire
    assert c.cmd("RETR 2") == b"+OK %d octets" % len(crlf)
    assert c.multi() == [b"Subject: crlf", b"X: y", b"", b"..one", b"two"]
    c.cmd("QUIT")
    # poplib undoes the stuffing: the text comes back exactly
    p = pop("stuff")
    lines = p.retr(1)[1]
    assert b"\r\n".join(lines) + b"\r\n" == want
    p.quit()


@tap.test
def retrieved_messages_get_seen_in_cur():
    a = put("stuff", msg(1), fname="1700000001.A.test")
    b = put("stuff", msg(2), fname="1700000002.B.test")
    c = put("stuff", msg(3), sub="cur", fname="1700000003.C.test:2,Fa")
    d = put("stuff", msg(4), sub="cur", fname="1700000004.D.test:2,RT")
    e = put("stuff", msg(5), sub="cur", fname="1700000005.E.test:2,S")
    p = pop("stuff")
    names = {}
    for line in p.uidl()[1]:
        n, u = line.split()
        names[u.decode()] = int(n)
    for x in (a, c, d, e):
        p.retr(names[x.split(":")[0]])
    p.top(names[b], 0)
    p.quit()
    cur = files("stuff")["cur"]
    for want in ("1700000001.A.test:2,S", "1700000002.B.test:2,",
                 "1700000003.C.test:2,FSa", "1700000004.D.test:2,RST",
                 "1700000005.E.test:2,S"):
        assert want in cur, (want, cur)
    assert files("stuff")["new"] == []


@tap.test
def dropped_connection_deletes_nothing():
    for i in range(3):
        put("drop", msg(i))
    c = Raw()
    assert c.login("drop") == b"+OK Logged in."
    for i in (1, 2, 3):
        assert c.cmd("DELE %d" % i) == b"+OK Marked to be deleted."
    c.close()                            # no QUIT: no UPDATE state
    # the next session gets in (lock released) and sees all three
    p = pop("drop")
    assert p.stat()[0] == 3
    p.dele(1)
    p.quit()
    f = files("drop")
    assert f["new"] == [] and len(f["cur"]) == 2, f
    inst.wait_log("pop3(drop@example.test): Disconnected: Connection closed "
                  "top=0/0, retr=0/0, del=0/3, size=")


def pop3d_holding(name):
    """The pop3d process holding name's session lock (by /proc fds)."""
    lock = os.path.realpath(os.path.join(maildir(name),
                                         "postilion-pop3.lock"))
    for pid in inst.pids_of("pop3d"):
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)).endswith(
                        lock[len(os.path.realpath(inst.mail)):]):
                    return pid
        except OSError:
            continue
    return None


@tap.test
def second_session_is_in_use_and_a_crash_leaves_no_lock():
    put("inuse", msg(1))
    a = Raw()
    assert a.login("inuse") == b"+OK Logged in."
    b = Raw()
    start = time.time()
    assert b.login("inuse") == \
        b"-ERR [IN-USE] Mailbox is locked by another POP3 session."
    assert time.time() - start < 5
    assert b.eof()
    assert a.cmd("STAT").startswith(b"+OK 1 ")
    assert a.cmd("QUIT") == b"+OK Logging out."
    # right after QUIT the next one gets in
    b = Raw()
    assert b.login("inuse") == b"+OK Logged in."
    # a crashed session (SIGKILL) leaves nothing behind: the kernel unlocks
    pid = wait_for(lambda: pop3d_holding("inuse"), what="pop3d with lock")
    os.kill(pid, signal.SIGKILL)
    assert b.eof()
    c = Raw()
    assert c.login("inuse") == b"+OK Logged in."
    assert c.cmd("STAT").startswith(b"+OK 1 ")
    c.cmd("QUIT")


def uidl_map(name):
    p = pop(name)
    out = {}
    for line in p.uidl()[1]:
        n, u = line.split()
        out[u] = p.retr(int(n))[1]
    p.quit()
    return out


@tap.test
def uidl_stable_across_restart_and_imap_flag_rename():
    for i in range(4):
        put("uidl", msg(i))
    first = uidl_map("uidl")                  # now moved to cur/...:2,
    assert len(first) == 4 and all(len(u) <= 70 for u in first)
    f = files("uidl")
    assert f["new"] == [] and all(n.endswith(":2,S") for n in f["cur"]), f
    assert uidl_map("uidl") == first
    # an IMAP client sets \Flagged: the file is renamed in cur/
    cur = os.path.join(maildir("uidl"), "cur")
    for n in os.listdir(cur):
        os.rename(os.path.join(cur, n),
                  os.path.join(cur, n.split(":")[0] + ":2,FS"))
    assert uidl_map("uidl") == first
    inst.stop()
    wait_for(lambda: not inst.all_pids(), what="instance stopped")
    inst.start()
    wait_for(lambda: inst.port_open(inst.pop3_port), what="pop3 port")
    assert uidl_map("uidl") == first


@tap.test
def dovecot_uidlist_gives_dovecot_uidls():
    a = put("dovecot", msg(1), sub="cur",
            fname="1276528487.M364837P9451.kurkku,S=1355,W=1394:2,S")
    b = put("dovecot", msg(2), sub="cur",
            fname="1276533073.M242911P3632.kurkku:2,F")
    c = put("dovecot", msg(3), sub="new", fname="1276533080.M1P1.kurkku")
    d = put("dovecot", msg(4), sub="new", fname="1276533090.M2P1.kurkku")
    e = put("dovecot", msg(5), sub="new", fname="1700000000.M3P1.postilion")
    path = os.path.join(maildir("dovecot"), "dovecot-uidlist")
    with open(path, "w") as f:
        f.write("3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n"
                "25006 :%s\n"               # last known name: flags differ
                "25017 W2481 :%s\n"
                "25018 GABC :%s\n"
                "25019 P+legacy-uidl-42 :%s\n"
                "bogus line\n" % (a.split(":")[0] + ":2,", b, c, d))
    chown(path)
    p = pop("dovecot")
    got = [l.split()[1].decode() for l in p.uidl()[1]]
    p.quit()
    assert got == ["%08X%08X" % (25006, 1275660208),
                   "%08X%08X" % (25017, 1275660208),
                   "%08X%08X" % (25018, 1275660208),
                   "+legacy-uidl-42",
                   e], got
    assert got[0] == "000061AE4C0907B0"
    # a broken file is ignored (logged), the base names still serve
    with open(path, "w") as f:
        f.write("garbage\n")
    p = pop("dovecot")
    got = [l.split()[1].decode() for l in p.uidl()[1]]
    p.quit()
    assert got == [x.split(":")[0] for x in (a, b, c, d, e)], got
    inst.wait_log("pop3(dovecot@example.test): ignoring dovecot-uidlist")


@tap.test
def mail_delivered_mid_session_waits_for_the_next_session():
    put("snap", msg(1))
    c = Raw()
    assert c.login("snap") == b"+OK Logged in."
    stat = c.cmd("STAT")
    assert stat.startswith(b"+OK 1 ")
    assert c.cmd("UIDL") == b"+OK"
    uidls = c.multi()
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.sendmail("a@example.org", [addr("snap")],
                   "Subject: mid-session\r\n\r\nhello\r\n")
    # NOOPs keep the session from the idle timeout meanwhile
    wait_for(lambda: c.cmd("NOOP") == b"+OK" and
             len(files("snap")["new"]) == 2, interval=0.2, what="delivery")
    assert c.cmd("STAT") == stat
    assert c.cmd("LIST") == b"+OK 1 messages:" and len(c.multi()) == 1
    assert c.cmd("UIDL") == b"+OK" and c.multi() == uidls
    assert c.cmd("RETR 2") == b"-ERR There's no message 2."
    assert c.cmd("QUIT") == b"+OK Logging out."
    f = files("snap")
    # only what the session saw moved to cur/
    assert len(f["new"]) == 1 and len(f["cur"]) == 1, f
    p = pop("snap")
    assert p.stat()[0] == 2
    assert b"Subject: mid-session" in p.retr(2)[1]
    p.quit()


@tap.test
def idle_client_is_logged_out():
    c = Raw()
    assert c.login("idle") == b"+OK Logged in."
    start = time.time()
    assert c.line() == b"-ERR Disconnected for inactivity."
    assert TIMEOUT - 1 <= time.time() - start < TIMEOUT + 5
    assert c.eof()
    inst.wait_log("pop3(idle@example.test): Disconnected: Inactivity top=0/0")
    # before login too
    c = Raw()
    assert c.line() == b"-ERR Disconnected for inactivity."
    c.close()


@tap.test
def ten_thousand_messages_listed_and_uidled():
    cur = os.path.join(maildir("big"), "cur")
    ids = vmail_ids()
    sizes = {}
    for i in range(10000):
        name = "%d.M%05dP7.big:2," % (1500000000 + i, i)
        data = b"Subject: big %d\n\n%s\n" % (i, b"x" * (i % 50))
        path = os.path.join(cur, name)
        with open(path, "wb") as f:
            f.write(data)
        if ids:
            os.chown(path, *ids)
        sizes[i + 1] = crlf_size(data)
    start = time.time()
    p = pop("big")
    assert p.stat() == (10000, sum(sizes.values()))
    listing = p.list()[1]
    assert len(listing) == 10000
    assert all(int(l.split()[1]) == sizes[int(l.split()[0])] for l in listing)
    uidls = [l.split()[1] for l in p.uidl()[1]]
    assert len(uidls) == 10000 and len(set(uidls)) == 10000
    assert uidls[0] == b"1500000000.M00000P7.big"
    assert b"Subject: big 9999" in p.retr(10000)[1]
    p.quit()
    assert time.time() - start < 45, time.time() - start


@tap.test
def curl_commands():
    for i in range(3):
        put("curl", msg(i, "curl body %d\n" % i))
    url = "pop3://127.0.0.1:%d/" % inst.pop3_port

    def curl(*args):
        out = subprocess.run(["curl", "-sS", "--max-time", "20", "-u",
                              "%s:%s" % (addr("curl"), PASSWORD)] + list(args),
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out
        return out.stdout

    assert len(curl(url).splitlines()) == 3                       # LIST
    assert curl(url + "2").endswith(b"curl body 1\r\n")          # RETR
    uidl = curl(url, "-X", "UIDL").splitlines()
    assert len(uidl) == 3, uidl
    top = curl(url, "-X", "TOP 3 0")
    assert b"Subject: m2" in top and b"curl body" not in top
    curl(url + "1", "-X", "DELE", "-I")
    f = files("curl")
    assert len(f["new"]) + len(f["cur"]) == 2, f
    assert curl(url, "-X", "UIDL").splitlines() == \
        [b"%d %s" % (i + 1, l.split()[1]) for i, l in enumerate(uidl[1:])]


def fetchmail(name, keep, local):
    rc = os.path.join(local, "fetchmailrc")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 service %d protocol pop3 uidl timeout 20\n'
                '  user "%s" password "%s" is "%s" here %s\n'
                '  mda "/bin/sh -c \'cat > %s/msg.$$\'"\n'
                % (inst.pop3_port, addr(name), PASSWORD,
                   pwd.getpwuid(os.getuid()).pw_name,
                   "keep" if keep else "nokeep fetchall", local))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=local)
    out = subprocess.run(["fetchmail", "-f", rc, "--idfile",
                          os.path.join(local, "fetchids"), "--nosyslog",
                          "--sslproto", "", "-v"],
                         capture_output=True, text=True, env=env, timeout=60)
    # 0: mail fetched, 1: no mail
    assert out.returncode in (0, 1), out
    return sorted(n for n in os.listdir(local) if n.startswith("msg."))


def local_subjects(local):
    out = []
    for n in os.listdir(local):
        if n.startswith("msg."):
            with open(os.path.join(local, n), "rb") as f:
                out += [l for l in f.read().splitlines()
                        if l.startswith(b"Subject: ")]
    return sorted(out)


@tap.test
def fetchmail_keep_fetches_only_new_mail():
    if shutil.which("fetchmail") is None:
        return "skip"
    local = tempfile.mkdtemp(prefix="fetchmail-keep-")
    try:
        for i in range(3):
            put("fmkeep", msg(i))
        assert len(fetchmail("fmkeep", True, local)) == 3
        assert local_subjects(local) == [b"Subject: m0", b"Subject: m1",
                                         b"Subject: m2"]
        f = files("fmkeep")
        assert len(f["cur"]) == 3 and f["new"] == [], f   # left on server
        # again: UIDL tells fetchmail there is nothing new
        assert len(fetchmail("fmkeep", True, local)) == 3
        put("fmkeep", msg(3))
        assert len(fetchmail("fmkeep", True, local)) == 4
        assert b"Subject: m3" in local_subjects(local)
        assert len(files("fmkeep")["cur"]) + len(files("fmkeep")["new"]) == 4
    finally:
        shutil.rmtree(local)


@tap.test
def fetchmail_nokeep_downloads_and_deletes():
    if shutil.which("fetchmail") is None:
        return "skip"
    local = tempfile.mkdtemp(prefix="fetchmail-nokeep-")
    try:
        bodies = {}
        for i in range(3):
            data = msg(i, ".dot line %d\nend\n" % i)
            put("fmdel", data)
            bodies[i] = data
        assert len(fetchmail("fmdel", False, local)) == 3
        assert files("fmdel") == {"new": [], "cur": []}
        got = []
        for n in os.listdir(local):
            if n.startswith("msg."):
                with open(os.path.join(local, n), "rb") as f:
                    got.append(f.read())
        for data in bodies.values():
            # fetchmail may add a Received: header; the rest is intact
            assert any(g.endswith(data.split(b"\n", 1)[1]) for g in got), \
                (data, got)
        inst.wait_log("pop3(fmdel@example.test): Disconnected: Logged out "
                      "top=0/0, retr=3/")
    finally:
        shutil.rmtree(local)


@tap.test
def log_lines_have_dovecots_shapes():
    one = msg(1, "one\n")
    two = msg(2, "two\nlines\nhere\n")
    put("logs", one)
    put("logs", two)
    c = Raw()
    assert c.login("logs") == b"+OK Logged in."
    c.cmd("TOP 2 1")
    top = c.multi()
    c.cmd("RETR 1")
    c.multi()
    c.cmd("DELE 1")
    c.cmd("QUIT")
    top_bytes = sum(len(l) + 2 for l in top)  # stuffing-free lines here
    log = inst.wait_log("pop3(logs@example.test): Disconnected: Logged out "
                        "top=1/%d, retr=1/%d, del=1/2, size=%d" % (
                            top_bytes, crlf_size(one),
                            crlf_size(one) + crlf_size(two)))
    assert "pop3-login: Login: user=<logs@example.test>, method=PLAIN, " \
        "rip=127.0.0.1, lip=127.0.0.1, mpid=" in inst.log()
    bad = [l for l in inst.log().splitlines() if "fatal:" in l or
           "panic" in l or "AddressSanitizer" in l]
    assert not bad, bad
    assert log


if __name__ == "__main__":
    try:
        rc = tap.run()
    finally:
        inst.destroy()
    sys.exit(rc)
