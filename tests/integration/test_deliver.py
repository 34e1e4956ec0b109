"""test_deliver: the smtp transport of deliver against real peers on
loopback: scripted SMTP servers written here and a dnsmasq DNS server
serving MX, A and null-MX records; mail goes in through smtpd and out
through qmgr and deliver -t smtp on a real instance."""

import base64
import os
import select
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, Instance, TAP, free_port, wait_for  # noqa: E402

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


class FakeSMTP:
    """A scripted SMTP server. rcpt(addr, attempt) gives the RCPT reply;
    every session is recorded (commands, raw DATA bytes, pipelining)."""

    def __init__(self, host, port, greeting=b"220 fake.test ESMTP\r\n",
                 ehlo=(b"PIPELINING", b"SIZE 10240000", b"8BITMIME"),
                 ehlo_raw=None, rcpt=None,
                 data_reply=b"250 2.0.0 Ok: queued as FAKE1\r\n",
                 tls=None, starttls_reply=b"220 2.0.0 Ready to start TLS\r\n",
                 auth=None, auth_in_clear=False, auth_mechs=b"PLAIN LOGIN",
                 idle_close=None, tls_fail=False):
        self.auth, self.auth_in_clear = auth, auth_in_clear
        self.tls_fail = tls_fail
        self.idle_close = idle_close
        self.auth_mechs = auth_mechs
        self.host, self.port = host, port
        self.tls, self.starttls_reply = tls, starttls_reply
        self.greeting, self.ehlo, self.ehlo_raw = greeting, ehlo, ehlo_raw
        self.rcpt = rcpt or (lambda addr, n: b"250 2.1.5 Ok\r\n")
        self.data_reply = data_reply
        self.sessions = []
        self.attempts = {}
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET6 if ":" in host
                                  else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.running = False
        self.sock.close()

    def serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,),
                             daemon=True).start()

    def session(self, conn):
        rec = {"commands": [], "data": b"", "pipelined": False, "tls": False,
               "sni": None, "messages": [], "closed": False}
        with self.lock:
            self.sessions.append(rec)
        conn.settimeout(10)
        buf = b""

        def line():
            nonlocal buf
            while b"\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            ln, _, buf = buf.partition(b"\n")
            return ln + b"\n"

        try:
            conn.sendall(self.greeting)
            if not self.greeting.startswith(b"2"):
                line()
                conn.sendall(b"221 bye\r\n")
                return
            while True:
                cmd = line()
                rec["commands"].append(cmd)
                verb = cmd[:4].upper()
                if verb == b"EHLO":
                    if self.ehlo_raw is not None:
                        conn.sendall(self.ehlo_raw)
                        continue
                    ext = list(self.ehlo)
                    if self.tls is not None and not rec["tls"]:
                        ext.append(b"STARTTLS")
                    if self.auth and (rec["tls"] or self.auth_in_clear):
                        ext.append(b"AUTH " + self.auth_mechs)
                    out = [b"250-fake.test"] + [b"250-" + e for e in ext]
                    out[-1] = b"250 " + out[-1][4:]
                    conn.sendall(b"\r\n".join(out) + b"\r\n")
                elif cmd.upper().startswith(b"STARTTLS") and self.tls:
                    conn.sendall(self.starttls_reply)
                    if self.tls_fail:
                        # A fatal handshake_failure alert, then hang up.
                        conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")
                        raise EOFError
                    if self.starttls_reply.startswith(b"220"):
                        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                        ctx.load_cert_chain(*self.tls)

                        def sni(sock, name, _ctx):
                            rec["sni"] = name
                        ctx.sni_callback = sni
                        conn = ctx.wrap_socket(conn, server_side=True)
                        buf = b""
                        rec["tls"] = True
                elif verb == b"AUTH" and self.auth:
                    parts = cmd.split()
                    if parts[1].upper() == b"PLAIN":
                        _, user, pw = base64.b64decode(parts[2]).split(b"\0")
                    else:
                        conn.sendall(b"334 VXNlcm5hbWU6\r\n")
                        user = base64.b64decode(line().strip())
                        conn.sendall(b"334 UGFzc3dvcmQ6\r\n")
                        pw = base64.b64decode(line().strip())
                    rec["auth_tried"] = (user, pw, rec["tls"])
                    if (user, pw) == self.auth:
                        rec["auth"] = user
                        conn.sendall(b"235 2.7.0 Authentication successful\r\n")
                    else:
                        conn.sendall(b"535 5.7.8 Error: authentication failed\r\n")
                elif verb == b"HELO":
                    conn.sendall(b"250 fake.test\r\n")
                elif verb == b"MAIL":
                    if not buf:
                        r, _, _ = select.select([conn], [], [], 0.3)
                        rec["pipelined"] = bool(r)
                    else:
                        rec["pipelined"] = True
                    conn.sendall(b"250 2.1.0 Ok\r\n")
                elif verb == b"RCPT":
                    addr = cmd.split(b"<", 1)[1].split(b">", 1)[0].decode()
                    with self.lock:
                        n = self.attempts[addr] = self.attempts.get(addr, 0) + 1
                    reply = self.rcpt(addr, n)
                    rec.setdefault("rcpt_replies", []).append((addr, reply))
                    conn.sendall(reply)
                elif verb == b"DATA":
                    ok = any(r[1].startswith(b"2")
                             for r in rec.get("rcpt_replies", []))
                    if not ok:
                        conn.sendall(b"554 5.5.1 Error: no valid recipients\r\n")
                        continue
                    conn.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    data = b""
                    while True:
                        ln = line()
                        if ln == b".\r\n":
                            break
                        data += ln
                    rec["data"] = data
                    rec["messages"].append(data)
                    conn.sendall(self.data_reply)
                    if self.idle_close is not None:
                        # Drop an idle session like a busy server does.
                        r, _, _ = select.select([conn], [], [],
                                                self.idle_close)
                        if not r:
                            conn.sendall(b"421 4.4.2 idle timeout\r\n")
                            return
                elif verb == b"QUIT":
                    conn.sendall(b"221 2.0.0 Bye\r\n")
                    return
                elif verb == b"RSET":
                    conn.sendall(b"250 Ok\r\n")
                else:
                    conn.sendall(b"502 5.5.2 unknown\r\n")
        except (EOFError, OSError):
            pass
        finally:
            conn.close()
            rec["closed"] = True

    def delivered(self):
        with self.lock:
            return [s for s in self.sessions if s["data"]]


def policy(addr, n):
    local = addr.split("@")[0]
    if local.startswith("bad"):
        return b"550 5.1.1 <%s>: Recipient address rejected: unknown\r\n" % (
            addr.encode())
    if local.startswith("later"):
        return b"450 4.2.1 <%s>: try again later\r\n" % addr.encode()
    if local.startswith("once") and n == 1:
        return b"451 4.3.0 busy, come back\r\n"
    return b"250 2.1.5 Ok\r\n"


SMTP_PORT = free_port()
DNS_PORT = free_port()
RELAY_PORT = free_port()
B = FakeSMTP("127.0.0.11", SMTP_PORT, rcpt=policy)
C = FakeSMTP("127.0.0.12", SMTP_PORT, greeting=b"421 4.3.2 too busy\r\n")
D = FakeSMTP("127.0.0.13", SMTP_PORT,
             ehlo_raw=b"250-fake\x00\x01evil\r\n250 PIPELINING\r\n")
E = FakeSMTP("127.0.0.1", RELAY_PORT, ehlo=(b"SIZE 5000",), rcpt=policy)
CERTDIR = tempfile.mkdtemp(prefix="postilion-tls-")
CERT = (os.path.join(CERTDIR, "cert.pem"), os.path.join(CERTDIR, "key.pem"))
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", CERT[1], "-out", CERT[0], "-days", "2", "-subj",
                "/CN=mx.tls.test"], check=True, capture_output=True)
F = FakeSMTP("127.0.0.14", SMTP_PORT, tls=CERT)
G = FakeSMTP("127.0.0.15", SMTP_PORT, tls=CERT,
             starttls_reply=b"220 go ahead\r\n250 injected\r\n")
H = FakeSMTP("127.0.0.16", SMTP_PORT, tls=CERT,
             starttls_reply=b"454 4.7.0 TLS not available due to local problem\r\n")
CREDS = (b"relayuser", b"s3cret")
J = FakeSMTP("127.0.0.17", SMTP_PORT, tls=CERT, auth=CREDS)
K = FakeSMTP("127.0.0.18", SMTP_PORT, tls=CERT, auth=CREDS)
L = FakeSMTP("127.0.0.19", SMTP_PORT, auth=CREDS, auth_in_clear=True)
M = FakeSMTP("127.0.0.20", SMTP_PORT, tls=CERT, auth=CREDS, auth_mechs=b"LOGIN")
try:
    V6 = FakeSMTP("::1", SMTP_PORT)
except OSError:
    V6 = None
ENC_PORT = free_port()
Ienc = FakeSMTP("127.0.0.1", ENC_PORT)
DSN_EHLO = (b"PIPELINING", b"SIZE 10240000", b"8BITMIME", b"DSN")
N = FakeSMTP("127.0.0.21", SMTP_PORT, ehlo=DSN_EHLO)
O = FakeSMTP("127.0.0.22", SMTP_PORT)
P = FakeSMTP("127.0.0.23", SMTP_PORT)
Q = FakeSMTP("127.0.0.24", SMTP_PORT, idle_close=0.3)
R = FakeSMTP("127.0.0.25", SMTP_PORT, tls=CERT, tls_fail=True)
SERVERS = [x for x in (B, C, D, E, F, G, H, Ienc, J, K, L, M, V6, N, O, P, Q,
                       R)
           if x]

TIMEOUTS = """smtp_connect_timeout = 2s
smtp_helo_timeout = 5s
smtp_mail_timeout = 5s
smtp_rcpt_timeout = 5s
smtp_data_init_timeout = 5s
smtp_data_xfer_timeout = 5s
smtp_data_done_timeout = 5s
smtp_quit_timeout = 2s
"""
# The old tests count commands per session: no connection reuse there.
NOCACHE = "smtp_connection_cache_time_limit = 0s\n"
LOCAL_LIMITS = """hopcount_limit = 3
virtual_mailbox_limit = 20000
virtual_mailbox_quota = 5000
alias_maps = hash:$config_directory/aliases, hash:$config_directory/aliases2
transport_maps = hash:$config_directory/transport
command_time_limit = 5s
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = hash:$config_directory/sasl_passwd
"""
SPOOL = tempfile.mkdtemp(prefix="postilion-alias-")
os.chmod(SPOOL, 0o1777)
inst = Instance(main_extra="smtp_dns_servers = 127.0.0.1:%d\n"
                "smtp_tcp_port = %d\n%s%s%s" % (DNS_PORT, SMTP_PORT, TIMEOUTS,
                                                 NOCACHE, LOCAL_LIMITS))
STATIC_ID = 23456
full = Instance(main_extra="virtual_uid_maps = static:%d\n"
                "virtual_gid_maps = static:%d\n" % (STATIC_ID, STATIC_ID))
relay = Instance(main_extra="relayhost = [127.0.0.1]:%d\n%s%s" % (
    RELAY_PORT, TIMEOUTS, NOCACHE))
enc = Instance(main_extra="relayhost = [127.0.0.1]:%d\n"
               "smtp_tls_security_level = encrypt\n%s%s" % (
                   ENC_PORT, TIMEOUTS, NOCACHE))
# Connection reuse: the default cache on, one smtp process (see setup).
reuse = Instance(main_extra="smtp_dns_servers = 127.0.0.1:%d\n"
                 "smtp_tcp_port = %d\nsmtp_connection_cache_time_limit = 5s\n"
                 "%s" % (DNS_PORT, SMTP_PORT, TIMEOUTS))
tap = TAP(inst)
dnsmasq = None
full_mounted = False


def start_dns():
    args = [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "-C", "/dev/null", "--pid-file=", "--port=%d" % DNS_PORT,
            "--listen-address=127.0.0.1", "--bind-interfaces",
            "--log-facility=/dev/null", "--local=/test/",
            "--user=%s" % ("root" if os.geteuid() == 0 else "nobody"),
            "--mx-host=mxpref.test,mx1.mxpref.test,10",
            "--mx-host=mxpref.test,mx2.mxpref.test,20",
            "--host-record=mx1.mxpref.test,127.0.0.10",
            "--host-record=mx2.mxpref.test,127.0.0.11",
            "--mx-host=greet.test,mx1.greet.test,10",
            "--mx-host=greet.test,mx2.greet.test,20",
            "--host-record=mx1.greet.test,127.0.0.12",
            "--host-record=mx2.greet.test,127.0.0.11",
            "--mx-host=mixed.test,mx.mixed.test,10",
            "--host-record=mx.mixed.test,127.0.0.11",
            "--mx-host=badreply.test,mx.badreply.test,10",
            "--host-record=mx.badreply.test,127.0.0.13",
            "--host-record=aonly.test,127.0.0.11",
            "--mx-host=tls.test,mx.tls.test,10",
            "--host-record=mx.tls.test,127.0.0.14",
            "--mx-host=inject.test,mx.inject.test,10",
            "--host-record=mx.inject.test,127.0.0.15",
            "--mx-host=tls454.test,mx.tls454.test,10",
            "--host-record=mx.tls454.test,127.0.0.16",
            "--mx-host=v6.test,mx.v6.test,10",
            "--host-record=mx.v6.test,::1",
            "--mx-host=nullmx.test,.,0",
            "--host-record=dsn.test,127.0.0.21",
            "--host-record=nodsn.test,127.0.0.22",
            "--host-record=reuse.test,127.0.0.23",
            "--host-record=idle.test,127.0.0.24",
            "--host-record=tlsfail.test,127.0.0.25"]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def send(instance, rcpts, body, sender=""):
    with smtplib.SMTP("127.0.0.1", instance.smtp_port, timeout=30,
                      source_address=("127.0.0.2", 0)) as s:
        s.ehlo("client.example.org")
        s.sendmail(sender, rcpts, body)


def msg(tag, extra=""):
    return ("From: sender@example.org\r\nTo: someone@example.net\r\n"
            "Subject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\n"
            "Hello.\r\n.leading dot\r\n..two dots\r\n.\r\n%slast line\r\n"
            % (tag, tag, extra))


def log_line(needle, timeout=30):
    inst_ = relay if needle.startswith("relay:") else inst
    needle = needle[len("relay:"):] if needle.startswith("relay:") else needle
    wait_for(lambda: needle in inst_.log(), timeout=timeout,
             what="log line with %r" % needle)
    return [l for l in inst_.log().splitlines() if needle in l]


def session_with(server, tag):
    return wait_for(lambda: [s for s in server.delivered()
                             if b"Subject: " + tag.encode() in s["data"]],
                    timeout=30, what="message %s at %s" % (tag, server.host))


@tap.test
def setup_instances():
    global dnsmasq
    if not os.access(DNSMASQ, os.X_OK):
        raise AssertionError("dnsmasq is required (Debian dnsmasq-base)")
    dnsmasq = start_dns()
    for user in ("loop", "loop2", "big", "quota", "link", "owned", "alice",
                 "bob"):
        inst.add_user(user + "@example.test", "pw-" + user)
    with open(os.path.join(inst.conf, "aliases"), "w") as f:
        f.write("team: alice@example.test, bob@example.test\n"
                "pipe: \"|/usr/bin/tee -a %s/out1 %s/$(id)\", alice@example.test\n"
                "file: %s/mbox\n"
                "slow: |/bin/sleep 30\n"
                "fails: |/bin/false\n"
                "incl: :include:%s/list\n"
                "inclbad: :include:%s/list2\n"
                "fwd: alice@example.test, carol@remote.test\n"
                "la: lb\nlb: la\n"
                "ring: ring@remote.test\n"
                % (SPOOL, SPOOL, SPOOL, SPOOL, SPOOL))
    with open(os.path.join(SPOOL, "list"), "w") as f:
        f.write("alice@example.test\n# a comment\n"
                "bob@example.test, \"|/usr/bin/tee -a %s/incl_out\"\n" % SPOOL)
    with open(os.path.join(SPOOL, "list2"), "w") as f:
        f.write("|/usr/bin/touch %s/pwned2\n" % SPOOL)
    for name in ("list", "list2"):
        os.chmod(os.path.join(SPOOL, name), 0o644)
    if os.geteuid() == 0:
        os.chown(os.path.join(SPOOL, "list2"), 65534, 65534)
    with open(os.path.join(inst.conf, "aliases2"), "w") as f:
        f.write("untrusted: |/usr/bin/touch %s/pwned\n" % SPOOL)
    with open(os.path.join(inst.conf, "transport"), "w") as f:
        f.write("remote.test smtp:[127.0.0.1]:%d\n"
                "hop.test smtp:[127.0.0.1]:%d\n"
                "mxhop.test smtp:mixed.test\n"
                "auth.test smtp:[127.0.0.17]:%d\n"
                "authbad.test smtp:[127.0.0.18]:%d\n"
                "authclear.test smtp:[127.0.0.19]:%d\n"
                "authlogin.test smtp:[127.0.0.20]:%d\n"
                % (RELAY_PORT, RELAY_PORT, SMTP_PORT, SMTP_PORT, SMTP_PORT,
                   SMTP_PORT))
    with open(os.path.join(inst.conf, "sasl_passwd"), "w") as f:
        f.write("[127.0.0.17]:%d relayuser:s3cret\n"
                "[127.0.0.18]:%d relayuser:wrong\n"
                "[127.0.0.19]:%d relayuser:s3cret\n"
                "127.0.0.20 relayuser:s3cret\n"
                % (SMTP_PORT, SMTP_PORT, SMTP_PORT))
    inst.cli("map", "build", "hash:" + os.path.join(inst.conf, "sasl_passwd"))
    for name in ("aliases", "aliases2"):
        inst.cli("map", "build", "-a", "hash:" + os.path.join(inst.conf, name))
    inst.cli("map", "build", "hash:" + os.path.join(inst.conf, "transport"))
    if os.geteuid() == 0:
        os.chown(os.path.join(inst.conf, "aliases2.db"), 65534, 65534)
    inst.start()
    relay.start()
    enc.start()
    cf = os.path.join(reuse.conf, "master.cf")
    with open(cf) as f:
        text = f.read()
    with open(cf, "w") as f:
        f.write(text.replace("smtp      unix  -  -  y  -    -  deliver",
                             "smtp      unix  -  -  y  -    1  deliver"))
    reuse.start()


@tap.test
def mx_preference_first_refusing_goes_to_second():
    send(inst, ["alice@mxpref.test"], msg("mxpref"))
    s = session_with(B, "mxpref")[0]
    assert s["pipelined"], "PIPELINING offered but not used"
    line = log_line("to=<alice@mxpref.test>, relay=mx2.mxpref.test"
                    "[127.0.0.11]:%d, delay=" % SMTP_PORT)[0]
    assert "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as FAKE1)" in line, line
    assert "/smtp[" in line, line
    delays = line.split("delays=")[1].split(",")[0].split("/")
    assert len(delays) == 4 and all(float(d) >= 0 for d in delays), line


@tap.test
def wire_has_crlf_and_dot_stuffing_even_for_bare_cr():
    send(inst, ["dots@mixed.test"], msg("dots", "bare\rcr\rline\r\n.\r\n"))
    data = session_with(B, "dots")[0]["data"]
    assert b"\r\n..leading dot\r\n...two dots\r\n..\r\n" in data, data
    assert b"bare\r\ncr\r\nline\r\n..\r\nlast line\r\n" in data, data
    stripped = data.replace(b"\r\n", b"")
    assert b"\r" not in stripped and b"\n" not in stripped, data


@tap.test
def greeting_421_moves_on_to_the_next_mx():
    send(inst, ["carol@greet.test"], msg("greet"))
    session_with(B, "greet")
    log_line("to=<carol@greet.test>, relay=mx2.greet.test[127.0.0.11]:%d"
             % SMTP_PORT)
    assert C.sessions, "the 421 server was never tried"


@tap.test
def mixed_recipient_results_in_one_transaction():
    send(inst, ["ok1@mixed.test", "bad1@mixed.test", "later1@mixed.test"],
         msg("mixed"))
    s = session_with(B, "mixed")[0]
    assert len([c for c in s["commands"] if c.startswith(b"RCPT")]) == 3
    ok = log_line("to=<ok1@mixed.test>, relay=mx.mixed.test[127.0.0.11]")[0]
    assert "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as FAKE1)" in ok, ok
    bad = log_line("to=<bad1@mixed.test>, relay=mx.mixed.test")[0]
    assert ("dsn=5.1.1, status=bounced (host mx.mixed.test[127.0.0.11] said: "
            "550 5.1.1 <bad1@mixed.test>: Recipient address rejected: unknown"
            " (in reply to RCPT TO command))") in bad, bad
    later = log_line("to=<later1@mixed.test>, relay=mx.mixed.test")[0]
    assert "dsn=4.2.1, status=deferred (host mx.mixed.test[127.0.0.11] " \
        "said: 450 4.2.1 <later1@mixed.test>: try again later (in reply " \
        "to RCPT TO command))" in later, later


@tap.test
def four_xx_then_success_on_retry():
    send(inst, ["once1@mixed.test"], msg("retry"))
    line = log_line("to=<once1@mixed.test>, relay=mx.mixed.test[127.0.0.11]:%d, "
                    % SMTP_PORT)[0]
    assert "dsn=4.3.0, status=deferred (host mx.mixed.test[127.0.0.11] said: " \
        "451 4.3.0 busy, come back (in reply to RCPT TO command))" in line, line
    session_with(B, "retry")
    wait_for(lambda: [l for l in inst.log().splitlines()
                      if "to=<once1@mixed.test>" in l and "status=sent" in l],
             timeout=20, what="sent after the retry")


@tap.test
def a_record_when_there_is_no_mx():
    send(inst, ["dave@aonly.test"], msg("aonly"))
    session_with(B, "aonly")
    log_line("to=<dave@aonly.test>, relay=aonly.test[127.0.0.11]:%d"
             % SMTP_PORT)


@tap.test
def mx_with_only_an_aaaa_record():
    if V6 is None:
        return "skip"
    send(inst, ["ivy@v6.test"], msg("v6"))
    session_with(V6, "v6")
    line = log_line("to=<ivy@v6.test>, relay=mx.v6.test[::1]:%d" % SMTP_PORT)[0]
    assert "dsn=2.0.0, status=sent" in line, line


@tap.test
def null_mx_bounces_with_5_1_10():
    send(inst, ["erin@nullmx.test"], msg("nullmx"))
    line = log_line("to=<erin@nullmx.test>, relay=none")[0]
    assert "dsn=5.1.10, status=bounced (Domain nullmx.test does not accept " \
        "mail (nullMX))" in line, line


@tap.test
def nonexistent_domain_bounces():
    send(inst, ["frank@nothere.test"], msg("nx"))
    line = log_line("to=<frank@nothere.test>, relay=none")[0]
    assert "dsn=5.4.4, status=bounced (Host or domain name not found. " \
        "Name service error for name=nothere.test type=MX: Host not found)" \
        in line, line


@tap.test
def malformed_reply_defers_with_escaped_text():
    send(inst, ["gina@badreply.test"], msg("bad"))
    line = log_line("to=<gina@badreply.test>")[0]
    assert "dsn=4.5.0, status=deferred (host mx.badreply.test[127.0.0.13] " \
        "sent a malformed reply while performing the EHLO handshake: " \
        "control character in reply)" in line, line
    assert "\x00" not in inst.log() and "\x01" not in inst.log()
    assert not D.delivered()


@tap.test
def relayhost_without_pipelining():
    send(relay, ["henry@far.example", "bad2@far.example"], msg("relay"))
    s = session_with(E, "relay")[0]
    assert not s["pipelined"], "pipelined to a server without PIPELINING"
    line = log_line("relay:to=<henry@far.example>, relay=127.0.0.1"
                    "[127.0.0.1]:%d" % RELAY_PORT)[0]
    assert "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as FAKE1)" in line
    line = log_line("relay:to=<bad2@far.example>, relay=127.0.0.1")[0]
    assert "dsn=5.1.1, status=bounced" in line, line
    assert s["commands"][1].startswith(b"MAIL FROM:<> SIZE="), s["commands"]


@tap.test
def size_over_the_peer_limit_bounces_before_mail():
    before = len(E.sessions)
    send(relay, ["ivan@far.example"], msg("big", ("x" * 70 + "\r\n") * 80))
    line = log_line("relay:to=<ivan@far.example>")[0]
    assert "dsn=5.3.4, status=bounced (message size" in line, line
    assert "exceeds size limit 5000 of server 127.0.0.1[127.0.0.1]" in line
    new = E.sessions[before:]
    assert new and not any(c.startswith(b"MAIL") for s in new
                           for c in s["commands"]), new


@tap.test
def starttls_may_to_a_self_signed_peer():
    send(inst, ["tina@tls.test"], msg("tls"))
    s = session_with(F, "tls")[0]
    assert s["tls"] and s["sni"] == "mx.tls.test", s
    upper = [c.upper() for c in s["commands"]]
    assert upper[1].startswith(b"STARTTLS") and upper[2].startswith(b"EHLO"), upper
    log_line("Untrusted TLS connection established to mx.tls.test"
             "[127.0.0.14]:%d: TLSv1." % SMTP_PORT)
    line = log_line("to=<tina@tls.test>")[0]
    assert "dsn=2.0.0, status=sent" in line, line


@tap.test
def bytes_after_the_starttls_reply_are_discarded():
    send(inst, ["uma@inject.test"], msg("inject"))
    s = session_with(G, "inject")[0]
    assert s["tls"], s
    log_line("host mx.inject.test[127.0.0.15] sent 14 bytes after its "
             "reply to STARTTLS: discarded")
    line = log_line("to=<uma@inject.test>")[0]
    assert "dsn=2.0.0, status=sent" in line, line


@tap.test
def starttls_454_under_may_continues_in_plaintext():
    send(inst, ["vic@tls454.test"], msg("tls454"))
    s = session_with(H, "tls454")[0]
    assert not s["tls"]
    assert any(c.upper().startswith(b"STARTTLS") for c in s["commands"])
    line = log_line("to=<vic@tls454.test>")[0]
    assert "dsn=2.0.0, status=sent" in line, line


@tap.test
def failed_handshake_under_may_retries_in_plaintext():
    send(inst, ["xavier@tlsfail.test"], msg("tlsfail"))
    line = log_line("to=<xavier@tlsfail.test>")[0]
    assert "dsn=2.0.0, status=sent" in line, line
    log_line("Cannot start TLS with tlsfail.test[127.0.0.25]")
    log_line("trying again without TLS")
    first, second = R.sessions[0], R.sessions[-1]
    assert first["commands"][1].upper().startswith(b"STARTTLS"), first
    assert not second["tls"] and not any(
        c.upper().startswith(b"STARTTLS") for c in second["commands"]), second
    assert any(m for m in second["messages"]), second


@tap.test
def encrypt_against_a_peer_without_starttls_defers_sending_nothing():
    send(enc, ["walt@far.example"], msg("enc"))
    wait_for(lambda: "to=<walt@far.example>" in enc.log(), timeout=30,
             what="delivery attempt")
    line = [l for l in enc.log().splitlines() if "to=<walt@far.example>" in l][0]
    assert "dsn=4.7.4, status=deferred (TLS is required, but was not " \
        "offered by host 127.0.0.1[127.0.0.1])" in line, line
    assert Ienc.sessions and not any(
        c.upper().startswith((b"MAIL", b"RCPT", b"DATA"))
        for s in Ienc.sessions for c in s["commands"]), Ienc.sessions


@tap.test
def transport_map_nexthop_bracketed_port_and_mx():
    send(inst, ["xena@hop.test"], msg("hop"))
    session_with(E, "hop")
    line = log_line("to=<xena@hop.test>, relay=127.0.0.1[127.0.0.1]:%d"
                    % RELAY_PORT)[0]
    assert "dsn=2.0.0, status=sent" in line, line
    send(inst, ["yuri@mxhop.test"], msg("mxhop"))
    session_with(B, "mxhop")
    line = log_line("to=<yuri@mxhop.test>, relay=mx.mixed.test[127.0.0.11]:%d"
                    % SMTP_PORT)[0]
    assert "dsn=2.0.0, status=sent" in line, line


@tap.test
def sasl_auth_plain_over_tls():
    send(inst, ["zoe@auth.test"], msg("auth"))
    s = session_with(J, "auth")[0]
    assert s["tls"] and s.get("auth") == b"relayuser", s
    line = log_line("to=<zoe@auth.test>, relay=127.0.0.17[127.0.0.17]")[0]
    assert "dsn=2.0.0, status=sent" in line, line


@tap.test
def sasl_auth_login_keyed_by_server_name():
    send(inst, ["cid@authlogin.test"], msg("authlogin"))
    s = session_with(M, "authlogin")[0]
    assert s.get("auth") == b"relayuser", s
    assert any(c.upper().startswith(b"AUTH LOGIN") for c in s["commands"])


@tap.test
def sasl_auth_failure_defers():
    send(inst, ["amy@authbad.test"], msg("authbad"))
    line = log_line("to=<amy@authbad.test>, relay=127.0.0.18")[0]
    assert "dsn=4.7.8, status=deferred (SASL authentication failed; server " \
        "127.0.0.18[127.0.0.18] said: 535 5.7.8 Error: authentication " \
        "failed)" in line, line
    assert not K.delivered()
    assert all(not c.startswith(b"MAIL") for s in K.sessions for c in s["commands"])


@tap.test
def sasl_password_never_sent_in_clear():
    send(inst, ["bea@authclear.test"], msg("authclear"))
    line = log_line("to=<bea@authclear.test>, relay=127.0.0.19")[0]
    assert "dsn=4.7.0, status=deferred (refusing to send a password to " \
        "127.0.0.19[127.0.0.19] without TLS)" in line, line
    assert L.sessions and all("auth_tried" not in s for s in L.sessions)


def send_dsn(rcpt, tag):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30,
                      source_address=("127.0.0.2", 0)) as s:
        s.ehlo("client.example.org")
        s.sendmail("dsn+sender@example.org", [rcpt], msg(tag),
                   mail_options=["RET=HDRS", "ENVID=env+2Bid+3D1"],
                   rcpt_options=["NOTIFY=FAILURE,SUCCESS",
                                 "ORCPT=rfc822;orig+2Buser@example.org"])


@tap.test
def dsn_parameters_pass_to_a_peer_that_offers_dsn():
    send_dsn("ann@dsn.test", "dsnpass")
    cmds = session_with(N, "dsnpass")[0]["commands"]
    mail = [c for c in cmds if c.startswith(b"MAIL")][0]
    rcpt = [c for c in cmds if c.startswith(b"RCPT")][0]
    assert mail.startswith(b"MAIL FROM:<dsn+sender@example.org>"), mail
    assert b" RET=HDRS" in mail and b" ENVID=env+2Bid+3D1" in mail, mail
    assert rcpt == (b"RCPT TO:<ann@dsn.test> NOTIFY=SUCCESS,FAILURE "
                    b"ORCPT=rfc822;orig+2Buser@example.org\r\n"), rcpt
    line = log_line("to=<ann@dsn.test>, orig_to=<orig+user@example.org>, "
                    "relay=dsn.test[127.0.0.21]:%d" % SMTP_PORT)[0]
    assert "status=sent" in line, line


@tap.test
def no_dsn_parameters_to_a_peer_without_dsn():
    send_dsn("bo@nodsn.test", "nodsn")
    cmds = session_with(O, "nodsn")[0]["commands"]
    mail = [c for c in cmds if c.startswith(b"MAIL")][0]
    rcpt = [c for c in cmds if c.startswith(b"RCPT")][0]
    for word in (b"RET=", b"ENVID=", b"NOTIFY=", b"ORCPT="):
        assert word not in mail and word not in rcpt, (mail, rcpt)
    assert rcpt == b"RCPT TO:<bo@nodsn.test>\r\n", rcpt


def reuse_log(needle):
    wait_for(lambda: needle in reuse.log(), timeout=30,
             what="log line with %r" % needle)
    return [l for l in reuse.log().splitlines() if needle in l]


@tap.test
def next_message_to_the_same_destination_reuses_the_connection():
    send(reuse, ["r1@reuse.test"], msg("reuse1"))
    session_with(P, "reuse1")
    send(reuse, ["r2@reuse.test"], msg("reuse2"))
    wait_for(lambda: sum(len(s["messages"]) for s in P.sessions) == 2,
             timeout=30, what="two messages at reuse.test")
    assert len(P.sessions) == 1, "%d connections" % len(P.sessions)
    cmds = P.sessions[0]["commands"]
    assert [c[:4] for c in cmds].count(b"EHLO") == 1, cmds
    assert b"RSET\r\n" in cmds, cmds
    first = reuse_log("to=<r1@reuse.test>, relay=reuse.test[127.0.0.23]:%d, "
                      "delay=" % SMTP_PORT)[0]
    second = reuse_log("to=<r2@reuse.test>, relay=reuse.test[127.0.0.23]:%d, "
                       "conn_use=2, delay=" % SMTP_PORT)[0]
    for line in (first, second):
        assert "dsn=2.0.0, status=sent (250 2.0.0 Ok" in line, line


@tap.test
def a_peer_closing_the_idle_connection_still_gets_the_next_message():
    send(reuse, ["i1@idle.test"], msg("idle1"))
    session_with(Q, "idle1")
    wait_for(lambda: all(s["closed"] for s in Q.sessions), timeout=10,
             what="the peer dropping the idle session")
    send(reuse, ["i2@idle.test"], msg("idle2"))
    session_with(Q, "idle2")
    assert len(Q.sessions) == 2, "%d connections" % len(Q.sessions)
    line = reuse_log("to=<i2@idle.test>, relay=idle.test[127.0.0.24]:%d, "
                     "delay=" % SMTP_PORT)[0]
    assert "dsn=2.0.0, status=sent" in line, line
    assert "to=<i2@idle.test>" not in "".join(
        l for l in reuse.log().splitlines() if "status=deferred" in l)


def local_msg(tag, headers="", size=0):
    return ("%sFrom: sender@example.org\r\nTo: x@example.test\r\n"
            "Subject: %s\r\n\r\nbody\r\n%s" % (headers, tag,
                                                 ("y" * 78 + "\r\n") * (size // 80)))


def local_files(instance, address):
    return instance.maildir_files(address)


@tap.test
def delivered_to_loop_over_hopcount_limit_bounces_5_4_6():
    send(inst, ["loop@example.test"], local_msg(
        "loop", "Delivered-To: loop@example.test\r\n" * 4))
    send(inst, ["loop2@example.test"], local_msg(
        "noloop", "Delivered-To: LOOP2@example.test\r\n" * 3 +
        "Delivered-To: other@example.test\r\n" * 5))
    line = log_line("to=<loop@example.test>, relay=local")[0]
    assert "dsn=5.4.6, status=bounced (mail forwarding loop for " \
        "loop@example.test)" in line, line
    line = log_line("to=<loop2@example.test>, relay=local")[0]
    assert "dsn=2.0.0, status=sent" in line, line
    assert not local_files(inst, "loop@example.test")


@tap.test
def message_over_virtual_mailbox_limit_bounces_5_2_2():
    send(inst, ["big@example.test"], local_msg("big", size=30000))
    line = log_line("to=<big@example.test>, relay=local")[0]
    assert "dsn=5.2.2, status=bounced (message size" in line, line
    assert "exceeds virtual_mailbox_limit 20000" in line, line
    assert not local_files(inst, "big@example.test")


@tap.test
def quota_defers_4_2_2_and_is_never_exceeded():
    def attempts():
        return [l for l in inst.log().splitlines()
                if "to=<quota@example.test>, relay=local" in l]
    # One at a time: concurrent deliveries may each see room (a soft quota).
    for i in range(6):
        seen = len(attempts())
        send(inst, ["quota@example.test"], local_msg("q%d" % i, size=800))
        wait_for(lambda: len(attempts()) > seen, timeout=30,
                 what="delivery attempt %d" % i)
        if "status=deferred" in attempts()[-1]:
            break
    line = attempts()[-1]
    assert "dsn=4.2.2, status=deferred (mailbox quota@example.test is full: " \
        in line, line
    files = local_files(inst, "quota@example.test")
    total = sum(os.path.getsize(f) for f in files)
    assert 3 <= len(files) < 6 and total <= 5000, (len(files), total, line)


@tap.test
def symlinked_maildir_is_refused():
    domain = os.path.join(inst.mail, "example.test")
    os.makedirs(domain, exist_ok=True)
    target = os.path.join(inst.dir, "elsewhere")
    for sub in ("", "cur", "new", "tmp"):
        os.makedirs(os.path.join(target, sub), exist_ok=True)
    if IS_ROOT:
        subprocess.run(["chown", "-R", "vmail:", target], check=True)
    os.symlink(target, os.path.join(domain, "link"))
    send(inst, ["link@example.test"], local_msg("link"))
    log_line("maildir example.test/link/ for link@example.test is a "
             "symbolic link: not delivering")
    line = log_line("to=<link@example.test>, relay=local")[0]
    assert "status=deferred" in line, line
    for sub in ("cur", "new", "tmp"):
        assert not os.listdir(os.path.join(target, sub)), sub


@tap.test
def maildir_owned_by_someone_else_is_refused():
    if not IS_ROOT:
        return "skip"
    md = os.path.join(inst.mail, "example.test", "owned")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
        os.chmod(os.path.join(md, sub), 0o777)
    os.chmod(md, 0o777)
    send(inst, ["owned@example.test"], local_msg("owned"))
    log_line("maildir example.test/owned/ for owned@example.test is owned "
             "by uid 0")
    line = log_line("to=<owned@example.test>, relay=local")[0]
    assert "dsn=4.2.0, status=deferred (mailbox example.test/owned/ has " \
        "the wrong owner)" in line, line
    assert not local_files(inst, "owned@example.test")


@tap.test
def full_disk_defers_then_delivers_with_static_uid():
    global full_mounted
    if not IS_ROOT:
        return "skip"
    os.makedirs(full.mail, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700",
                    "tmpfs", full.mail], check=True)
    full_mounted = True
    os.chown(full.mail, STATIC_ID, STATIC_ID)
    for d in ("example.test", "example.test/fill"):
        os.makedirs(os.path.join(full.mail, d))
        os.chown(os.path.join(full.mail, d), STATIC_ID, STATIC_ID)
    filler = os.path.join(full.mail, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"z" * 4096) > 0:
            pass
    except OSError:
        pass
    os.close(fd)
    full.add_user("fill@example.test", "pw-fill")
    full.start()
    send(full, ["fill@example.test"], local_msg("fill", size=8000))
    wait_for(lambda: "to=<fill@example.test>, relay=local" in full.log(),
             timeout=30, what="first attempt")
    line = [l for l in full.log().splitlines() if "to=<fill@example.test>" in l][0]
    assert "dsn=4.3.1, status=deferred" in line and "No space left" in line, line
    tmp = os.path.join(full.mail, "example.test", "fill", "tmp")
    assert not os.path.isdir(tmp) or not os.listdir(tmp), os.listdir(tmp)
    os.unlink(filler)
    wait_for(lambda: full.maildir_files("fill@example.test"), timeout=30,
             what="delivery once space returns")
    f = full.maildir_files("fill@example.test")[0]
    st = os.stat(f)
    assert st.st_uid == STATIC_ID and st.st_gid == STATIC_ID, (st.st_uid, st.st_gid)
    assert "dsn=2.0.0, status=sent (delivered to maildir)" in full.log()
    # The Maildir file is on disk before qmgr hears the reply and removes
    # the queue file: wait for that removal, do not race it.
    wait_for(lambda: not full.queue_files(), timeout=20,
             what="queue empty: %r" % full.queue_files())


def alias_line(rcpt):
    return log_line("to=<%s>, relay=local" % rcpt)[0]


@tap.test
def alias_to_several_mailboxes():
    send(inst, ["team@mx.example.test"], local_msg("team"))
    line = alias_line("team@mx.example.test")
    assert "dsn=2.0.0, status=sent (delivered to 2 alias destinations)" in line, line
    for who in ("alice", "bob"):
        files = local_files(inst, who + "@example.test")
        assert any(b"Subject: team" in open(f, "rb").read() for f in files), who


@tap.test
def alias_command_runs_with_argv_as_default_privs():
    if not IS_ROOT:
        return "skip"
    send(inst, ["pipe@mx.example.test"], local_msg("pipe"))
    line = alias_line("pipe@mx.example.test")
    assert "dsn=2.0.0, status=sent" in line, line
    out = os.path.join(SPOOL, "out1")
    literal = os.path.join(SPOOL, "$(id)")   # no shell expanded it
    for path in (out, literal):
        data = open(path, "rb").read()
        assert b"Subject: pipe" in data and b"Delivered-To: pipe@mx.example.test" in data
    assert os.stat(out).st_uid == 65534, os.stat(out).st_uid   # nobody


@tap.test
def alias_file_destination_appends_mbox():
    if not IS_ROOT:
        return "skip"
    send(inst, ["file@mx.example.test"], local_msg("file", "From: x\r\n"))
    line = alias_line("file@mx.example.test")
    assert "dsn=2.0.0, status=sent (delivered to file: %s/mbox)" % SPOOL in line, line
    data = open(os.path.join(SPOOL, "mbox"), "rb").read()
    assert data.startswith(b"From MAILER-DAEMON  "), data[:80]
    assert b"\nSubject: file\n" in data and data.endswith(b"\n\n"), data


@tap.test
def alias_command_limits_and_failures():
    if not IS_ROOT:
        return "skip"
    send(inst, ["fails@mx.example.test"], local_msg("fails"))
    line = alias_line("fails@mx.example.test")
    assert "dsn=5.3.0, status=bounced (Command died with status 1: " \
        "\"/bin/false\")" in line, line
    start = time.time()
    send(inst, ["slow@mx.example.test"], local_msg("slow"))
    line = log_line("to=<slow@mx.example.test>, relay=local", timeout=20)[0]
    assert "dsn=4.3.0, status=deferred (Command time limit exceeded: " \
        "\"/bin/sleep\")" in line, line
    assert time.time() - start < 15


@tap.test
def include_file_expands_and_is_checked_for_ownership():
    if not IS_ROOT:
        return "skip"
    send(inst, ["incl@mx.example.test"], local_msg("incl"))
    line = alias_line("incl@mx.example.test")
    assert "dsn=2.0.0, status=sent (delivered to 3 alias destinations)" in line, line
    assert b"Subject: incl" in open(os.path.join(SPOOL, "incl_out"), "rb").read()
    send(inst, ["inclbad@mx.example.test"], local_msg("inclbad"))
    line = alias_line("inclbad@mx.example.test")
    assert "dsn=5.7.1, status=bounced (mail to command is restricted" in line, line
    assert not os.path.exists(os.path.join(SPOOL, "pwned2"))


@tap.test
def command_from_a_non_root_alias_file_is_restricted():
    send(inst, ["untrusted@mx.example.test"], local_msg("untrusted"))
    line = alias_line("untrusted@mx.example.test")
    assert "dsn=5.7.1, status=bounced (mail to command is restricted" in line, line
    assert not os.path.exists(os.path.join(SPOOL, "pwned"))


@tap.test
def mydestination_routes_to_local_without_transport_maps():
    transport = open(os.path.join(inst.conf, "transport")).read()
    assert "mx.example.test" not in transport, transport
    def lines():
        return [l for l in inst.log().splitlines()
                if "to=<team@mx.example.test>, relay=local" in l]
    before = len(lines())
    # smtpd lower-cases the domain; qmgr routes it by mydestination.
    send(inst, ["team@MX.Example.Test"], local_msg("mydest"))
    wait_for(lambda: len(lines()) > before, timeout=30, what="delivery")
    line = lines()[-1]
    assert "dsn=2.0.0, status=sent (delivered to 2 alias destinations)" in line, line
    for who in ("alice", "bob"):
        files = local_files(inst, who + "@example.test")
        assert any(b"Subject: mydest" in open(f, "rb").read() for f in files), who


@tap.test
def alias_to_a_local_mailbox_and_a_remote_address_forwards():
    send(inst, ["fwd@mx.example.test"], local_msg("forward"),
         sender="owner@example.org")
    line = alias_line("fwd@mx.example.test")
    assert "dsn=2.0.0, status=sent (forwarded as " in line, line
    newid = line.rsplit("forwarded as ", 1)[1].rstrip(")").strip()
    assert len(newid) >= 10 and all(c in "0123456789ABCDEF" for c in newid), newid
    files = local_files(inst, "alice@example.test")
    assert any(b"Subject: forward" in open(f, "rb").read() for f in files)
    s = session_with(E, "forward")[-1]
    cmds = b"".join(s["commands"])
    assert b"MAIL FROM:<owner@example.org>" in cmds, cmds
    assert b"RCPT TO:<carol@remote.test>" in cmds, cmds
    head = s["data"].split(b"\r\n\r\n")[0]
    assert b"Delivered-To: fwd@mx.example.test\r\n" in head, head
    sent = log_line("%s: to=<carol@remote.test>, orig_to=<fwd@mx.example.test>"
                    ", relay=127.0.0.1" % newid)[0]
    assert "status=sent" in sent, sent
    wait_for(lambda: "%s: removed" % newid in inst.log(), timeout=30,
             what="forwarded copy removed")


@tap.test
def alias_loop_a_b_a_bounces():
    send(inst, ["la@mx.example.test"], local_msg("abloop"))
    line = alias_line("la@mx.example.test")
    assert "status=bounced" in line, line


def undot(data):
    """The remote's copy, unstuffed, without its Received: fields (a remote
    that drops them, so only Delivered-To: can notice the loop)."""
    head, _, body = data.partition(b"\r\n\r\n")
    head = b"\r\n".join(l for l in head.split(b"\r\n")
                         if not l.lower().startswith(b"received:") and
                         not l.startswith((b" ", b"\t")))
    lines = (head + b"\r\n\r\n" + body).split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b"..") else l for l in lines)


def remote_copies(tag):
    with E.lock:
        return [m for s in E.sessions for m in s["messages"]
                if b"Subject: " + tag in m]


@tap.test
def forwarding_loop_through_a_remote_ends_in_a_5_4_6_bounce():
    # ring@mx forwards to ring@remote.test, which sends it straight back.
    def bounced():
        return [l for l in inst.log().splitlines()
                if "to=<ring@mx.example.test>, relay=local" in l and
                "status=bounced" in l]
    send(inst, ["ring@mx.example.test"], local_msg("ring"))
    relayed = 0
    for _ in range(10):
        wait_for(lambda: bounced() or len(remote_copies(b"ring")) > relayed,
                 timeout=30, what="the ring copy at the remote or a bounce")
        if bounced():
            break
        copies = remote_copies(b"ring")
        relayed = len(copies)
        with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30,
                          source_address=("127.0.0.2", 0)) as c:
            c.ehlo("remote.test")
            c.sendmail("", ["ring@mx.example.test"], undot(copies[-1]))
    line = bounced()[0]
    assert "dsn=5.4.6, status=bounced (mail forwarding loop for " \
        "ring@mx.example.test)" in line, line
    assert 3 <= relayed <= 5, relayed
    copies = remote_copies(b"ring")
    assert copies[-1].count(b"Delivered-To: ring@mx.example.test\r\n") == \
        len(copies), copies[-1][:400]


def main():
    try:
        rc = tap.run()
    finally:
        for i in (inst, relay, enc, reuse):
            i.destroy()
        if full_mounted:
            full.stop()
            subprocess.run(["umount", full.mail])
        full.destroy()
        shutil.rmtree(CERTDIR, ignore_errors=True)
        shutil.rmtree(SPOOL, ignore_errors=True)
        if dnsmasq is not None:
            dnsmasq.send_signal(signal.SIGTERM)
            dnsmasq.wait(10)
        for s in SERVERS:
            s.stop()
    return rc


if __name__ == "__main__":
    sys.exit(main())
