"""test_smtpd_tls: smtpd's STARTTLS (RFC 3207), implicit TLS (smtps,
RFC 8314) and AUTH (RFC 4954) on a real instance, driven with openssl
s_client, smtplib, curl and raw sockets: protocol floors, ALPN, the
STARTTLS injection defence, auth-only-over-TLS, relaying by login, sender
ownership, the failure limit, submission header fixes, the key-file check
and fail2ban's postfix filter on our log."""

import base64
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Instance, LineClient, TAP, client_name, free_port, openssl_mapped, server_pid, wait_for  # noqa: E402

# The name smtpd gives the tests\' client (see harness.client_name).
CLIENT = "%s[127.0.0.1]" % client_name("127.0.0.1")

SUB_PORT = free_port()
SMTPS_PORT = free_port()
SLOW_PORT = free_port()
USER = "alice@example.test"
PASSWORD = "alice-secret"
OTHER = "bob@example.test"
LIMIT = 3

inst = Instance(main_extra="", master_extra=(
    "127.0.0.1:%d inet n - y - 20 smtpd"
    " -o smtpd_tls_security_level=encrypt"
    " -o smtpd_sasl_auth_enable=yes"
    " -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
    " -o smtpd_sender_restrictions=reject_sender_login_mismatch\n"
    "127.0.0.1:%d inet n - y - 20 smtpd"
    " -o smtpd_tls_wrappermode=yes"
    " -o smtpd_sasl_auth_enable=yes"
    " -o smtpd_sasl_hide_client=yes -o smtpd_sasl_authenticated_header=yes"
    " -o smtpd_sender_login_maps=hash:$config_directory/sender_login"
    " -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
    " -o smtpd_sender_restrictions=reject_sender_login_mismatch\n"
    "127.0.0.1:%d inet n - y - 20 smtpd"
    " -o smtpd_tls_wrappermode=yes -o smtpd_timeout=2s"
    " -o smtpd_sender_restrictions=reject_sender_login_mismatch\n"
    % (SUB_PORT, SMTPS_PORT, SLOW_PORT)))
CERT, KEY = inst.make_cert()
with open(os.path.join(inst.conf, "main.cf"), "a") as f:
    f.write("""
smtpd_tls_cert_file = %s
smtpd_tls_key_file = %s
smtpd_tls_security_level = may
smtpd_sasl_auth_enable = yes
smtpd_auth_failure_limit = %d
smtpd_error_sleep_time = 1s
smtpd_timeout = 10s
transport_maps = hash:%s/transport
""" % (CERT, KEY, LIMIT, inst.conf))
with open(os.path.join(inst.conf, "transport"), "w") as f:
    f.write("remote.test discard:\n")
inst.cli("map", "build", "hash:" + os.path.join(inst.conf, "transport"))
with open(os.path.join(inst.conf, "sender_login"), "w") as f:
    f.write("shared@example.test alice@example.test, bob@example.test\n"
            "alice@example.test alice@example.test\n"
            "@team.test bob@example.test\n")
inst.cli("map", "build", "hash:" + os.path.join(inst.conf, "sender_login"))
tap = TAP(inst)
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


class Client(LineClient):
    """A raw SMTP client; starttls() wraps the socket."""

    def __init__(self, port=None, tls=False, source="127.0.0.1"):
        LineClient.__init__(self, port or inst.smtp_port, source=source,
                            context=CTX if tls else None)
        self.banner = self.reply()

    def reply_lines(self):
        out = []
        while True:
            out.append(self.line())
            if len(out[-1]) < 4 or out[-1][3] != "-":
                return out

    def reply(self):
        return self.reply_lines()[-1]

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def ehlo(self):
        self.send("EHLO client.example.org\r\n")
        return self.reply_lines()

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r.startswith("220 "), r
        LineClient.starttls(self, CTX)

    def auth_plain(self, user=USER, password=PASSWORD):
        return self.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (user, password)))


def s_client(*args, data=b"QUIT\r\n", port=None):
    """openssl s_client against a port; (returncode, stdout+stderr)."""
    proc = subprocess.run(
        ["openssl", "s_client", "-connect",
         "127.0.0.1:%d" % (port or inst.smtp_port), "-ign_eof"] +
        list(args), input=data, capture_output=True, timeout=30)
    return proc.returncode, (proc.stdout + proc.stderr).decode(
        "utf-8", "replace")


def b64(text):
    return base64.b64encode(text.encode()).decode()


def messages(address):
    out = []
    for path in inst.maildir_files(address):
        with open(path, "rb") as f:
            out.append(f.read().decode("utf-8", "replace"))
    return out


def with_subject(subject, address=USER):
    return [m for m in messages(address) if "Subject: %s\n" % subject in m]


@tap.test
def setup_instance():
    inst.add_user(USER, PASSWORD)
    inst.add_user(OTHER, "bob-secret")
    inst.start()
    for port in (SUB_PORT, SMTPS_PORT, SLOW_PORT):
        wait_for(lambda: inst.port_open(port), what="port %d" % port)


@tap.test
def openssl_starttls_handshake_and_log_line():
    rc, out = s_client("-starttls", "smtp")
    assert rc == 0, out
    assert "Protocol  : TLSv1.3" in out or "TLSv1.3" in out, out
    assert "221 2.0.0 Bye" in out, out
    inst.wait_log("Anonymous TLS connection established from " +
                  CLIENT + ": TLSv1.3 with cipher TLS_")
    inst.wait_log("disconnect from " + CLIENT + " ehlo=1 starttls=1 "
                  "quit=1 commands=3")


@tap.test
def smtpd_with_a_certificate_loads_openssl_before_its_chroot():
    """The other side of tls_lazy.c: with a certificate smtpd loads OpenSSL
    while building its context (before the privilege drop and the chroot,
    where there are no libraries), and STARTTLS then works (above)."""
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=30)
    s.recv(100)
    try:
        # The smtpd that sent the banner, not another one master may be
        # starting meanwhile (still before its context: nothing mapped).
        pid = wait_for(lambda: server_pid(s, inst.pids_of("smtpd")),
                       what="the smtpd serving the connection")
        libs = [os.path.basename(x) for x in openssl_mapped(pid)]
        assert any(x.startswith("libssl.so") for x in libs), (pid, libs)
        assert any(x.startswith("libcrypto.so") for x in libs), (pid, libs)
    finally:
        s.close()


@tap.test
def ehlo_offers_starttls_but_not_auth_in_the_clear():
    c = Client()
    lines = c.ehlo()
    assert "250-STARTTLS" in lines, lines
    assert not any("AUTH" in l for l in lines), lines
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))) == \
        "538 5.7.11 Encryption required for requested authentication " \
        "mechanism"
    c.starttls()
    lines = c.ehlo()
    assert "250-AUTH PLAIN LOGIN" in lines, lines
    assert "250-STARTTLS" not in lines, lines
    c.cmd("QUIT")
    c.close()


@tap.test
def starttls_twice_or_with_argument_is_refused():
    c = Client()
    c.ehlo()
    assert c.cmd("STARTTLS now") == "501 5.5.4 Syntax: STARTTLS"
    c.starttls()
    c.ehlo()
    assert c.cmd("STARTTLS") == "554 5.5.1 Error: TLS already active"
    c.cmd("QUIT")
    c.close()


@tap.test
def injected_commands_after_starttls_are_discarded():
    c = Client()
    c.ehlo()
    c.send("STARTTLS\r\nRSET\r\n")
    r = c.reply()
    assert r.startswith("220 "), r
    time.sleep(0.3)
    assert c.buf == b"", c.buf
    LineClient.starttls(c, CTX)
    # The session started over: no RSET reply waits in the TLS stream,
    # and the first reply we get is the one to our NOOP.
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    lines = c.ehlo()
    assert "250-AUTH PLAIN LOGIN" in lines, lines
    c.cmd("QUIT")
    c.close()
    inst.wait_log("discarding input sent after STARTTLS")


@tap.test
def state_before_starttls_does_not_survive_it():
    c = Client()
    c.ehlo()
    assert c.cmd("MAIL FROM:<x@example.org>").startswith("250")
    # A transaction in progress: STARTTLS is refused, RSET allows it.
    assert c.cmd("STARTTLS").startswith("503 5.5.1")
    c.cmd("RSET")
    c.starttls()
    # No EHLO yet after TLS: AUTH needs it again.
    assert c.auth_plain() == "503 5.5.1 Error: send EHLO first"
    c.cmd("QUIT")
    c.close()


@tap.test
def tls_1_1_is_refused_on_the_mandatory_ports():
    rc, out = s_client("-starttls", "smtp", "-tls1_1", port=SUB_PORT)
    assert rc != 0, out
    rc, out = s_client("-tls1_1", port=SMTPS_PORT)
    assert rc != 0, out
    rc, out = s_client("-tls1_2", port=SMTPS_PORT)
    assert rc == 0 and "TLSv1.2" in out, out


@tap.test
def alpn_offer_without_smtp_aborts_the_handshake():
    rc, out = s_client("-alpn", "h2", port=SMTPS_PORT)
    assert rc != 0, out
    assert "no application protocol" in out or "alert" in out, out
    rc, out = s_client("-alpn", "h2,smtp", port=SMTPS_PORT)
    assert rc == 0, out
    assert "ALPN protocol: smtp" in out, out


@tap.test
def implicit_tls_with_openssl_and_smtplib():
    rc, out = s_client(port=SMTPS_PORT)
    assert rc == 0, out
    assert "220 mx.example.test" in out and "221 2.0.0 Bye" in out, out
    with smtplib.SMTP_SSL("127.0.0.1", SMTPS_PORT, context=CTX,
                          timeout=15) as s:
        code, text = s.ehlo()
        assert code == 250 and b"STARTTLS" not in text, text
        assert b"AUTH PLAIN LOGIN" in text, text
        s.login(USER, PASSWORD)
        s.sendmail(USER, [OTHER], "Subject: smtps-1\n\nover smtps\n")
    m = wait_for(lambda: with_subject("smtps-1", OTHER), what="delivery")[0]
    assert "with ESMTPSA id" in m, m
    assert "(using TLSv1.3 with cipher TLS_" in m, m
    # smtpd_sasl_hide_client and smtpd_sasl_authenticated_header on 465.
    assert "Received: from [127.0.0.1] (authenticated client)\n" in m or \
        "(authenticated client)" in m, m
    assert "127.0.0.1]" not in m.split("(authenticated client)")[1], m
    assert "unknown [127.0.0.1]" not in m, m
    assert "(Authenticated sender: %s)" % USER in m, m


@tap.test
def trickling_under_tls_meets_the_command_deadline():
    c = Client(port=SLOW_PORT, tls=True)
    start = time.time()
    try:
        # One TLS record per byte: each read succeeds, the line never ends.
        for ch in "NOOP NOOP NOOP NOOP NOOP":
            c.send(ch)
            time.sleep(0.25)
            if time.time() - start > 8:
                break
        r = c.reply()
    except (EOFError, OSError, ssl.SSLError) as e:
        r = str(e)
    assert "421 4.4.2" in r or "closed" in r or "EOF" in r, r
    assert time.time() - start < 8, "deadline not enforced"
    c.close()
    inst.wait_log("timeout after CONNECT from " + CLIENT)


@tap.test
def submission_needs_tls_first():
    c = Client(port=SUB_PORT)
    c.ehlo()
    assert c.cmd("MAIL FROM:<%s>" % USER) == \
        "530 5.7.0 Must issue a STARTTLS command first"
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))) == \
        "530 5.7.0 Must issue a STARTTLS command first"
    c.cmd("QUIT")
    c.close()


@tap.test
def smtplib_logins_right_and_wrong_password():
    with smtplib.SMTP("127.0.0.1", SUB_PORT, timeout=15) as s:
        s.starttls(context=CTX)
        try:
            s.login(USER, "wrong")
            raise AssertionError("wrong password accepted")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e
            assert b"5.7.8 Error: authentication failed" in e.smtp_error
        code, _ = s.login(USER, PASSWORD)
        assert code == 235
        # smtplib's login() takes 503 for success: ask by hand.
        code, text = s.docmd("AUTH", "PLAIN " + b64("\0%s\0%s" % (
            USER, PASSWORD)))
        assert (code, text) == (503, b"5.5.1 Error: already "
                                b"authenticated"), (code, text)
    inst.wait_log("warning: " + CLIENT + ": SASL PLAIN authentication "
                  "failed: authentication failure")


@tap.test
def auth_login_exchange_and_cancel_and_bad_base64():
    c = Client(port=SUB_PORT)
    c.ehlo()
    c.starttls()
    c.ehlo()
    assert c.cmd("AUTH LOGIN") == "334 VXNlcm5hbWU6"
    assert c.cmd("*") == "501 5.7.0 Authentication aborted"
    assert c.cmd("AUTH PLAIN") == "334 "
    assert c.cmd("!!!notbase64") == "501 5.5.2 Cannot decode response"
    assert c.cmd("AUTH CRAM-MD5").startswith("504 5.5.4")
    assert c.cmd("AUTH LOGIN " + b64(USER)) == "334 UGFzc3dvcmQ6"
    assert c.cmd(b64(PASSWORD)) == "235 2.7.0 Authentication successful"
    assert c.cmd("MAIL FROM:<%s>" % USER).startswith("250")
    assert c.cmd("AUTH PLAIN " + b64("\0a\0b")).startswith("503 5.5.1")
    c.cmd("QUIT")
    c.close()


@tap.test
def hostile_auth_input():
    c = Client(port=SMTPS_PORT, tls=True, source="127.0.0.7")
    c.ehlo()
    assert c.cmd("AUTH") == "501 5.5.4 Syntax: AUTH mechanism"
    assert c.cmd("AUTH " + "X" * 40).startswith("501 5.5.4")
    # An empty initial response: a malformed PLAIN message, a failure.
    assert c.cmd("AUTH PLAIN =").startswith("535 5.7.8")
    # A response line over the limit is refused, not buffered.
    assert c.cmd("AUTH LOGIN") == "334 VXNlcm5hbWU6"
    assert c.cmd("QUFB" * 2000) == \
        "500 5.5.6 Authentication exchange line is too long"
    # No proxy logins: an authzid other than the login fails.
    r = c.cmd("AUTH PLAIN " + b64("%s\0%s\0%s" % (OTHER, USER, PASSWORD)))
    assert r.startswith("535 5.7.8"), r
    c.cmd("QUIT")
    c.close()
    c = Client(port=SMTPS_PORT, tls=True, source="127.0.0.8")
    c.ehlo()
    # Blanks around the initial response are not part of it.
    assert c.cmd("auth plain \t" + b64("\0%s\0%s" % (USER.upper(),
                 PASSWORD)) + " \t") == "235 2.7.0 Authentication successful"
    c.cmd("QUIT")
    c.close()
    assert PASSWORD not in inst.log()


@tap.test
def curl_submission_with_right_and_wrong_password():
    if shutil.which("curl") is None:
        raise AssertionError("curl is not installed")
    mail = os.path.join(inst.dir, "curl-mail.txt")
    with open(mail, "w") as f:
        f.write("Subject: curl-1\r\n\r\nvia curl\r\n")
    # Its own source address: the failure limit counts per client IP.
    base = ["curl", "-s", "-S", "--insecure", "--ssl-reqd",
            "--interface", "127.0.0.6",
            "--url", "smtp://127.0.0.1:%d" % SUB_PORT,
            "--mail-from", USER, "--mail-rcpt", OTHER,
            "--upload-file", mail]
    proc = subprocess.run(base + ["--user", "%s:%s" % (USER, PASSWORD)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    wait_for(lambda: with_subject("curl-1", OTHER), what="curl delivery")
    proc = subprocess.run(base + ["--user", "%s:nope" % USER],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0, proc.stdout
    assert "535" in proc.stderr or "Login denied" in proc.stderr, proc.stderr


@tap.test
def relaying_needs_a_login():
    c = Client()
    c.ehlo()
    c.starttls()
    c.ehlo()
    assert c.cmd("MAIL FROM:<%s>" % USER).startswith("250")
    r = c.cmd("RCPT TO:<someone@remote.test>")
    assert r == "554 5.7.1 <someone@remote.test>: Relay access denied", r
    c.cmd("RSET")
    assert c.auth_plain() == "235 2.7.0 Authentication successful"
    assert c.cmd("MAIL FROM:<%s>" % USER).startswith("250")
    assert c.cmd("RCPT TO:<someone@remote.test>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    r = c.cmd("Subject: relay-1\r\n\r\nrelayed\r\n.")
    assert r.startswith("250 2.0.0 Ok: queued as "), r
    qid = r.split()[-1]
    c.cmd("QUIT")
    c.close()
    inst.wait_log("%s: client=%s, sasl_method=PLAIN, "
                  "sasl_username=%s" % (qid, CLIENT, USER))
    inst.wait_log("%s: to=<someone@remote.test>" % qid)


@tap.test
def submission_refuses_anonymous_clients_and_foreign_senders():
    c = Client(port=SUB_PORT)
    c.ehlo()
    c.starttls()
    c.ehlo()
    assert c.cmd("MAIL FROM:<%s>" % USER).startswith("250")
    r = c.cmd("RCPT TO:<%s>" % OTHER)
    assert r == "554 5.7.1 <" + CLIENT + ">: Client host rejected: " \
        "Access denied", r
    c.cmd("RSET")
    assert c.auth_plain() == "235 2.7.0 Authentication successful"
    assert c.cmd("MAIL FROM:<%s>" % OTHER).startswith("250")
    r = c.cmd("RCPT TO:<%s>" % OTHER)
    assert r == ("553 5.7.1 <%s>: Sender address rejected: not owned by "
                 "user %s" % (OTHER, USER)), r
    c.cmd("RSET")
    assert c.cmd("MAIL FROM:<%s>" % USER.upper()).startswith("250")
    assert c.cmd("RCPT TO:<%s>" % OTHER).startswith("250")
    c.cmd("QUIT")
    c.close()


@tap.test
def sender_login_maps_name_the_owners():
    def rcpt_as(c, sender):
        c.cmd("RSET")
        assert c.cmd("MAIL FROM:<%s>" % sender).startswith("250")
        return c.cmd("RCPT TO:<%s>" % OTHER)

    c = Client(port=SMTPS_PORT, tls=True)
    c.ehlo()
    assert c.auth_plain() == "235 2.7.0 Authentication successful"
    assert rcpt_as(c, "Shared@Example.test").startswith("250")
    assert rcpt_as(c, USER).startswith("250")
    # Listed nowhere: with a map, an address nobody owns is refused too.
    assert rcpt_as(c, "nobody@example.test") == (
        "553 5.7.1 <nobody@example.test>: Sender address rejected: not "
        "owned by user %s" % USER)
    assert rcpt_as(c, "x@team.test").startswith("553 5.7.1")
    assert rcpt_as(c, "").startswith("250")
    c.cmd("QUIT")
    c.close()
    # Without a map and without a login: an account's address is owned.
    c = Client(port=SLOW_PORT, tls=True)
    c.ehlo()
    assert rcpt_as(c, USER) == ("553 5.7.1 <%s>: Sender address rejected: "
                                "not logged in" % USER)
    assert rcpt_as(c, "stranger@example.org").startswith("250")
    c.cmd("QUIT")
    c.close()
    inst.wait_log("NOQUEUE: reject: RCPT from " + CLIENT + ": 553 5.7.1 "
                  "<%s>: Sender address rejected: not logged in;" % USER)


@tap.test
def submission_adds_date_and_message_id():
    c = Client(port=SUB_PORT)
    c.ehlo()
    c.starttls()
    c.ehlo()
    assert c.auth_plain() == "235 2.7.0 Authentication successful"
    assert c.cmd("MAIL FROM:<%s>" % USER).startswith("250")
    assert c.cmd("RCPT TO:<%s>" % OTHER).startswith("250")
    assert c.cmd("DATA").startswith("354")
    r = c.cmd("Subject: fix-1\r\nFrom: <%s>\r\n\r\nbody line\r\n." % USER)
    assert r.startswith("250"), r
    qid = r.split()[-1]
    c.cmd("QUIT")
    c.close()
    m = wait_for(lambda: with_subject("fix-1", OTHER), what="delivery")[0]
    head, body = m.split("\n\n", 1)
    assert "\nDate: " in head, m
    assert "\nMessage-ID: <" in head and "." + qid + "@mx.example.test>" \
        in head, m
    assert body == "body line\n", m
    assert "with ESMTPSA id " + qid in head, m
    assert "(using TLSv1.3 with cipher " in head, m
    assert PASSWORD not in m
    inst.wait_log("%s: message-id=<" % qid)


@tap.test
def submission_keeps_existing_fields_and_fixes_bdat_and_header_only():
    with smtplib.SMTP_SSL("127.0.0.1", SMTPS_PORT, context=CTX,
                          timeout=15) as s:
        s.login(USER, PASSWORD)
        s.sendmail(USER, [OTHER], "Subject: fix-2\nDate: Mon, 1 Jan 2024 "
                   "00:00:00 +0000\nMessage-ID: <given@example.test>\n\nb\n")
        s.sendmail(USER, [OTHER], "Subject: fix-3\n")
    c = Client(port=SMTPS_PORT, tls=True)
    c.ehlo()
    assert c.auth_plain() == "235 2.7.0 Authentication successful"
    assert c.cmd("MAIL FROM:<%s>" % USER).startswith("250")
    assert c.cmd("RCPT TO:<%s>" % OTHER).startswith("250")
    part1, part2 = b"Subject: fix-4\r\nX-Long: ", b"aaaa\r\n\r\nbdat body\r\n"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    assert c.reply().startswith("250")
    c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    assert c.reply().startswith("250 2.0.0 Ok: queued")
    c.cmd("QUIT")
    c.close()
    m = wait_for(lambda: with_subject("fix-2", OTHER), what="delivery")[0]
    assert m.count("Message-ID:") == 1 and "<given@example.test>" in m, m
    assert m.count("\nDate: ") == 1 and "Mon, 1 Jan 2024" in m, m
    m = wait_for(lambda: with_subject("fix-3", OTHER), what="delivery")[0]
    assert m.endswith("Subject: fix-3\nDate: " + m.split("Date: ")[1]), m
    assert "\nMessage-ID: <" in m, m
    m = wait_for(lambda: with_subject("fix-4", OTHER), what="delivery")[0]
    assert "X-Long: aaaa\nDate: " in m, m
    assert m.endswith("\n\nbdat body\n"), m


@tap.test
def plain_port_25_mail_is_not_rewritten():
    c = Client()
    c.ehlo()
    c.starttls()
    c.ehlo()
    assert c.cmd("MAIL FROM:<x@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<%s>" % OTHER).startswith("250")
    assert c.cmd("DATA").startswith("354")
    assert c.cmd("Subject: plain-1\r\n\r\nno date\r\n.").startswith("250")
    c.cmd("QUIT")
    c.close()
    m = wait_for(lambda: with_subject("plain-1", OTHER), what="delivery")[0]
    assert "\nDate: " not in m and "Message-ID" not in m, m
    assert "with ESMTPS id" in m, m


@tap.test
def failure_limit_disconnects_with_421():
    c = Client(port=SUB_PORT, source="127.0.0.3")
    c.ehlo()
    c.starttls()
    c.ehlo()
    start = time.time()
    for _ in range(LIMIT - 1):
        r = c.auth_plain(password="bad")
        assert r == "535 5.7.8 Error: authentication failed: " \
            "authentication failure", r
    r = c.auth_plain(password="bad")
    assert r.startswith("421 4.7.0 "), r
    # smtpd_error_sleep_time after each failure.
    assert time.time() - start >= LIMIT - 0.5
    try:
        assert c.sock.recv(100) == b""
    except (ConnectionResetError, ssl.SSLError):
        pass
    c.close()
    inst.wait_log("warning: unknown[127.0.0.3]: too many failed SASL "
                  "authentication attempts")
    # The limit is per IP: a new session from it is refused at AUTH,
    # even with the right password; another IP may still log in.
    c = Client(port=SMTPS_PORT, tls=True, source="127.0.0.3")
    c.ehlo()
    assert c.auth_plain().startswith("421 4.7.0 "), "IP not limited"
    c.close()
    c = Client(port=SMTPS_PORT, tls=True, source="127.0.0.4")
    c.ehlo()
    assert c.auth_plain() == "235 2.7.0 Authentication successful"
    c.cmd("QUIT")
    c.close()


@tap.test
def fail2ban_postfix_filter_matches_our_log():
    # Our syslog_name is postilion; the filter takes a program override.
    matched, out = inst.fail2ban_regex(
        'postfix.conf[mode=auth, _daemon="postilion(-\\w+)?/\\w+'
        '(?:/smtp[ds])?"]')
    failures = len([l for l in inst.log().splitlines()
                    if "SASL PLAIN authentication failed" in l or
                    "SASL LOGIN authentication failed" in l])
    assert failures >= LIMIT
    assert matched == failures, (matched, failures, out)


@tap.test
def group_readable_key_stops_smtpd_with_a_clear_error():
    bad = Instance()
    try:
        cert, key = bad.make_cert()
        os.chmod(key, 0o644)
        with open(os.path.join(bad.conf, "main.cf"), "a") as f:
            f.write("smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
                    "smtpd_tls_security_level = may\n" % (cert, key))
        bad.start()
        # master starts smtpd for the first client; smtpd refuses.
        s = socket.create_connection(("127.0.0.1", bad.smtp_port),
                                     timeout=10)
        bad.wait_log("private key file %s is accessible by group or "
                     "others (mode 0644)" % key)
        s.close()
    finally:
        bad.destroy()


@tap.test
def no_smtpd_crashed_or_warned_unexpectedly():
    bad = inst.bad_log_lines("authentication failed",
                             "too many failed SASL")
    assert not bad, bad


if __name__ == "__main__":
    try:
        rc = tap.run()
    finally:
        inst.destroy()
    sys.exit(rc)
