"""test_mail_flow: mail in over SMTP, through the queue, into a Maildir and
out over POP3, on a real instance with real clients (smtplib, poplib, curl)."""

import os
import imaplib
import poplib
import smtplib
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, Instance, MAIL_OWNER, TAP, VMAIL_OWNER, client_name, openssl_mapped, wait_for  # noqa: E402

# The name smtpd gives the tests\' client (see harness.client_name).
CLIENT = "%s[127.0.0.1]" % client_name("127.0.0.1")

import pwd  # noqa: E402

inst = Instance()
tap = TAP(inst)
PASSWORD = "s3cret-Pass"
USER = "demo@example.test"


def message(i, extra=""):
    return ("From: sender@example.org\r\n"
            "To: %s\r\n"
            "Subject: test message %d\r\n"
            "Message-ID: <msg%d@example.org>\r\n"
            "\r\n"
            "Body of message %d.\r\n"
            ".leading dot line\r\n"
            "..two dots\r\n"
            "%s"
            "last line\r\n" % (USER, i, i, i, extra))


def expected_body(i, extra=""):
    """What the Maildir must hold after the headers we add: LF line ends."""
    return message(i, extra).replace("\r\n", "\n").encode()


def send(i, rcpt=USER, extra=""):
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.example.org")
        s.sendmail("sender@example.org", [rcpt], message(i, extra))


def maildir_messages(address=USER):
    out = {}
    for path in inst.maildir_files(address):
        with open(path, "rb") as f:
            data = f.read()
        for line in data.split(b"\n"):
            if line.startswith(b"Subject: test message "):
                out[int(line.split()[-1])] = data
    return out


@tap.test
def setup_instance():
    inst.add_user(USER, PASSWORD)
    inst.add_user("other@example.test", "other-pass")
    inst.start()
    inst.wait_log("daemon started")


@tap.test
def two_hundred_messages_from_ten_clients_arrive_byte_exact():
    errors = []

    def client(n):
        for i in range(n * 20, n * 20 + 20):
            try:
                send(i)
            except Exception as e:  # collected, asserted below
                errors.append("%d: %r" % (i, e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    wait_for(lambda: len(maildir_messages()) == 200, timeout=60,
             what="200 messages in the Maildir (have %d)" % len(maildir_messages()))
    for i, data in maildir_messages().items():
        header, _, rest = data.partition(b"\nReceived: ")
        assert header.startswith(b"Return-Path: <sender@example.org>\n"), header
        assert b"Delivered-To: " + USER.encode() in header, header
        assert b"by mx.example.test" in rest.split(b"\n\n")[0], rest[:300]
        body = rest[rest.index(b"\nFrom: sender@example.org\n") + 1:]
        assert body == expected_body(i), (i, body, expected_body(i))
    for path in inst.maildir_files(USER):
        st = os.stat(path)
        assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
        if IS_ROOT:
            assert st.st_uid == pwd.getpwnam(VMAIL_OWNER).pw_uid
    wait_for(lambda: not inst.queue_files(), what="empty queue")


@tap.test
def log_shows_the_life_of_a_message():
    log = inst.log()
    qid = None
    for line in log.splitlines():
        if "message-id=<msg7@example.org>" in line:
            qid = line.split("]: ")[1].split(":")[0]
    assert qid, "no message-id line for msg7"
    assert len(qid) >= 10 and all(c in "0123456789ABCDEF" for c in qid), qid
    needles = ["/smtpd[", "connect from ", "%s: client=" % qid,
               "%s: message-id=<msg7@example.org>" % qid,
               "%s: from=<sender@example.org>, size=" % qid, "nrcpt=1 (queue active)",
               "%s: to=<%s>, relay=local, delay=" % (qid, USER),
               "dsn=2.0.0, status=sent (delivered to maildir)",
               "%s: removed" % qid,
               "disconnect from "]
    for n in needles:
        assert n in log, "log lacks %r" % n
    assert " ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5" in log
    assert "wake up qmgr" not in log, "smtpd could not wake qmgr"
    assert "fatal:" not in log, [l for l in log.splitlines() if "fatal:" in l]


@tap.test
def pop3_lists_retrieves_and_deletes_on_quit():
    stored = maildir_messages()
    p = poplib.POP3("127.0.0.1", inst.pop3_port, timeout=30)
    p.user(USER)
    p.pass_(PASSWORD)
    count, size = p.stat()
    assert count == 200, count
    listing = p.list()[1]
    assert len(listing) == 200
    uidls = p.uidl()[1]
    assert len(set(u.split()[1] for u in uidls)) == 200, "UIDLs not unique"
    # poplib undoes dot-stuffing; lines come back without CRLF.
    lines = p.retr(1)[1]
    text = b"\n".join(lines) + b"\n"
    n = int([l for l in lines if l.startswith(b"Subject: test message ")][0].split()[-1])
    assert text == stored[n], (text[:200], stored[n][:200])
    octets = int(listing[0].split()[1])
    assert octets == len(stored[n]) + stored[n].count(b"\n"), "size must count CRLF"
    p.dele(1)
    p.dele(2)
    p.rset()
    p.dele(3)
    p.quit()
    # pop3d moves what it showed from new/ to cur/ after QUIT: let it settle.
    wait_for(lambda: len(inst.maildir_files(USER)) == 199 and
             not os.listdir(os.path.join(inst.maildir(USER), "new")),
             what="199 messages, all in cur/")
    # a dropped connection deletes nothing
    p = poplib.POP3("127.0.0.1", inst.pop3_port, timeout=30)
    p.user(USER)
    p.pass_(PASSWORD)
    assert p.stat()[0] == 199
    p.dele(1)
    p.sock.close()
    time.sleep(0.5)
    assert len(inst.maildir_files(USER)) == 199


@tap.test
def pop3_wrong_password_is_refused():
    p = poplib.POP3("127.0.0.1", inst.pop3_port, timeout=30)
    p.user(USER)
    try:
        p.pass_("wrong")
        raise AssertionError("wrong password accepted")
    except poplib.error_proto as e:
        assert str(e).startswith("b'-ERR"), e
    p.sock.close()


@tap.test
def curl_reads_over_pop3():
    out = subprocess.run(["curl", "-s", "--max-time", "20",
                          "pop3://127.0.0.1:%d/1" % inst.pop3_port,
                          "-u", "%s:%s" % (USER, PASSWORD)],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out
    assert b"Subject: test message " in out.stdout, out.stdout[:300]
    assert b"Delivered-To: " + USER.encode() in out.stdout
    out = subprocess.run(["curl", "-s", "--max-time", "20",
                          "pop3://127.0.0.1:%d/" % inst.pop3_port,
                          "-u", "%s:%s" % (USER, PASSWORD)],
                         capture_output=True, timeout=30)
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 199, out.stdout[:200]


@tap.test
def unknown_user_550_and_foreign_domain_554():
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.example.org")
        s.mail("sender@example.org")
        code, msg = s.rcpt("nobody@example.test")
        assert code == 550 and b"5.1.1" in msg, (code, msg)
        code, msg = s.rcpt("someone@example.net")
        assert code == 554 and b"5.7.1" in msg and b"Relay access denied" in msg, (code, msg)
        code, msg = s.rcpt(USER)
        assert code == 250, (code, msg)
        s.rset()
    inst.wait_log("NOQUEUE: reject: RCPT from " + CLIENT + ": 554 5.7.1 "
                  "<someone@example.net>: Relay access denied; "
                  "from=<sender@example.org> to=<someone@example.net> "
                  "proto=ESMTP helo=<client.example.org>")
    inst.wait_log("rcpt=1/3")


@tap.test
def mynetworks_client_may_relay():
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=30,
                                 source_address=("127.0.0.2", 0))
    f = s.makefile("rb")
    assert f.readline().startswith(b"220 ")
    for cmd, code in ((b"EHLO relay.example.org", b"250 "),
                      (b"MAIL FROM:<a@example.org>", b"250 "),
                      (b"RCPT TO:<b@example.net>", b"250 ")):
        s.sendall(cmd + b"\r\n")
        line = f.readline()
        while line[3:4] == b"-":
            line = f.readline()
        assert line.startswith(code), (cmd, line)
    s.sendall(b"QUIT\r\n")
    s.close()


@tap.test
def only_crlf_dot_crlf_ends_data():
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=30)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"HELO c.example.org\r\nMAIL FROM:<x@example.org>\r\n"
              b"RCPT TO:<other@example.test>\r\nDATA\r\n")
    replies = [f.readline() for _ in range(4)]
    assert replies[3].startswith(b"354"), replies
    s.sendall(b"Subject: smuggle\r\n\r\nline one\n.\nMAIL FROM:<evil@example.org>\n"
              b"still body\r\n.\r\n")
    reply = f.readline()
    assert reply.startswith(b"250 2.0.0 Ok: queued as "), reply
    s.sendall(b"QUIT\r\n")
    s.close()
    wait_for(lambda: inst.maildir_files("other@example.test"), what="delivery")
    files = inst.maildir_files("other@example.test")
    assert len(files) == 1, files
    with open(files[0], "rb") as fh:
        data = fh.read()
    assert b"MAIL FROM:<evil@example.org>" in data and data.endswith(b"still body\n"), data


@tap.test
def killed_smtpd_child_is_replaced():
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=30)
    s.makefile("rb").readline()
    s.sendall(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\n")
    time.sleep(0.3)
    busy = inst.pids_of("smtpd")
    assert busy, "no smtpd process"
    for pid in busy:
        os.kill(pid, signal.SIGKILL)
    s.close()
    send(1000)
    wait_for(lambda: 1000 in maildir_messages(), what="message after smtpd kill")


@tap.test
def killed_qmgr_loses_nothing():
    before = len(maildir_messages())
    for round_ in range(3):
        for i in range(10):
            send(2000 + round_ * 10 + i)
        for pid in inst.pids_of("qmgr"):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    wait_for(lambda: inst.pids_of("qmgr"), what="qmgr respawned")
    wait_for(lambda: all(n in maildir_messages() for n in range(2000, 2030)),
             timeout=60, what="all 30 messages after qmgr kills")
    assert len(maildir_messages()) >= before + 30


@tap.test
def truncated_queue_file_is_never_delivered():
    # A file without its END record is not a message.
    path = os.path.join(inst.queue, "incoming", "ABCDE12345F")
    rec = lambda t, d: t + len(d).to_bytes(4, "big") + d  # noqa: E731
    data = (rec(b"T", b"1700000000 1") + rec(b"S", b"a@example.org") +
            rec(b"R", USER.encode()) + rec(b"C", b"Subject: truncated\n\nx\n"))
    with open(path, "wb") as f:
        f.write(data)
    if IS_ROOT:
        pw = pwd.getpwnam(MAIL_OWNER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, 0o600)
    send(3000)  # wakes qmgr
    wait_for(lambda: 3000 in maildir_messages(), what="message after corrupt file")
    wait_for(lambda: os.path.exists(os.path.join(inst.queue, "corrupt", "ABCDE12345F")),
             what="truncated file moved to corrupt/")
    assert not any(b"Subject: truncated" in d for d in maildir_messages().values())
    for path in inst.maildir_files(USER):
        with open(path, "rb") as f:
            assert b"Subject: truncated" not in f.read()


@tap.test
def chroot_gets_the_resolver_files():
    if not IS_ROOT:
        return "skip"
    etc = os.path.join(inst.queue, "etc")
    st = os.stat(etc)
    assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o755), (st.st_uid, oct(st.st_mode))
    for name in ("hosts", "resolv.conf", "nsswitch.conf"):
        if not os.path.exists("/etc/" + name):
            continue
        with open("/etc/" + name, "rb") as a, open(os.path.join(etc, name), "rb") as b:
            assert a.read() == b.read(), name
        st = os.stat(os.path.join(etc, name))
        assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o644), (name, oct(st.st_mode))
    # a stale copy is replaced at reload
    with open(os.path.join(etc, "hosts"), "wb") as f:
        f.write(b"# stale\n")
    inst.cli("reload")
    with open("/etc/hosts", "rb") as a:
        want = a.read()
    wait_for(lambda: open(os.path.join(etc, "hosts"), "rb").read() == want,
             what="hosts copied again at reload")
    # the chrooted smtpd finds its client's name in the copy of /etc/hosts
    if CLIENT.startswith("unknown"):
        return
    since = os.path.getsize(inst.maillog)
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=30)
    s.recv(100)
    s.sendall(b"QUIT\r\n")
    s.recv(100)
    s.close()
    inst.wait_log("connect from %s" % CLIENT, since=since)


@tap.test
def privileges_are_separated():
    if not IS_ROOT:
        return "skip"
    owner = pwd.getpwnam(MAIL_OWNER).pw_uid
    vmail = pwd.getpwnam(VMAIL_OWNER).pw_uid

    def uid_of(pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return [int(x) for x in line.split()[1:]]

    # hold an SMTP and a POP3 session open so those daemons exist
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=30)
    s.recv(100)
    p = poplib.POP3("127.0.0.1", inst.pop3_port, timeout=30)

    def dropped(name, ok):
        """The pids of name when every one passes ok(pid), else None: one
        just started by master is root until its privilege drop (after the
        reload of the test before, new ones are still starting)."""
        pids = inst.pids_of(name)
        try:
            if pids and all(ok(pid) for pid in pids):
                return pids
        except OSError:   # exited meanwhile: look again
            pass
        return None

    def in_queue_as(uid):
        return lambda pid: (uid_of(pid) == [uid] * 4 and
                            os.readlink("/proc/%d/root" % pid) == os.path.realpath(inst.queue))

    for name in ("smtpd", "qmgr"):
        wait_for(lambda: dropped(name, in_queue_as(owner)),
                 what="%s as uid %d chrooted in %s" % (name, owner, inst.queue))
    wait_for(lambda: dropped("pop3d", lambda pid: 0 not in (uid_of(pid) or [0])),
             what="pop3d without root")
    # deliver runs as the virtual owner, chrooted into the mailbox base
    send(4000)
    seen = wait_for(lambda: [p_ for p_ in inst.pids_of("deliver")
                             if uid_of(p_) and uid_of(p_)[0] == vmail],
                    what="deliver as %s" % VMAIL_OWNER)
    assert os.readlink("/proc/%d/root" % seen[0]) == os.path.realpath(inst.mail)
    assert uid_of(inst.master_pid)[0] == 0
    s.close()
    p.sock.close()


@tap.test
def daemons_without_tls_never_load_openssl():
    """No certificate here: smtpd, pop3d, imapd and the local agent run
    without libssl and libcrypto (lib/tls/tls_lazy.c loads them on first
    use), which saves each process start about 1.3 ms of CPU."""
    s = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=30)
    s.recv(100)
    p = poplib.POP3("127.0.0.1", inst.pop3_port, timeout=30)
    m = imaplib.IMAP4("127.0.0.1", inst.imap_port, timeout=30)
    try:
        send(4100)
        wait_for(lambda: 4100 in maildir_messages(), what="message 4100")

        def local_agents():
            out = []
            for pid in inst.pids_of("deliver"):
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if b"local" in f.read().split(b"\0"):
                        out.append(pid)
            return out

        for name, pids in (("smtpd", inst.pids_of("smtpd")),
                           ("pop3d", inst.pids_of("pop3d")),
                           ("imapd", inst.pids_of("imapd")),
                           ("deliver -t local", local_agents())):
            assert pids, name
            for pid in pids:
                assert openssl_mapped(pid) == [], (name, pid, openssl_mapped(pid))
    finally:
        s.close()
        p.sock.close()
        m.shutdown()


@tap.test
def stop_leaves_no_process_behind():
    pids = inst.all_pids()
    assert inst.master_pid in pids and len(pids) >= 3, pids
    inst.stop()
    wait_for(lambda: not inst.all_pids(), timeout=30, what="all processes gone")
    for pid in pids:
        assert not os.path.exists("/proc/%d" % pid) or \
            open("/proc/%d/stat" % pid).read().split()[2] == "Z", pid
    assert not os.path.exists(os.path.join(inst.queue, "pid", "master.pid"))


if __name__ == "__main__":
    try:
        rc = tap.run()
    finally:
        inst.destroy()
    sys.exit(rc)
