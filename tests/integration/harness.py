"""harness: start a real Postilion instance in a temporary directory on
loopback ports and report test results as TAP. Every process the instance
starts is found by PID and must be gone after stop()."""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

TOP_BUILDDIR = os.environ.get("top_builddir") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
DAEMONS = ["master", "smtpd", "qmgr", "deliver", "pop3d", "imapd"]
IS_ROOT = os.geteuid() == 0
MAIL_OWNER = "postilion"
VMAIL_OWNER = "vmail"


def ensure_system_users():
    """As root, create the two system users an instance runs as."""
    if not IS_ROOT:
        return
    for user in (MAIL_OWNER, VMAIL_OWNER):
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home",
                            "--home-dir", "/nonexistent", "--shell",
                            "/usr/sbin/nologin", user], check=True)


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


_held_ports = []


def closed_port(host="127.0.0.1"):
    """A port that refuses connections for as long as this test runs: a
    socket bound there and never listening holds it, so no other test
    running at the same time can take it (free_port's port is only free
    at the instant it is chosen)."""
    s = socket.socket()
    s.bind((host, 0))
    _held_ports.append(s)
    return s.getsockname()[1]


def client_name(addr):
    """The name smtpd logs for a client at IPv4 addr: the PTR name when it
    resolves back to addr (from /etc/hosts here; a root master copies the
    resolver's files into the chroot), else "unknown"."""
    try:
        name = socket.gethostbyaddr(addr)[0]
        back = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return "unknown"
    return name if any(a[4][0] == addr for a in back) else "unknown"


def wait_for(predicate, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))


def openssl_mapped(pid):
    """The OpenSSL libraries process pid has mapped (paths, sorted)."""
    with open("/proc/%d/maps" % pid) as f:
        return sorted({line.split()[-1] for line in f
                       if "/libssl." in line or "/libcrypto." in line})


def server_pid(sock, pids):
    """Which of pids holds the server end of the TCP connection sock (an
    IPv4 loopback client socket), or None: the server end is the socket
    whose local address is sock's peer and whose remote is sock itself."""
    def hexaddr(addr):
        a = bytes(int(x) for x in addr[0].split("."))[::-1].hex().upper()
        return "%s:%04X" % (a, addr[1])
    want = (hexaddr(sock.getpeername()), hexaddr(sock.getsockname()))
    inode = None
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            field = line.split()
            if (field[1], field[2]) == want:
                inode = "socket:[%s]" % field[9]
    if inode is None:
        return None
    for pid in pids:
        fds = "/proc/%d/fd" % pid
        try:
            if any(os.readlink(os.path.join(fds, fd)) == inode
                   for fd in os.listdir(fds)):
                return pid
        except OSError:
            continue
    return None


def proc_exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


class Instance:
    """A private Postilion instance: config, queue, mailboxes, log."""

    def __init__(self, main_extra="", master_extra="", domains="example.test"):
        ensure_system_users()
        self.dir = tempfile.mkdtemp(prefix="postilion-test-")
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.mail = os.path.join(self.dir, "mail")
        self.libexec = os.path.join(self.dir, "libexec")
        self.maillog = os.path.join(self.dir, "maillog")
        os.makedirs(self.conf)
        os.makedirs(self.libexec)
        os.chmod(self.libexec, 0o755)
        for d in DAEMONS:
            os.symlink(os.path.join(TOP_BUILDDIR, d, d),
                       os.path.join(self.libexec, d))
        self.postilion_bin = os.path.join(TOP_BUILDDIR, "cli", "postilion")
        self.smtp_port = free_port()
        self.pop3_port = free_port()
        self.imap_port = free_port()
        self.master_pid = None
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""# test instance
queue_directory = {self.queue}
virtual_mailbox_base = {self.mail}
daemon_directory = {self.libexec}
maillog_file = {self.maillog}
myhostname = mx.example.test
mydomain = example.test
mynetworks = 127.0.0.2/32
virtual_mailbox_domains = {domains}
virtual_mailbox_maps = hash:{self.conf}/vmailbox
virtual_password_maps = hash:{self.conf}/passwd
mail_owner = {MAIL_OWNER}
virtual_mailbox_owner = {VMAIL_OWNER}
service_throttle_time = 2s
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
{main_extra}
""")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(f"""# service type private unpriv chroot wakeup maxproc command
127.0.0.1:{self.smtp_port} inet n - y - 20 smtpd
qmgr      unix  n  -  y  300  1  qmgr
local     unix  -  n  y  -    -  deliver -t local
smtp      unix  -  -  y  -    -  deliver -t smtp
127.0.0.1:{self.pop3_port} inet n - y - 20 pop3d
127.0.0.1:{self.imap_port} inet n - y - 20 imapd
{master_extra}
""")
        for name in ("vmailbox", "passwd"):
            open(os.path.join(self.conf, name), "w").close()
            self.cli("map", "build", "hash:" + os.path.join(self.conf, name))

    def make_cert(self, cn="mx.example.test"):
        """A self-signed EC certificate and key (0600) in the config
        directory; returns (cert, key) paths for smtpd_tls_cert_file and
        smtpd_tls_key_file."""
        cert = os.path.join(self.conf, "cert.pem")
        key = os.path.join(self.conf, "key.pem")
        if not os.path.exists(cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                            "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-days", "2", "-subj", "/CN=" + cn,
                            "-keyout", key, "-out", cert],
                           check=True, capture_output=True)
            os.chmod(key, 0o600)
        return cert, key

    # --- commands -------------------------------------------------------
    def cli(self, *args, input_text=None, check=True):
        proc = subprocess.run([self.postilion_bin, "-c", self.conf] + list(args),
                              input=input_text, capture_output=True, text=True,
                              timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError("postilion %s failed (%d): %s%s" % (
                " ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc

    def add_user(self, address, password):
        self.cli("user", "add", address, input_text=password + "\n")

    def start(self):
        self.cli("start")
        pidfile = os.path.join(self.queue, "pid", "master.pid")
        wait_for(lambda: os.path.exists(pidfile), what="master.pid")
        with open(pidfile) as f:
            self.master_pid = int(f.read().split()[0])
        wait_for(lambda: self.port_open(self.smtp_port), what="smtp port")
        wait_for(lambda: self.pids_of("qmgr"), what="qmgr running")

    def stop(self):
        if self.master_pid is None:
            return
        self.cli("stop", check=False)
        self.master_pid = None

    def destroy(self):
        """Stop, and kill by PID anything of ours still alive."""
        try:
            self.stop()
        finally:
            for pid in self.all_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            subprocess.run(["rm", "-rf", self.dir])

    # --- observation ----------------------------------------------------
    def port_open(self, port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def all_pids(self):
        """PIDs of every process running one of this instance's daemons."""
        pids = []
        prefix = os.path.realpath(TOP_BUILDDIR)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if self.conf.encode() in argv and pid != os.getpid():
                exe = proc_exe(pid) or ""
                if exe.startswith(prefix) or argv[0].startswith(self.libexec.encode()):
                    pids.append(pid)
        return pids

    def pids_of(self, daemon):
        return [p for p in self.all_pids()
                if os.path.basename(proc_exe(p) or "") == daemon]

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout=20.0, since=0):
        """Wait for needle in the maillog after byte offset since, reading
        only what was appended since the last look (a big log is not
        re-read every poll)."""
        want = needle.encode()
        seen = {"pos": since, "tail": b""}

        def found():
            try:
                with open(self.maillog, "rb") as f:
                    f.seek(seen["pos"])
                    data = f.read()
            except FileNotFoundError:
                return False
            seen["pos"] += len(data)
            text = seen["tail"] + data
            if want in text:
                return True
            seen["tail"] = text[-len(want):]
            return False
        return wait_for(found, timeout=timeout, interval=0.1,
                        what="log line containing %r" % needle)

    def bad_log_lines(self, *allowed):
        """Log lines telling of a crash, a fatal error or a warning, less
        those warnings containing one of the allowed strings."""
        return [l for l in self.log().splitlines()
                if "killed by signal" in l or "exit status" in l or
                "fatal:" in l or ("warning:" in l and
                                  not any(a in l for a in allowed))]

    def fail2ban_regex(self, filter_spec):
        """Run fail2ban's own fail2ban-regex over the maillog with a
        filter such as 'postfix[mode=auth, _daemon="..."]' (a name in
        /etc/fail2ban/filter.d); returns (matched line count, output)."""
        exe = shutil.which("fail2ban-regex")
        if exe is None:
            raise AssertionError("fail2ban-regex is not installed "
                                 "(Debian package fail2ban)")
        proc = subprocess.run(
            [exe, self.maillog, "/etc/fail2ban/filter.d/" + filter_spec],
            capture_output=True, text=True, timeout=120)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        m = re.search(r"^Lines: \d+ lines, \d+ ignored, (\d+) matched", out,
                      re.M)
        assert m, out
        return int(m.group(1)), out

    def maildir(self, address):
        local, domain = address.split("@")
        return os.path.join(self.mail, domain, local)

    def maildir_files(self, address):
        md = self.maildir(address)
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(md, sub)
            if os.path.isdir(d):
                out += [os.path.join(d, n) for n in sorted(os.listdir(d))]
        return out

    def queue_files(self, *subdirs):
        subdirs = subdirs or ("incoming", "active", "deferred")
        out = []
        for sub in subdirs:
            d = os.path.join(self.queue, sub)
            if os.path.isdir(d):
                out += [os.path.join(d, n) for n in os.listdir(d)]
        return out


class LineClient:
    """A raw line-protocol client (SMTP, POP3, IMAP tests): connects from
    source, optionally wraps the socket in TLS at once (context), and
    reads CRLF lines; starttls(context) wraps it later."""

    def __init__(self, port, source="127.0.0.1", context=None, timeout=15):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0))
        if context is not None:
            self.sock = context.wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        """The next line without its CRLF, as text."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; have %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def starttls(self, context):
        """Wrap the socket; nothing may be buffered from the clear."""
        assert self.buf == b"", self.buf
        self.sock = context.wrap_socket(self.sock)

    def close(self):
        self.sock.close()


class TAP:
    """Run test functions and print TAP for automake's tap-driver."""

    def __init__(self, instance=None):
        self.tests = []
        self.instance = instance

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self):
        print("1..%d" % len(self.tests), flush=True)
        failed = 0
        for i, fn in enumerate(self.tests, 1):
            name = fn.__name__
            start = time.time()
            try:
                result = fn()
                if result == "skip":
                    print("ok %d - %s # SKIP" % (i, name), flush=True)
                    continue
                print("ok %d - %s (%.1fs)" % (i, name, time.time() - start),
                      flush=True)
            except Exception:
                failed += 1
                print("not ok %d - %s" % (i, name), flush=True)
                for line in traceback.format_exc().splitlines():
                    print("# " + line, flush=True)
                if self.instance is not None:
                    bad = [l for l in self.instance.log().splitlines()
                           if "warning:" in l or "fatal:" in l]
                    for line in bad[-20:]:
                        print("# log: " + line, flush=True)
        return 1 if failed else 0
