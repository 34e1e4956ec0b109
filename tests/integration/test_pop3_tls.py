"""test_pop3_tls: pop3d's STLS (RFC 2595), implicit TLS (pop3s, RFC 8314)
and logins (USER/PASS, AUTH PLAIN and LOGIN per RFC 5034) on a real
instance, with openssl s_client, poplib, curl and raw sockets: the STLS
injection defence, no plaintext login before TLS (a client on another
address: 127.0.0.2 -> 127.0.0.1), the TLS floor on 995, `postilion user
add` and a Dovecot passwd-file as virtual_password_maps, the failure limit
and fail2ban's dovecot filter on our log lines."""

import base64
import os
import poplib
import pwd
import shutil
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (IS_ROOT, VMAIL_OWNER, Instance, TAP,  # noqa: E402
                     free_port, wait_for)

IP_LIMIT = 4
SRC = "127.0.0.2"               # not the server's address: not "secured"
USER = "alice@example.test"
PASSWORD = "alice pop secret"
DOVE = "dove@example.test"
DOVE_PASSWORD = "dove-Secret"
CRYPT = "crypt@example.test"    # a bare $6$ hash: Dovecot's CRYPT default
LIMIT = 3

inst = Instance()


def distinct_port(taken):
    """free_port() may hand out a port twice: keep them apart."""
    port = free_port()
    while port in taken:
        port = free_port()
    taken.append(port)
    return port


_taken = [inst.smtp_port, inst.pop3_port, getattr(inst, "imap_port", 0)]
POP3S_PORT = distinct_port(_taken)
ENCRYPT_PORT = distinct_port(_taken)
IPLIMIT_PORT = distinct_port(_taken)    # pop3s, per-IP limit of IP_LIMIT
with open(os.path.join(inst.conf, "master.cf"), "a") as f:
    f.write("127.0.0.1:%d inet n - y - 20 pop3d -o pop3d_tls_wrappermode=yes\n"
            "127.0.0.1:%d inet n - y - 20 pop3d"
            " -o pop3d_tls_security_level=encrypt\n"
            "127.0.0.1:%d inet n - y - 20 pop3d -o pop3d_tls_wrappermode=yes"
            " -o pop3d_client_auth_failure_limit=%d"
            " -o pop3d_auth_failure_delay=0s\n"
            % (POP3S_PORT, ENCRYPT_PORT, IPLIMIT_PORT, IP_LIMIT))
CERT, KEY = inst.make_cert()
DOVECOT_USERS = os.path.join(inst.conf, "dovecot-users")
with open(os.path.join(inst.conf, "main.cf"), "a") as f:
    f.write("""
smtpd_tls_cert_file = %s
smtpd_tls_key_file = %s
pop3d_timeout = 10s
pop3d_auth_failure_limit = %d
pop3d_auth_failure_delay = 1s
pop3d_client_auth_failure_limit = 50
virtual_password_maps = hash:%s/passwd, passwd-file:%s
""" % (CERT, KEY, LIMIT, inst.conf, DOVECOT_USERS))
tap = TAP(inst)
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def openssl_hash(password):
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                          input=password, capture_output=True, text=True,
                          check=True).stdout.strip()


@tap.test
def setup_instance():
    inst.add_user(USER, PASSWORD)
    # A Dovecot passwd-file as Dovecot admins have it; the mailbox map
    # entries are ours (Dovecot's home field is not used).
    with open(DOVECOT_USERS, "w") as f:
        f.write("# Dovecot passwd-file\n"
                "%s:{SHA512-CRYPT}%s:5000:5000::/var/vmail/dove::"
                "userdb_quota_rule=*:storage=1G\n"
                "%s:%s:5000:5000::/var/vmail/crypt::\n"
                % (DOVE, openssl_hash(DOVE_PASSWORD), CRYPT,
                   openssl_hash(DOVE_PASSWORD)))
    os.chmod(DOVECOT_USERS, 0o600)
    vmailbox = os.path.join(inst.conf, "vmailbox")
    with open(vmailbox, "a") as f:
        f.write("%s example.test/dove/\n%s example.test/crypt/\n"
                % (DOVE, CRYPT))
    inst.cli("map", "build", "hash:" + vmailbox)
    inst.start()
    for port in (inst.pop3_port, POP3S_PORT, ENCRYPT_PORT, IPLIMIT_PORT):
        wait_for(lambda: inst.port_open(port), what="pop3 port %d" % port)


class Raw:
    """A raw POP3 client from SRC (or 127.0.0.1); tls() wraps the socket."""

    def __init__(self, port=None, src=SRC, implicit=False):
        self.sock = socket.create_connection(
            ("127.0.0.1", port or inst.pop3_port), timeout=15,
            source_address=(src, 0))
        if implicit:
            self.sock = CTX.wrap_socket(self.sock)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        lines = []
        while True:
            line = self.line()
            if line == b".":
                return lines
            lines.append(line)

    def capa(self):
        assert self.cmd("CAPA").startswith(b"+OK")
        return self.multi()

    def stls(self):
        assert self.cmd("STLS") == b"+OK Begin TLS negotiation now."
        assert self.buf == b""
        self.sock = CTX.wrap_socket(self.sock)

    def eof(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.sock.close()


class POP3From(poplib.POP3):
    """poplib from SRC, so the server sees a client on another address."""

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(SRC, 0))


def b64(data):
    return base64.b64encode(data.encode()).decode()


def s_client(*args, data=b"QUIT\r\n", port=None):
    proc = subprocess.run(
        ["openssl", "s_client", "-connect",
         "127.0.0.1:%d" % (port or inst.pop3_port), "-ign_eof"] + list(args),
        input=data, capture_output=True, timeout=30)
    return proc.returncode, (proc.stdout + proc.stderr).decode(
        "utf-8", "replace")


def curl(url, *args):
    proc = subprocess.run(
        ["curl", "-sS", "-k", "--max-time", "20", "--interface", SRC, url] +
        list(args), capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stdout + proc.stderr


@tap.test
def no_plaintext_login_before_stls():
    c = Raw()
    assert c.greeting.startswith(b"+OK"), c.greeting
    before = c.capa()
    assert b"STLS" in before, before
    assert b"USER" not in before, before
    assert not [x for x in before if x.startswith(b"SASL")], before
    # STLS comes before the login capabilities, as in Dovecot
    assert before.index(b"STLS") > before.index(b"AUTH-RESP-CODE")
    refused = (b"-ERR [AUTH] Plaintext authentication disallowed on "
               b"non-secure (SSL/TLS) connections.")
    assert c.cmd("USER " + USER) == refused
    assert c.cmd("PASS " + PASSWORD) == refused
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))) == \
        refused
    assert c.cmd("AUTH LOGIN") == refused
    assert c.cmd("AUTH") == b"+OK"
    assert c.multi() == []
    assert c.cmd("QUIT") == b"+OK Logging out."
    inst.wait_log("pop3-login: Disconnected (tried to use disallowed "
                  "plaintext auth): user=<>, rip=127.0.0.2, lip=127.0.0.1")


@tap.test
def stls_then_capa_offers_logins_and_no_stls():
    c = Raw()
    c.stls()
    after = c.capa()
    assert b"STLS" not in after, after
    assert b"USER" in after and b"SASL PLAIN LOGIN" in after, after
    assert c.cmd("AUTH") == b"+OK"
    assert c.multi() == [b"PLAIN", b"LOGIN"]
    assert c.cmd("STLS") == b"-ERR TLS is already active."
    assert c.cmd("USER " + USER) == b"+OK"
    assert c.cmd("PASS " + PASSWORD) == b"+OK Logged in."
    assert c.cmd("STLS") == b"-ERR Already logged in."
    assert c.cmd("QUIT") == b"+OK Logging out."
    inst.wait_log("pop3-login: Login: user=<%s>, method=PLAIN, "
                  "rip=127.0.0.2, lip=127.0.0.1, mpid=" % USER)
    assert ", TLS" in [l for l in inst.log().splitlines()
                       if "Login: user=<%s>" % USER in l][0]


@tap.test
def stls_injection_gets_one_reply():
    c = Raw()
    # STLS and a command in one packet: the NOOP must never be answered
    c.send(b"STLS\r\nNOOP\r\nUSER evil@example.test\r\n")
    assert c.line() == b"+OK Begin TLS negotiation now."
    assert c.buf == b""
    c.sock = CTX.wrap_socket(c.sock)
    # The first reply over TLS is CAPA's, not NOOP's or USER's.
    assert c.cmd("CAPA") == b"+OK Capability list follows"
    c.multi()
    # and no USER survived: PASS has nobody to check
    assert c.cmd("PASS x") == b"-ERR No username given."
    assert c.cmd("QUIT") == b"+OK Logging out."
    inst.wait_log("pop3-login: discarding %d bytes pipelined after STLS"
                  % len(b"NOOP\r\nUSER evil@example.test\r\n"))


@tap.test
def stls_arguments_and_encrypt_level():
    c = Raw()
    assert c.cmd("STLS now") == b"-ERR STLS takes no arguments."
    c.close()
    # pop3d_tls_security_level=encrypt: not even a local client logs in
    # without TLS, but STLS works
    c = Raw(port=ENCRYPT_PORT, src="127.0.0.1")
    assert b"USER" not in c.capa()
    assert c.cmd("USER " + USER).startswith(b"-ERR [AUTH] Plaintext")
    c.stls()
    assert c.cmd("USER " + USER) == b"+OK"
    assert c.cmd("PASS " + PASSWORD) == b"+OK Logged in."
    assert c.cmd("QUIT") == b"+OK Logging out."


@tap.test
def openssl_s_client_starttls_pop3():
    rc, out = s_client("-starttls", "pop3",
                       data=("USER %s\r\nPASS %s\r\nSTAT\r\nQUIT\r\n" %
                             (USER, PASSWORD)).encode())
    assert rc == 0, out
    assert "TLSv1.3" in out, out
    assert "+OK Logged in." in out and "+OK 0 0" in out, out
    inst.wait_log("pop3-login: STLS: TLSv1.3 with cipher TLS_")


@tap.test
def implicit_tls_with_openssl_and_poplib():
    rc, out = s_client(port=POP3S_PORT)
    assert rc == 0, out
    assert "+OK" in out and "+OK Logging out." in out, out
    p = poplib.POP3_SSL("127.0.0.1", POP3S_PORT, context=CTX, timeout=15)
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps, caps
    p.user(USER)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    assert p.stat() == (0, 0)
    p.quit()
    inst.wait_log("pop3-login: TLS: TLSv1.3 with cipher")


@tap.test
def big_message_retrieved_intact_over_tls():
    # Written straight into alice's Maildir (her logins created it): RETR
    # streams it through TLS with partial writes on a non-blocking socket.
    body = b"".join(b"line %06d " % i + b"x" * 70 + b"\r\n"
                    for i in range(8000))
    data = b"From: a@example.org\r\nSubject: big\r\n\r\n" + body
    new = os.path.join(inst.maildir(USER), "new")
    path = os.path.join(new, "1700000000.M1P1.tls")
    with open(path, "wb") as f:
        f.write(data)
    if IS_ROOT:
        pw = pwd.getpwnam(VMAIL_OWNER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    for stls in (False, True):
        if stls:
            p = POP3From("127.0.0.1", inst.pop3_port, timeout=30)
            p.stls(context=CTX)
        else:
            p = poplib.POP3_SSL("127.0.0.1", POP3S_PORT, context=CTX,
                                timeout=30)
        p.user(USER)
        p.pass_(PASSWORD)
        assert p.stat() == (1, len(data))
        resp, lines, octets = p.retr(1)
        assert resp.startswith(b"+OK"), resp
        assert b"\r\n".join(lines) + b"\r\n" == data
        if stls:
            p.dele(1)
        p.quit()
    assert inst.maildir_files(USER) == []


@tap.test
def tls_1_1_refused_on_pop3s():
    # SECLEVEL=0 so that our own client is willing: the server refuses.
    rc, out = s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                       port=POP3S_PORT)
    assert rc != 0, out
    inst.wait_log("pop3-login: Disconnected: TLS handshaking failed (no "
                  "auth attempts")
    assert "unsupported protocol" in inst.log()
    rc, out = s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0",
                       "-starttls", "pop3")
    assert rc != 0, out
    rc, out = s_client("-tls1_2", port=POP3S_PORT)
    assert rc == 0 and "TLSv1.2" in out, out


@tap.test
def poplib_stls_right_and_wrong_password():
    p = POP3From("127.0.0.1", inst.pop3_port, timeout=15)
    assert "STLS" in p.capa()
    p.stls(context=CTX)
    p.user(USER)
    try:
        p.pass_("not " + PASSWORD)
        raise AssertionError("wrong password accepted")
    except poplib.error_proto as e:
        assert e.args[0] == b"-ERR [AUTH] Authentication failed.", e
    p.user(USER)
    assert p.pass_(PASSWORD) == b"+OK Logged in."
    p.quit()


@tap.test
def auth_plain_and_login_over_tls():
    c = Raw(port=POP3S_PORT, implicit=True)
    # PLAIN with an initial response; the authcid's case does not matter
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER.upper(), PASSWORD))) \
        == b"+OK Logged in."
    assert c.cmd("QUIT") == b"+OK Logging out."
    inst.wait_log("pop3-login: Login: user=<%s>, method=PLAIN, "
                  "rip=127.0.0.2, lip=127.0.0.1, mpid=" % USER)
    # PLAIN without one: an empty challenge, then the response
    c = Raw(port=POP3S_PORT, implicit=True)
    assert c.cmd("AUTH PLAIN") == b"+ "
    assert c.cmd(b64("%s\0%s\0%s" % (USER, USER, PASSWORD))) == \
        b"+OK Logged in."
    assert c.cmd("QUIT") == b"+OK Logging out."
    # LOGIN: Username: and Password: challenges
    c = Raw(port=POP3S_PORT, implicit=True)
    assert c.cmd("AUTH LOGIN") == b"+ VXNlcm5hbWU6"
    assert c.cmd(b64(USER)) == b"+ UGFzc3dvcmQ6"
    assert c.cmd(b64(PASSWORD)) == b"+OK Logged in."
    assert c.cmd("QUIT") == b"+OK Logging out."
    inst.wait_log("pop3-login: Login: user=<%s>, method=LOGIN" % USER)
    # cancel, bad base64, a proxy authzid, an unknown mechanism
    c = Raw(port=POP3S_PORT, implicit=True)
    assert c.cmd("AUTH PLAIN") == b"+ "
    assert c.cmd("*") == b"-ERR Authentication aborted by client."
    assert c.cmd("AUTH LOGIN " + b64(USER)) == b"+ UGFzc3dvcmQ6"
    assert c.cmd("*") == b"-ERR Authentication aborted by client."
    assert c.cmd("AUTH PLAIN") == b"+ "
    assert c.cmd("not base64!") == \
        b"-ERR Invalid base64 data in continued response."
    assert c.cmd("AUTH PLAIN Zm9v=") == \
        b"-ERR Invalid base64 data in continued response."
    assert c.cmd("AUTH CRAM-MD5") == \
        b"-ERR Unsupported authentication mechanism."
    assert c.cmd("AUTH PLAIN " + b64("%s\0%s\0%s" % (DOVE, USER, PASSWORD))) \
        == b"-ERR [AUTH] Authentication failed."
    # after all that, a good login still works
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))) == \
        b"+OK Logged in."
    assert c.cmd("QUIT") == b"+OK Logging out."


@tap.test
def curl_pop3s_and_pop3_with_ssl_reqd():
    rc, out = curl("pop3s://127.0.0.1:%d/" % POP3S_PORT,
                   "-u", "%s:%s" % (USER, PASSWORD))
    assert rc == 0, out
    rc, out = curl("pop3://127.0.0.1:%d/" % inst.pop3_port, "--ssl-reqd",
                   "-u", "%s:%s" % (USER, PASSWORD))
    assert rc == 0, out
    rc, out = curl("pop3://127.0.0.1:%d/" % inst.pop3_port, "--ssl-reqd",
                   "-u", "%s:wrong" % USER)
    assert rc == 67, (rc, out)              # CURLE_LOGIN_DENIED
    # without TLS curl finds no way to log in
    rc, out = curl("pop3://127.0.0.1:%d/" % inst.pop3_port,
                   "-u", "%s:%s" % (USER, PASSWORD))
    assert rc != 0, out


@tap.test
def user_add_then_login_and_passwd_change():
    who = "carol@example.test"

    def attempt(password, stls=False):
        """"ok" or "wrong" ([AUTH])."""
        if stls:
            p = POP3From("127.0.0.1", inst.pop3_port, timeout=15)
            p.stls(context=CTX)
        else:
            p = poplib.POP3_SSL("127.0.0.1", POP3S_PORT, context=CTX,
                                timeout=15)
        p.user(who)
        try:
            assert p.pass_(password) == b"+OK Logged in."
            p.quit()
            return "ok"
        except poplib.error_proto as e:
            p.close()
            assert e.args[0] == b"-ERR [AUTH] Authentication failed.", e
            return "wrong"
    # A session accepted before the change decides nothing on old data...
    c = Raw(port=POP3S_PORT, implicit=True)
    inst.add_user(who, "carol one")
    assert c.cmd("USER " + who) == b"+OK"
    assert c.cmd("PASS carol one") == (b"-ERR [SYS/TEMP] The account "
                                       b"database has changed; please "
                                       b"reconnect.")
    assert c.eof()
    inst.wait_log("pop3-login: Disconnected: Account database changed")
    # ...and a connection after it never meets a process with the old
    # maps: idle ones check before accepting (pre-accept) and make way.
    assert attempt("carol one", stls=True) == "ok"
    assert attempt("carol one") == "ok"
    inst.cli("user", "passwd", who, input_text="carol two\n")
    assert attempt("carol one") == "wrong"
    assert attempt("carol two") == "ok"
    assert attempt("carol two", stls=True) == "ok"
    assert attempt("carol one", stls=True) == "wrong"


@tap.test
def dovecot_passwd_file_as_is():
    for who in (DOVE, CRYPT):
        p = poplib.POP3_SSL("127.0.0.1", POP3S_PORT, context=CTX, timeout=15)
        p.user(who)
        assert p.pass_(DOVE_PASSWORD) == b"+OK Logged in.", who
        p.quit()
    c = Raw(port=POP3S_PORT, implicit=True)
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (DOVE, "x" + DOVE_PASSWORD))
                 ) == b"-ERR [AUTH] Authentication failed."
    c.close()


@tap.test
def failure_limit_disconnects_and_is_logged():
    c = Raw(port=POP3S_PORT, implicit=True)
    for i in range(LIMIT):
        assert c.cmd("USER " + USER) == b"+OK"
        assert c.cmd("PASS guess%d" % i) == \
            b"-ERR [AUTH] Authentication failed."
    assert c.eof()
    inst.wait_log("pop3-login: Disconnected (auth failed, %d attempts in "
                  % LIMIT)
    line = [l for l in inst.log().splitlines()
            if "(auth failed, %d attempts" % LIMIT in l][-1]
    assert line.endswith("user=<%s>, method=PLAIN, rip=127.0.0.2, "
                         "lip=127.0.0.1, TLS" % USER), line


@tap.test
def per_ip_failure_limit_across_sessions():
    src = "127.0.0.3"           # this test's own address
    c = Raw(port=IPLIMIT_PORT, src=src, implicit=True)
    for i in range(LIMIT):      # the per-session limit ends this one
        assert c.cmd("USER " + USER) == b"+OK"
        assert c.cmd("PASS guess%d" % i) == \
            b"-ERR [AUTH] Authentication failed."
    assert c.eof()
    # the next failure from the address reaches IP_LIMIT: disconnected
    c = Raw(port=IPLIMIT_PORT, src=src, implicit=True)
    assert c.cmd("USER " + USER) == b"+OK"
    assert c.cmd("PASS guess") == b"-ERR [AUTH] Authentication failed."
    assert c.eof()
    inst.wait_log("pop3-login: Disconnected: Too many failed logins from "
                  "this address (auth failed, 1 attempts in ")
    # now not even the right password is checked, in any session...
    c = Raw(port=IPLIMIT_PORT, src=src, implicit=True)
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))) == \
        b"-ERR [AUTH] Too many failed logins from your address; try " \
        b"again later."
    assert c.eof()
    # ...while another address logs in (the table is shared by every
    # pop3d service; 127.0.0.4 has failed nowhere)
    c = Raw(port=IPLIMIT_PORT, src="127.0.0.4", implicit=True)
    assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))) == \
        b"+OK Logged in."
    assert c.cmd("QUIT") == b"+OK Logging out."


@tap.test
def fail2ban_dovecot_filter_matches_our_log():
    exe = shutil.which("fail2ban-regex")
    if exe is None:
        raise AssertionError("fail2ban-regex is not installed")
    filt = "/etc/fail2ban/filter.d/dovecot.conf"
    # Our syslog_name is postilion; the filter takes a program override.
    proc = subprocess.run(
        [exe, "--print-all-matched", inst.maillog,
         filt + "[_daemon=postilion(-\\w+)?/pop3d]"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    matched = [l for l in proc.stdout.splitlines()
               if "pop3-login: Disconnected" in l]
    assert any("auth failed, %d attempts" % LIMIT in l for l in matched), \
        proc.stdout
    assert any("tried to use disallowed plaintext auth" in l
               for l in matched), proc.stdout
    assert "127.0.0.2" in proc.stdout, proc.stdout
    assert any("Too many failed logins" in l and "127.0.0.3" in l
               for l in matched), proc.stdout
    # a good login is not a failure
    assert not [l for l in matched if "no auth attempts" in l], proc.stdout


@tap.test
def key_readable_by_others_stops_pop3d():
    bad_key = os.path.join(inst.conf, "key-0644.pem")
    shutil.copy(KEY, bad_key)
    os.chmod(bad_key, 0o644)
    for extra in ([], ["-o", "pop3d_tls_wrappermode=yes"]):
        proc = subprocess.run(
            [os.path.join(inst.libexec, "pop3d"), "-S", "-c", inst.conf,
             "-n", "pop3", "-o", "pop3d_tls_key_file=" + bad_key] + extra,
            capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL)
        assert proc.returncode != 0, proc
    inst.wait_log("fatal: pop3d: TLS: private key file %s is accessible by "
                  "group or others (mode 0644)" % bad_key)


@tap.test
def log_is_clean():
    bad = [l for l in inst.log().splitlines() if ("fatal:" in l and
           "key-0644.pem" not in l) or "panic" in l or
           "AddressSanitizer" in l or "runtime error" in l]
    assert not bad, bad


if __name__ == "__main__":
    try:
        rc = tap.run()
    finally:
        inst.destroy()
    sys.exit(rc)
