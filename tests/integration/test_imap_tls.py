"""test_imap_tls: imapd's STARTTLS and imaps (RFC 8314) and logins on a
real instance, from 127.0.0.2 so that the client is not "secured": the
STARTTLS injection defence and state reset, STARTTLS twice / with an
argument / after login, the TLS floor on imaps, openssl s_client, imaplib
and curl with right and wrong passwords, `postilion user add` then login,
a Dovecot passwd-file, the per-client-IP failure limit across sessions
and fail2ban's dovecot filter on our imap-login lines."""

import base64
import imaplib
import os
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Instance, LineClient, TAP, free_port, wait_for  # noqa

SRC = "127.0.0.2"               # not the server's address: not "secured"
USER = "alice@example.test"
PASSWORD = "alice imap secret"
DOVE = "dove@example.test"
DOVE_PASSWORD = "dove-Secret"
IP_LIMIT = 4
SESSION_LIMIT = 3

inst = Instance()


def distinct_port(taken):
    """free_port() may hand out a port twice: keep them apart."""
    port = free_port()
    while port in taken:
        port = free_port()
    taken.append(port)
    return port


_taken = [inst.smtp_port, inst.pop3_port, inst.imap_port]
IMAPS_PORT = distinct_port(_taken)
IPLIMIT_PORT = distinct_port(_taken)    # imaps, per-IP limit of IP_LIMIT
with open(os.path.join(inst.conf, "master.cf"), "a") as f:
    f.write("127.0.0.1:%d inet n - y - 20 imapd -o imapd_tls_wrappermode=yes\n"
            "127.0.0.1:%d inet n - y - 20 imapd -o imapd_tls_wrappermode=yes"
            " -o imapd_client_auth_failure_limit=%d"
            " -o imapd_auth_failure_delay=0s\n"
            % (IMAPS_PORT, IPLIMIT_PORT, IP_LIMIT))
CERT, KEY = inst.make_cert()
DOVECOT_USERS = os.path.join(inst.conf, "dovecot-users")
with open(os.path.join(inst.conf, "main.cf"), "a") as f:
    f.write("""
imapd_tls_cert_file = %s
imapd_tls_key_file = %s
imapd_login_timeout = 10s
imapd_auth_failure_delay = 1s
imapd_auth_failure_limit = %d
imapd_client_auth_failure_limit = 50
virtual_password_maps = hash:%s/passwd, passwd-file:%s
""" % (CERT, KEY, SESSION_LIMIT, inst.conf, DOVECOT_USERS))
tap = TAP(inst)
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


class Raw(LineClient):
    """A raw IMAP client from SRC: tagged commands, lines up to the tag."""

    def __init__(self, port=None, src=SRC, implicit=False):
        super().__init__(port or inst.imap_port, source=src,
                         context=CTX if implicit else None)
        self.greeting = self.line()

    def cmd(self, text, tag="a"):
        self.send("%s %s\r\n" % (tag, text))
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def eof(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True


class IMAP4From(imaplib.IMAP4):
    """imaplib from SRC, so the server sees a client on another address."""

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(SRC, 0))


class IMAP4SSLFrom(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(SRC, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def s_client(*args, data=b"x LOGOUT\r\n", port=None):
    proc = subprocess.run(
        ["openssl", "s_client", "-connect",
         "127.0.0.1:%d" % (port or inst.imap_port), "-ign_eof"] + list(args),
        input=data, capture_output=True, timeout=30)
    return proc.returncode, (proc.stdout + proc.stderr).decode(
        "utf-8", "replace")


def curl(url, *args):
    proc = subprocess.run(
        ["curl", "-sS", "--insecure", "--max-time", "20", "--interface", SRC,
         url] + list(args), capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout + proc.stderr


def openssl_hash(password):
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                          input=password, capture_output=True, text=True,
                          check=True).stdout.strip()


@tap.test
def setup_instance():
    inst.add_user(USER, PASSWORD)
    with open(DOVECOT_USERS, "w") as f:
        f.write("# Dovecot passwd-file\n"
                "%s:{SHA512-CRYPT}%s:5000:5000::/var/vmail/dove::"
                "userdb_quota_rule=*:storage=1G\n"
                % (DOVE, openssl_hash(DOVE_PASSWORD)))
    os.chmod(DOVECOT_USERS, 0o600)
    vmailbox = os.path.join(inst.conf, "vmailbox")
    with open(vmailbox, "a") as f:
        f.write("%s example.test/dove/\n" % DOVE)
    inst.cli("map", "build", "hash:" + vmailbox)
    inst.start()
    for port in (inst.imap_port, IMAPS_PORT, IPLIMIT_PORT):
        wait_for(lambda: inst.port_open(port), what="imap port %d" % port)


@tap.test
def logindisabled_before_starttls():
    c = Raw()
    caps = c.cmd("CAPABILITY")
    assert "STARTTLS" in caps[0] and "LOGINDISABLED" in caps[0], caps
    assert "AUTH=PLAIN" not in caps[0], caps
    assert c.cmd('LOGIN "%s" "%s"' % (USER, PASSWORD))[-1].startswith(
        "a NO [PRIVACYREQUIRED]")
    assert c.cmd("AUTHENTICATE PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))
                 )[-1].startswith("a NO [PRIVACYREQUIRED]")
    c.close()


@tap.test
def starttls_injection_gets_one_reply():
    c = Raw()
    injected = b"b NOOP\r\nc LOGIN x y\r\n"
    c.send(b"a STARTTLS\r\n" + injected)
    assert c.line() == "a OK Begin TLS negotiation now."
    assert c.buf == b""
    c.starttls(CTX)
    # the first reply over TLS is d's: nothing for b or c, ever
    lines = c.cmd("CAPABILITY", tag="d")
    assert len(lines) == 2 and lines[0].startswith("* CAPABILITY "), lines
    assert lines[1].startswith("d OK "), lines
    # no pre-TLS state: the capabilities are those of a TLS session
    assert "STARTTLS" not in lines[0] and "LOGINDISABLED" not in lines[0]
    assert "AUTH=PLAIN" in lines[0], lines
    assert c.cmd("NOOP", tag="e") == ["e OK NOOP completed."]
    assert c.cmd("LOGOUT", tag="f")[-1].startswith("f OK")
    assert c.eof()
    inst.wait_log("imap-login: discarding %d bytes pipelined after "
                  "STARTTLS: rip=127.0.0.2" % len(injected))


@tap.test
def starttls_twice_with_argument_and_after_login():
    c = Raw()
    assert c.cmd("STARTTLS now") == ["a BAD STARTTLS takes no arguments."]
    assert c.cmd("STARTTLS")[-1] == "a OK Begin TLS negotiation now."
    c.starttls(CTX)
    assert c.cmd("STARTTLS") == ["a BAD TLS is already active."]
    line = c.cmd('LOGIN "%s" "%s"' % (USER, PASSWORD))[-1]
    assert line.startswith("a OK [CAPABILITY "), line
    lines = c.cmd("STARTTLS")
    assert lines == ["a BAD Already logged in."], lines
    c.cmd("LOGOUT")
    c.close()
    # on imaps TLS is active from the start
    c = Raw(port=IMAPS_PORT, implicit=True)
    assert c.greeting.startswith("* OK [CAPABILITY "), c.greeting
    assert "STARTTLS" not in c.greeting and "AUTH=PLAIN" in c.greeting
    assert c.cmd("STARTTLS") == ["a BAD TLS is already active."]
    c.close()


@tap.test
def tls_1_1_refused_on_imaps_and_1_2_works():
    # SECLEVEL=0 so that our own client is willing: the server refuses.
    rc, out = s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                       port=IMAPS_PORT)
    assert rc != 0, out
    inst.wait_log("imap-login: TLS handshaking failed: ")
    assert "unsupported protocol" in inst.log()
    rc, out = s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                       "-starttls", "imap")
    assert rc != 0, out
    for version in ("-tls1_2", "-tls1_3"):
        rc, out = s_client(version, port=IMAPS_PORT)
        assert rc == 0 and "TLSv1." + version[-1] in out, out
        assert "* BYE" in out and "x OK" in out, out


@tap.test
def openssl_s_client_starttls_imap():
    rc, out = s_client("-starttls", "imap", "-tls1_2")
    assert rc == 0, out
    assert "TLSv1.2" in out and "x OK" in out, out
    rc, out = s_client("-starttls", "imap",
                       data=('x LOGIN "%s" "%s"\r\ny LOGOUT\r\n'
                             % (USER, PASSWORD)).encode())
    assert rc == 0 and "x OK [CAPABILITY " in out, out
    assert "y OK" in out, out


@tap.test
def imaplib_starttls_and_imaps_right_and_wrong_password():
    m = IMAP4From("127.0.0.1", inst.imap_port, timeout=20)
    m.starttls(ssl_context=CTX)
    try:
        m.login(USER, "wrong " + PASSWORD)
        raise AssertionError("a wrong password logged in")
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e), e
    typ, _ = m.login(USER, PASSWORD)
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert typ == "OK", data
    m.logout()
    m = IMAP4SSLFrom("127.0.0.1", IMAPS_PORT, ssl_context=CTX, timeout=20)
    try:
        m.authenticate("PLAIN", lambda _: "\0%s\0nope" % USER)
        raise AssertionError("a wrong password logged in")
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e), e
    typ, _ = m.authenticate("PLAIN", lambda _: "\0%s\0%s" % (USER, PASSWORD))
    assert typ == "OK"
    m.logout()
    inst.wait_log("imap-login: Login: user=<%s>, method=PLAIN, "
                  "rip=127.0.0.2, lip=127.0.0.1, mpid=" % USER)
    assert all(l.endswith(", TLS") for l in inst.log().splitlines()
               if "imap-login: Login: user=<%s>" % USER in l)


@tap.test
def curl_imaps_and_starttls_right_and_wrong_password():
    rc, out = curl("imaps://127.0.0.1:%d/" % IMAPS_PORT,
                   "-u", "%s:%s" % (USER, PASSWORD))
    assert rc == 0 and "INBOX" in out, (rc, out)
    rc, out = curl("imaps://127.0.0.1:%d/" % IMAPS_PORT,
                   "-u", "%s:%s" % (USER, "bad"))
    assert rc == 67, (rc, out)          # CURLE_LOGIN_DENIED
    rc, out = curl("imap://127.0.0.1:%d/" % inst.imap_port, "--ssl-reqd",
                   "-u", "%s:%s" % (USER, PASSWORD))
    assert rc == 0 and "INBOX" in out, (rc, out)


@tap.test
def user_add_then_login():
    who = "carol@example.test"
    # an idle pooled process meets the new account too (pre-accept)
    m = IMAP4SSLFrom("127.0.0.1", IMAPS_PORT, ssl_context=CTX, timeout=20)
    m.logout()
    inst.add_user(who, "carol one")
    for _ in range(2):
        m = IMAP4SSLFrom("127.0.0.1", IMAPS_PORT, ssl_context=CTX,
                         timeout=20)
        assert m.login(who, "carol one")[0] == "OK"
        m.logout()
    m = IMAP4From("127.0.0.1", inst.imap_port, timeout=20)
    m.starttls(ssl_context=CTX)
    assert m.login(who, "carol one")[0] == "OK"
    m.logout()


@tap.test
def dovecot_passwd_file_as_is():
    m = IMAP4SSLFrom("127.0.0.1", IMAPS_PORT, ssl_context=CTX, timeout=20)
    assert m.login(DOVE, DOVE_PASSWORD)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    m.logout()
    c = Raw(port=IMAPS_PORT, implicit=True)
    assert c.cmd('LOGIN "%s" "x%s"' % (DOVE, DOVE_PASSWORD)) == \
        ["a NO [AUTHENTICATIONFAILED] Authentication failed."]
    c.close()


@tap.test
def session_failure_limit_is_logged():
    c = Raw(port=IMAPS_PORT, implicit=True)
    for i in range(SESSION_LIMIT):
        assert c.cmd('LOGIN "%s" "guess%d"' % (USER, i)) == \
            ["a NO [AUTHENTICATIONFAILED] Authentication failed."]
    assert c.eof()
    inst.wait_log("imap-login: Disconnected (auth failed, %d attempts in "
                  % SESSION_LIMIT)


@tap.test
def per_ip_failure_limit_across_sessions():
    src = "127.0.0.3"           # this test's own address
    c = Raw(port=IPLIMIT_PORT, src=src, implicit=True)
    for i in range(SESSION_LIMIT):      # the per-session limit ends this
        assert c.cmd('LOGIN "%s" "guess%d"' % (USER, i)) == \
            ["a NO [AUTHENTICATIONFAILED] Authentication failed."]
    assert c.eof()
    # the next failure from the address reaches IP_LIMIT: BYE
    c = Raw(port=IPLIMIT_PORT, src=src, implicit=True)
    c.send('a LOGIN "%s" "guess"\r\n' % USER)
    assert c.line() == "a NO [AUTHENTICATIONFAILED] Authentication failed."
    assert c.line().startswith("* BYE [UNAVAILABLE] Too many failed logins")
    assert c.eof()
    inst.wait_log("imap-login: Disconnected: Too many failed logins from "
                  "this address (auth failed, 1 attempts in ")
    # now not even the right password is checked, in any session...
    for port, implicit in ((IPLIMIT_PORT, True), (inst.imap_port, False)):
        c = Raw(port=port, src=src, implicit=implicit)
        if not implicit:
            assert c.cmd("STARTTLS")[-1] == "a OK Begin TLS negotiation now."
            c.starttls(CTX)
        if port == IPLIMIT_PORT:
            c.send('a LOGIN "%s" "%s"\r\n' % (USER, PASSWORD))
            line = c.line()
            assert line == ("* BYE [UNAVAILABLE] Too many failed logins "
                            "from your address; try again later."), line
            assert c.eof()
        else:
            # the instance's port has its own, higher limit: still fine
            assert c.cmd('LOGIN "%s" "%s"' % (USER, PASSWORD))[-1]\
                .startswith("a OK")
            c.close()
    # ...while another address logs in
    c = Raw(port=IPLIMIT_PORT, src="127.0.0.4", implicit=True)
    assert c.cmd('LOGIN "%s" "%s"' % (USER, PASSWORD))[-1].startswith("a OK")
    c.cmd("LOGOUT")
    c.close()


@tap.test
def fail2ban_dovecot_filter_matches_our_log():
    # Our syslog_name is postilion; the filter takes a program override.
    count, out = inst.fail2ban_regex(
        "dovecot.conf[_daemon=postilion(-\\w+)?/imapd]")
    assert count >= 3, out
    proc = subprocess.run(
        ["fail2ban-regex", "--print-all-matched", inst.maillog,
         "/etc/fail2ban/filter.d/dovecot.conf"
         "[_daemon=postilion(-\\w+)?/imapd]"],
        capture_output=True, text=True, timeout=120)
    matched = [l for l in proc.stdout.splitlines()
               if "imap-login: Disconnected" in l]
    assert any("auth failed, %d attempts" % SESSION_LIMIT in l and
               "127.0.0.2" in l for l in matched), proc.stdout
    assert any("Too many failed logins" in l and "127.0.0.3" in l
               for l in matched), proc.stdout
    assert not [l for l in matched if "no auth attempts" in l], proc.stdout


@tap.test
def log_is_clean():
    bad = [l for l in inst.log().splitlines() if "fatal:" in l or
           "panic" in l or "AddressSanitizer" in l or "runtime error" in l]
    assert not bad, bad


if __name__ == "__main__":
    try:
        rc = tap.run()
    finally:
        inst.destroy()
    sys.exit(rc)
