"""test_smtpd: smtpd on a real instance, driven with raw sockets and smtplib:
pipelining and its synchronization check, SMTP smuggling, BDAT, DSN,
SMTPUTF8, limits, deadlines, relay probes and access-map results."""

import errno
import os
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, Instance, TAP, free_port, wait_for  # noqa: E402

REJECT_PORT = free_port()
STRICT_PORT = free_port()
FULL_PORT = free_port()
CONN_LIMIT = 4
MAIN = """
smtpd_timeout = 3s
smtpd_forbid_unauth_pipelining = yes
smtpd_soft_error_limit = 3
smtpd_hard_error_limit = 6
smtpd_error_sleep_time = 1s
smtpd_client_connection_count_limit = {limit}
smtpd_recipient_limit = 110
message_size_limit = 200000
relay_domains = relay.test
virtual_alias_domains = aliasonly.test
alias_maps = hash:{{conf}}/aliases
virtual_alias_maps = hash:{{conf}}/virtual
smtpd_client_restrictions = check_client_access hash:{{conf}}/client_access
smtpd_helo_restrictions = check_helo_access hash:{{conf}}/helo_access
smtpd_sender_restrictions = check_sender_access hash:{{conf}}/sender_access,
    reject_non_fqdn_sender
smtpd_recipient_restrictions = check_recipient_access hash:{{conf}}/rcpt_access,
    reject_non_fqdn_recipient
""".format(limit=CONN_LIMIT)

TABLES = {
    "aliases": "postmaster: root\n",
    "virtual": ("team@example.test demo@example.test, other@example.test\n"
                "@alias.test demo@example.test\n"
                "known@aliasonly.test demo@example.test\n"
                "loop1@example.test loop2@example.test\n"
                "loop2@example.test loop1@example.test\n"
                "\u00fcn\u00ef@example.test demo@example.test\n"),
    "client_access": "127.0.0.5 REJECT go away\n127.0.0.6 DEFER try later\n",
    "helo_access": "bad.helo.test REJECT no such helo\n",
    "sender_access": "spammer@bad.test REJECT spam source\n",
    "sender_ok": ("friend@example.org OK\n"
                  "maybe@nosuch-domain.invalid DUNNO\n"),
    "rcpt_access": ("reject@example.test REJECT no thanks\n"
                    "defer@example.test DEFER later\n"
                    "code@example.test 550 5.7.9 custom text\n"
                    "discard@example.test DISCARD\n"
                    "hold@example.test HOLD\n"),
}


inst = Instance(main_extra="", master_extra=(
    "127.0.0.1:%d inet n - y - 20 smtpd -o smtpd_forbid_bare_newline=reject\n"
    "127.0.0.1:%d inet n - y - 20 smtpd"
    " -o smtpd_sender_restrictions=check_sender_access,hash:$config_directory"
    "/sender_ok,reject_unknown_sender_domain,reject"
    " -o smtpd_junk_command_limit=2 -o smtpd_error_sleep_time=0\n"
    "127.0.0.1:%d inet n - y - 20 smtpd -o message_size_limit=999999999999999"
    " -o smtpd_client_connection_rate_limit=3"
    % (REJECT_PORT, STRICT_PORT, FULL_PORT)))
with open(os.path.join(inst.conf, "main.cf"), "a") as f:
    f.write(MAIN.replace("{conf}", inst.conf))
for name, text in TABLES.items():
    with open(os.path.join(inst.conf, name), "w", encoding="utf-8") as f:
        f.write(text)
    inst.cli("map", "build", *(["-a"] if name == "aliases" else []),
             "hash:" + os.path.join(inst.conf, name))
tap = TAP(inst)
USER = "demo@example.test"


class Client:
    """A raw SMTP client that reads replies line by line."""

    def __init__(self, port=None, source="127.0.0.1", banner=True):
        self.sock = socket.create_connection(
            ("127.0.0.1", port or inst.smtp_port), timeout=15,
            source_address=(source, 0))
        self.buf = b""
        if banner:
            self.banner = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        """One whole (possibly multi-line) reply, as its last line."""
        while True:
            line = self.line()
            if len(line) < 4 or line[3] != "-":
                return line

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=10):
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        self.sock.close()


def session(source="127.0.0.1", helo="client.example.org", port=None):
    c = Client(port=port, source=source)
    assert c.cmd("EHLO " + helo).startswith("250 "), helo
    return c


def rcpt_reply(rcpt, sender="sender@example.org", source="127.0.0.1",
               helo="client.example.org", port=None):
    c = session(source, helo, port=port)
    r = c.cmd("MAIL FROM:<%s>" % sender)
    assert r.startswith("250 "), r
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    c.cmd("QUIT")
    c.close()
    return r


def messages(address=USER):
    out = []
    for path in inst.maildir_files(address):
        with open(path, "rb") as f:
            out.append(f.read())
    return out


def with_subject(subject, address=USER):
    needle = ("Subject: %s\n" % subject).encode()
    return [m for m in messages(address) if needle in m]


@tap.test
def setup_instance():
    for user in (USER, "other@example.test", "discard@example.test",
                 "hold@example.test", "reject@example.test",
                 "defer@example.test", "code@example.test"):
        inst.add_user(user, "pw-" + user)
    inst.start()
    wait_for(lambda: inst.port_open(REJECT_PORT), what="second smtpd port")
    wait_for(lambda: inst.port_open(STRICT_PORT), what="third smtpd port")
    wait_for(lambda: inst.port_open(FULL_PORT), what="fourth smtpd port")


@tap.test
def ehlo_advertises_the_extensions():
    c = Client()
    assert c.banner.startswith("220 "), c.banner
    c.send("EHLO client.example.org\r\n")
    lines = []
    while True:
        line = c.line()
        lines.append(line[4:])
        if line[3] == " ":
            break
    for kw in ("PIPELINING", "SIZE 200000", "8BITMIME",
               "ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8", "CHUNKING"):
        assert kw in lines, (kw, lines)
    assert c.cmd("HELO other.example.org").startswith("250 ")
    assert c.cmd("VRFY demo").startswith("252 2.0.0"), "VRFY"
    assert c.cmd("EXPN staff").startswith("502 5.5.1"), "EXPN"
    assert c.cmd("HELP").startswith("214 2.0.0"), "HELP"
    assert c.cmd("NOOP").startswith("250 2.0.0")
    assert c.cmd("QUIT").startswith("221 2.0.0")


@tap.test
def pipelined_commands_in_one_packet_get_replies_in_order():
    c = session()
    c.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<%s>\r\n"
           "RCPT TO:<nosuch@example.test>\r\nRCPT TO:<other@example.test>\r\n"
           "DATA\r\n" % USER)
    replies = [c.reply() for _ in range(5)]
    assert replies[0].startswith("250 2.1.0"), replies
    assert replies[1].startswith("250 2.1.5"), replies
    assert replies[2].startswith("550 5.1.1"), replies
    assert replies[3].startswith("250 2.1.5"), replies
    assert replies[4].startswith("354 "), replies
    c.send("Subject: pipelined\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    assert c.reply().startswith("250 2.0.0 Ok: queued as "), "queued"
    assert c.reply().startswith("221 "), "quit"
    wait_for(lambda: with_subject("pipelined"), what="pipelined message")


@tap.test
def content_before_354_is_a_synchronization_error():
    c = session()
    c.send("MAIL FROM:<sender@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n"
           "Subject: early talker\r\n\r\nbody\r\n.\r\n" % USER)
    assert c.reply().startswith("250 ")
    assert c.reply().startswith("250 ")
    r = c.reply()
    assert r.startswith("554 5.5.0 Error: SMTP protocol synchronization"), r
    assert c.closed()
    inst.wait_log("improper command pipelining after DATA")
    time.sleep(0.5)
    assert not with_subject("early talker")


@tap.test
def pipelining_after_helo_is_refused():
    c = Client()
    c.send("HELO client.example.org\r\nMAIL FROM:<a@example.org>\r\n")
    r = c.reply()
    assert r.startswith("554 5.5.0"), r
    assert c.closed()


@tap.test
def http_requests_are_dropped():
    for first in ("GET / HTTP/1.1", "POST /x HTTP/1.0",
                  "CONNECT 10.0.0.1:25 HTTP/1.1", "User-Agent: probe"):
        c = Client()
        c.send(first + "\r\nHost: example.org\r\n\r\n")
        r = c.reply()
        assert r.startswith("221 2.7.0"), (first, r)
        assert c.closed(), first
    inst.wait_log("non-SMTP command from")


SMUGGLE = ["\n.\n", "\n.\r\n", "\r.\n", "\r.\r", "\n.\r", "\r\n.\n",
           "\r.\r\n", "\r\n.\r", "\r\n\x00.\r\n"]


def smuggle(i, variant, port=None):
    c = session(port=port)
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<%s>" % USER).startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.send("Subject: smuggle %d\r\n\r\nfirst part" % i + variant +
           "MAIL FROM:<evil@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n"
           "Subject: smuggled %d\r\n\r\nsecond\r\n.\r\nQUIT\r\n" % (USER, i))
    replies = []
    try:
        while True:
            replies.append(c.reply())
    except (EOFError, OSError):
        pass
    return replies


@tap.test
def smuggling_variants_never_make_two_messages():
    for i, variant in enumerate(SMUGGLE):
        replies = smuggle(i, variant)
        assert replies[0].startswith("250 2.0.0 Ok: queued"), (variant, replies)
        assert replies[1].startswith("221"), (variant, replies)
        assert len(replies) == 2, (variant, replies)
    for i, variant in enumerate(SMUGGLE):
        got = wait_for(lambda: with_subject("smuggle %d" % i),
                       what="smuggle %d" % i)
        assert len(got) == 1, (variant, len(got))
        assert b"Subject: smuggled %d" % i in got[0], variant
    smuggled = [m for m in messages() if m.split(b"\n\n")[0].count(
        b"Subject: smuggled")]
    assert not smuggled, "a smuggled message was split off"


@tap.test
def forbid_bare_newline_reject_refuses_and_disconnects():
    replies = smuggle(100, "\n.\n", port=REJECT_PORT)
    assert replies and replies[0].startswith("521 5.5.2"), replies
    time.sleep(0.5)
    assert not with_subject("smuggle 100")
    # A clean message still goes through on that port.
    with smtplib.SMTP("127.0.0.1", REJECT_PORT, timeout=15) as s:
        s.sendmail("a@example.org", [USER], "Subject: clean crlf\r\n\r\nx\r\n")
    wait_for(lambda: with_subject("clean crlf"), what="clean message")


@tap.test
def bare_cr_or_lf_in_a_command_is_rejected():
    c = session()
    assert c.cmd("NOOP\rMAIL FROM:<a@example.org>").startswith("500 5.5.2")
    c.send("MAIL FROM:<a@example.org>\n")
    assert c.reply().startswith("500 5.5.2")
    assert c.cmd("QUIT").startswith("221")


@tap.test
def bdat_chunks_make_one_message():
    c = session()
    assert c.cmd("MAIL FROM:<sender@example.org> BODY=8BITMIME").startswith("250")
    assert c.cmd("RCPT TO:<%s>" % USER).startswith("250")
    part1 = b"Subject: bdat chunks\r\n\r\nline one\r"
    part2 = b"\nline two\r\n.dot line\r\n"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    r = c.reply()
    assert r.startswith("250 2.0.0"), r
    c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    r = c.reply()
    assert r.startswith("250 2.0.0 Ok: queued as"), r
    assert c.cmd("QUIT").startswith("221")
    got = wait_for(lambda: with_subject("bdat chunks"), what="bdat message")
    assert b"\n\nline one\nline two\n.dot line\n" in got[0], got[0]


@tap.test
def bdat_then_data_is_503_and_bdat_without_rcpt_stays_in_step():
    c = session()
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<%s>" % USER).startswith("250")
    c.send(b"BDAT 5\r\nabcde")
    assert c.reply().startswith("250")
    r = c.cmd("DATA")
    assert r.startswith("503 5.5.1"), r
    assert c.cmd("RSET").startswith("250")
    c.send(b"BDAT 8 LAST\r\nNOOP\r\n\r\n")
    r = c.reply()
    assert r.startswith("503 5.5.1"), r
    assert c.cmd("NOOP").startswith("250"), "out of step after BDAT"
    assert c.cmd("QUIT").startswith("221")


@tap.test
def size_over_the_limit_at_mail_and_in_content():
    c = session()
    r = c.cmd("MAIL FROM:<sender@example.org> SIZE=300000")
    assert r.startswith("552 5.3.4"), r
    assert c.cmd("MAIL FROM:<sender@example.org> SIZE=1000").startswith("250")
    assert c.cmd("RCPT TO:<%s>" % USER).startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.send("Subject: too big\r\n\r\n" + ("x" * 998 + "\r\n") * 250 + ".\r\n")
    r = c.reply()
    assert r.startswith("552 5.3.4"), r
    assert c.cmd("NOOP").startswith("250"), "in step after the big message"
    assert c.cmd("QUIT").startswith("221")


@tap.test
def recipient_limit_101_ok_and_limit_plus_one_452():
    c = session()
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    c.send("RCPT TO:<%s>\r\n" % USER * 111)
    replies = [c.reply() for _ in range(111)]
    assert all(r.startswith("250 2.1.5") for r in replies[:110]), replies[:110]
    assert replies[110].startswith("452 4.5.3"), replies[110]
    assert c.cmd("QUIT").startswith("221")


@tap.test
def one_mib_line_without_crlf_is_refused_in_bounded_memory():
    c = session()
    c.send(b"A" * (1 << 20) + b"\r\n")
    r = c.reply()
    assert r.startswith("500 5.5.2"), r
    assert c.cmd("NOOP").startswith("250")
    assert c.cmd("QUIT").startswith("221")


@tap.test
def slow_client_is_cut_off_by_the_deadline():
    c = session()
    start = time.time()
    c.sock.settimeout(1)
    got = b""
    for ch in b"NOOP NOOP NOOP NOOP":
        try:
            c.send(bytes([ch]))
        except OSError:
            break
        try:
            data = c.sock.recv(4096)
            if not data:
                break
            got += data
            if b"421" in got:
                break
        except socket.timeout:
            pass
    assert b"421 4.4.2" in got, got
    assert time.time() - start < 6, time.time() - start
    inst.wait_log("timeout after")


@tap.test
def error_limits_slow_down_then_disconnect():
    c = session()
    start = time.time()
    replies = [c.cmd("BOGUS%d" % i) for i in range(5)]
    assert all(r.startswith("502 5.5.2") for r in replies), replies
    r = c.cmd("BOGUS5")
    assert "421 4.7.0" in r or r.startswith("502"), r
    if r.startswith("502"):
        r = c.reply()
    assert r.startswith("421 4.7.0"), r
    assert time.time() - start >= 1.5, "no error sleep"
    assert c.closed()


@tap.test
def junk_commands_past_the_limit_count_as_errors():
    c = session(port=STRICT_PORT)
    replies = [c.cmd("NOOP") for _ in range(8)]
    assert all(r.startswith("250") for r in replies[:7]), replies
    assert "421 4.7.0" in replies[7] or c.reply().startswith("421 4.7.0"), \
        replies
    assert c.closed()


@tap.test
def per_ip_connection_cap():
    time.sleep(0.5)
    held = [Client() for _ in range(CONN_LIMIT)]
    for c in held:
        assert c.banner.startswith("220"), c.banner
    extra = Client()
    assert extra.banner.startswith("421 4.7.0"), extra.banner
    assert extra.closed()
    # A mynetworks client is exempt.
    other = Client(source="127.0.0.2")
    assert other.banner.startswith("220"), other.banner
    other.close()
    for c in held:
        c.cmd("QUIT")
        c.close()
    inst.wait_log("Connection concurrency limit exceeded")
    wait_for(lambda: Client().banner.startswith("220"), timeout=10,
             what="slot freed")


@tap.test
def per_ip_connection_rate_limit():
    for i in range(3):
        c = Client(port=FULL_PORT, source="127.0.0.9")
        assert c.banner.startswith("220"), (i, c.banner)
        c.cmd("QUIT")
        c.close()
    c = Client(port=FULL_PORT, source="127.0.0.9")
    assert c.banner.startswith("421 4.7.0"), c.banner
    assert c.closed()
    inst.wait_log("Connection rate limit exceeded: 4 from")
    # Another address has its own count.
    c = Client(port=FULL_PORT, source="127.0.0.10")
    assert c.banner.startswith("220"), c.banner
    c.close()


PROBES = ["user%victim.test@example.test", '"user@victim.test"@example.test',
          "user@victim.test@example.test", "@example.test:user@victim.test",
          "victim.test!user", "victim.test!user@example.test",
          "user@VICTIM.Test", "user@victim.test.", "user@[192.0.2.1]",
          "user@[IPv6:2001:db8::1]", "user@192.0.2.1"]


@tap.test
def every_open_relay_probe_is_refused():
    for probe in PROBES:
        r = rcpt_reply(probe)
        assert r.startswith("554 5.7.1"), (probe, r)
    for sender in ("", USER):
        r = rcpt_reply("user@victim.test", sender=sender)
        assert r.startswith("554 5.7.1"), (sender, r)
    inst.wait_log("Relay access denied; from=<")
    assert "NOQUEUE: reject: RCPT from" in inst.log()


@tap.test
def mynetworks_client_may_relay_and_relay_domains_are_accepted():
    assert rcpt_reply("user@victim.test", source="127.0.0.2").startswith("250")
    assert rcpt_reply("anyone@relay.test").startswith("250")
    assert rcpt_reply("anyone@sub.relay.test").startswith("250")
    assert rcpt_reply("anyone@notrelay.test").startswith("554 5.7.1")


@tap.test
def unknown_users_get_550_5_1_1():
    assert rcpt_reply("nosuch@example.test").startswith("550 5.1.1")
    assert rcpt_reply("nosuch@mx.example.test").startswith("550 5.1.1")
    assert rcpt_reply("root@mx.example.test").startswith("250")
    assert rcpt_reply("postmaster@mx.example.test").startswith("250")
    r = rcpt_reply("unknown@aliasonly.test")
    assert r.startswith("550 5.1.1") and "virtual alias table" in r, r
    assert rcpt_reply("known@aliasonly.test").startswith("250")


@tap.test
def access_map_results():
    r = rcpt_reply("reject@example.test")
    assert r.startswith("554 5.7.1 <reject@example.test>: Recipient address "
                        "rejected: no thanks"), r
    assert rcpt_reply("defer@example.test").startswith("450 4.7.1"), "defer"
    r = rcpt_reply("code@example.test")
    assert r.startswith("550 5.7.9 <code@example.test>: Recipient address "
                        "rejected: custom text"), r
    r = rcpt_reply(USER, sender="spammer@bad.test")
    assert r.startswith("554 5.7.1") and "spam source" in r, r
    r = rcpt_reply(USER, sender="user@nodots")
    assert r.startswith("504 5.5.2"), r
    r = rcpt_reply("demo@example", source="127.0.0.2")
    assert r.startswith("504 5.5.2"), r
    r = rcpt_reply(USER, helo="bad.helo.test")
    assert r.startswith("554 5.7.1") and "Helo command rejected" in r, r
    r = rcpt_reply(USER, source="127.0.0.5")
    assert r.startswith("554 5.7.1") and "Client host rejected: go away" in r, r
    r = rcpt_reply(USER, source="127.0.0.6")
    assert r.startswith("450 4.7.1"), r


@tap.test
def access_ok_dunno_unknown_domain_and_free_space():
    # check_sender_access ... OK ends the list before its final reject.
    r = rcpt_reply(USER, sender="friend@example.org", port=STRICT_PORT)
    assert r.startswith("250"), r
    r = rcpt_reply(USER, sender="maybe@nosuch-domain.invalid",
                   port=STRICT_PORT)
    assert r.startswith("450 4.1.8") or r.startswith("451 4.4.0"), r
    assert "Sender address rejected" in r, r
    # A literal needs no DNS; the final "reject" of the list answers.
    r = rcpt_reply(USER, sender="someone@[192.0.2.1]", port=STRICT_PORT)
    assert r.startswith("554 5.7.1"), r
    # 1.5 x a huge message_size_limit is more than the disk has.
    c = session(port=FULL_PORT)
    r = c.cmd("MAIL FROM:<a@example.org>")
    assert r.startswith("452 4.3.1"), r
    c.cmd("QUIT")


@tap.test
def discard_and_hold():
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=15) as s:
        s.sendmail("a@example.org", ["discard@example.test"],
                   "Subject: discarded\r\n\r\nx\r\n")
        s.sendmail("a@example.org", ["hold@example.test"],
                   "Subject: held\r\n\r\nx\r\n",
                   mail_options=["RET=HDRS", "ENVID=QQ+2B1"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE",
                                 "ORCPT=rfc822;Hold+2Bx@example.test"])
    inst.wait_log("triggers DISCARD action")
    held = wait_for(lambda: inst.queue_files("hold"), what="held file")
    with open(held[0], "rb") as f:
        data = f.read()
    assert b"dsn_envid=QQ+1" in data, data[:300]
    assert b"dsn_ret=HDRS" in data
    assert b"SUCCESS,FAILURE" in data
    assert b"rfc822;Hold+x@example.test" in data
    time.sleep(0.5)
    assert not messages("discard@example.test")


@tap.test
def dsn_parameter_errors():
    c = session()
    r = c.cmd("MAIL FROM:<a@example.org> RET=BOTH")
    assert r.startswith("501 5.5.4"), r
    r = c.cmd("MAIL FROM:<a@example.org> ENVID=a+0Db")
    assert r.startswith("501 5.5.4"), r
    assert c.cmd("MAIL FROM:<a@example.org> RET=FULL").startswith("250")
    r = c.cmd("RCPT TO:<%s> NOTIFY=NEVER,SUCCESS" % USER)
    assert r.startswith("501 5.5.4"), r
    r = c.cmd("RCPT TO:<%s> ORCPT=rfc822;a+0Ab@example.test" % USER)
    assert r.startswith("501 5.5.4"), r
    r = c.cmd("RCPT TO:<%s> FOO=bar" % USER)
    assert r.startswith("555 5.5.4"), r
    assert c.cmd("QUIT").startswith("221")


@tap.test
def utf8_addresses_need_smtputf8():
    addr = "\u00fcn\u00ef@example.test"
    c = session()
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    r = c.cmd("RCPT TO:<%s>" % addr)
    assert r.startswith("553 5.6.7"), r
    assert c.cmd("RSET").startswith("250")
    assert c.cmd("MAIL FROM:<a@example.org> SMTPUTF8").startswith("250")
    r = c.cmd("RCPT TO:<%s>" % addr)
    assert r.startswith("250"), r
    assert c.cmd("DATA").startswith("354")
    c.send("Subject: utf8 alias\r\n\r\nx\r\n.\r\n")
    assert c.reply().startswith("250")
    r = c.cmd("MAIL FROM:<j\u00f6@example.org>")
    assert r.startswith("553 5.6.7"), r
    assert c.cmd("QUIT").startswith("221")
    wait_for(lambda: with_subject("utf8 alias"), what="utf8 alias message")


@tap.test
def virtual_aliases_expand_with_original_recipient():
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=15) as s:
        s.sendmail("a@example.org", ["team@example.test"],
                   "Subject: to the team\r\n\r\nx\r\n")
        s.sendmail("a@example.org", ["whoever@alias.test"],
                   "Subject: catch all\r\n\r\nx\r\n")
        try:
            s.sendmail("a@example.org", ["loop1@example.test"],
                       "Subject: loop\r\n\r\nx\r\n")
            raise AssertionError("alias loop accepted")
        except smtplib.SMTPRecipientsRefused as e:
            code = list(e.recipients.values())[0][0]
            assert code == 451, e.recipients
    wait_for(lambda: with_subject("to the team"), what="team copy 1")
    wait_for(lambda: with_subject("to the team", "other@example.test"),
             what="team copy 2")
    wait_for(lambda: with_subject("catch all"), what="catch all")
    inst.wait_log("orig_to=<team@example.test>")


def fill_disk(path):
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"x" * 65536)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e


@tap.test
def disk_full_during_data_is_451_and_leaves_no_partial_file():
    """A queue on a small tmpfs that fills up between RCPT and the end of
    DATA: the write error is a 451 4.3.0 and no file is left behind."""
    if not IS_ROOT:
        return "skip"
    small = Instance(main_extra="message_size_limit = 1000000\n")
    mounted = False
    try:
        os.makedirs(small.queue)
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", small.queue],
            capture_output=True).returncode == 0
        if not mounted:
            return "skip"   # no mount privilege in this container
        small.add_user(USER, "pw")
        small.start()
        c = Client(port=small.smtp_port)
        assert c.cmd("EHLO client.example.org").startswith("250")
        assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
        assert c.cmd("RCPT TO:<%s>" % USER).startswith("250")
        fill_disk(os.path.join(small.queue, "filler"))
        assert c.cmd("DATA").startswith("354")
        c.send("Subject: disk full\r\n\r\n" + ("y" * 998 + "\r\n") * 500 +
               ".\r\n")
        r = c.reply()
        assert r.startswith("451 4.3.0"), r
        assert c.cmd("QUIT").startswith("221")
        left = os.listdir(os.path.join(small.queue, "incoming"))
        assert not left, left
    finally:
        small.stop()
        wait_for(lambda: not small.all_pids(), what="small instance gone")
        if mounted:
            subprocess.run(["umount", small.queue])
        small.destroy()


@tap.test
def no_smtpd_crashed_or_warned_unexpectedly():
    bad = [l for l in inst.log().splitlines()
           if ("killed by signal" in l or "exit status" in l or "fatal:" in l
               or ("warning:" in l and "non-SMTP command" not in l and
                   "Connection concurrency limit" not in l and
                   "Connection rate limit" not in l and
                   "virtual_alias_maps: recursion" not in l and
                   "does not resolve to address" not in l and
                   "not enough free space" not in l and
                   "queue file write error" not in l))]
    assert not bad, bad


if __name__ == "__main__":
    try:
        rc = tap.run()
    finally:
        inst.destroy()
    sys.exit(rc)
