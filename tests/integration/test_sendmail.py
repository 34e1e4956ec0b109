"""test_sendmail: local submission with sendmail(1): -t with the daemons
stopped and then started, the LSB options, added Date:/Message-ID:, Bcc:
removal, -bs, -bp, and an unprivileged user writing through setgid
postdrop (as root only)."""

import grp
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, Instance, TAP, wait_for  # noqa: E402

inst = Instance()
tap = TAP(inst)
USER = "demo@example.test"
OTHER = "other@example.test"
SENDMAIL = os.path.join(inst.dir, "bin", "sendmail")


def sendmail(args, text, check=True, env_extra=None, user=None):
    env = dict(os.environ, POSTILION_CONFIG_DIR=inst.conf)
    env.update(env_extra or {})
    cmd = [SENDMAIL] + args
    if user is not None:
        cmd = ["setpriv", "--reuid=" + user, "--regid=nogroup",
               "--clear-groups", "--"] + cmd
    proc = subprocess.run(cmd, input=text.encode(), capture_output=True,
                          env=env, timeout=30)
    if check and proc.returncode != 0:
        raise AssertionError("sendmail %s: %d %r" % (args, proc.returncode,
                                                     proc.stderr))
    return proc


def maildrop():
    d = os.path.join(inst.queue, "maildrop")
    return [os.path.join(d, n) for n in os.listdir(d) if not n.startswith(".")]


def with_subject(subject, address=USER):
    out = []
    for path in inst.maildir_files(address):
        with open(path, "rb") as f:
            data = f.read()
        if ("Subject: %s\n" % subject).encode() in data:
            out.append(data)
    return out


@tap.test
def setup_instance():
    os.makedirs(os.path.dirname(SENDMAIL))
    os.chmod(os.path.dirname(SENDMAIL), 0o755)
    shutil.copy(inst.postilion_bin, SENDMAIL)
    os.chmod(SENDMAIL, 0o755)
    inst.add_user(USER, "pw1")
    inst.add_user(OTHER, "pw2")
    inst.start()
    inst.stop()
    wait_for(lambda: not inst.all_pids(), what="instance stopped")


@tap.test
def sendmail_t_while_stopped_then_delivered_when_started():
    sendmail(["-t", "-i", "-FCronDaemon", "-f", "cron@example.test"],
             "To: Demo <%s>\nBcc: %s\nSubject: while stopped\n\n"
             ".\nbody after a lone dot\n" % (USER, OTHER))
    files = maildrop()
    assert len(files) == 1, files
    with open(files[0], "rb") as f:
        data = f.read()
    assert b"protocol=local" in data and b"uid=" in data, data[:200]
    assert b"Bcc:" not in data
    inst.start()
    for addr in (USER, OTHER):
        got = wait_for(lambda: with_subject("while stopped", addr),
                       what="delivery to " + addr)
        msg = got[0]
        header = msg.split(b"\n\n")[0]
        assert b"\nDate: " in header, header
        assert b"\nMessage-Id: <" in header, header
        assert b"From: CronDaemon <cron@example.test>" in header, header
        assert b"Bcc" not in header, header
        assert b"\n.\nbody after a lone dot\n" in msg, msg
    assert not maildrop()


@tap.test
def recipients_on_the_command_line_and_dot_ends_without_i():
    sendmail(["-oi", "-oem", "-B", "8BITMIME", "-N", "failure,delay", USER],
             "Subject: argv rcpt\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
             "Message-ID: <keep@example.test>\n\nhello\n")
    got = wait_for(lambda: with_subject("argv rcpt"), what="argv rcpt")
    assert b"Message-ID: <keep@example.test>" in got[0]
    assert got[0].count(b"Message-I") == 1, got[0]
    assert got[0].count(b"\nDate: ") == 1
    sendmail([OTHER], "Subject: dot ends\n\nfirst\n.\nnot part of it\n")
    got = wait_for(lambda: with_subject("dot ends", OTHER), what="dot ends")
    assert b"not part of it" not in got[0], got[0]


@tap.test
def bad_usage_fails_cleanly():
    proc = sendmail(["-t"], "Subject: nobody\n\nx\n", check=False)
    assert proc.returncode == 64, proc
    assert b"no recipient" in proc.stderr
    proc = sendmail(["-bz"], "", check=False)
    assert proc.returncode == 64, proc
    proc = sendmail(["bad address@@x"], "x\n", check=False)
    assert proc.returncode == 64, proc


@tap.test
def bs_speaks_smtp_on_stdin():
    proc = sendmail(["-bs"], "EHLO localhost\r\nMAIL FROM:<root>\r\n"
                    "RCPT TO:<%s>\r\nDATA\r\nSubject: via bs\r\n\r\n..x\r\n"
                    ".\r\nQUIT\r\n" % USER)
    out = proc.stdout.decode()
    assert out.startswith("220 "), out
    assert "250 2.0.0 Ok: queued" in out, out
    assert out.rstrip().endswith("221 2.0.0 Bye"), out
    got = wait_for(lambda: with_subject("via bs"), what="-bs message")
    assert b"\n.x\n" in got[0]


@tap.test
def bp_lists_the_queue():
    proc = sendmail(["-bp"], "")
    assert proc.returncode == 0, proc


@tap.test
def unprivileged_user_writes_maildrop_through_group_postdrop():
    """What setgid postdrop gives sendmail: a user whose group is postdrop
    can create in maildrop/ (01730) without reading it; qmgr takes it."""
    if not IS_ROOT:
        return "skip"
    try:
        grp.getgrnam("postdrop")
    except KeyError:
        subprocess.run(["groupadd", "--system", "postdrop"], check=True)
    inst.stop()
    wait_for(lambda: not inst.all_pids(), what="instance stopped")
    inst.start()
    st = os.stat(os.path.join(inst.queue, "maildrop"))
    assert st.st_mode & 0o7777 == 0o1730, oct(st.st_mode)
    assert st.st_gid == grp.getgrnam("postdrop").gr_gid
    env = dict(os.environ, POSTILION_CONFIG_DIR=inst.conf)
    proc = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=postdrop", "--clear-groups",
         "--", SENDMAIL, "-t"],
        input=("To: %s\nSubject: from nobody\n\nhi\n" % USER).encode(),
        capture_output=True, env=env, timeout=30)
    assert proc.returncode == 0, proc
    got = wait_for(lambda: with_subject("from nobody"), what="nobody's mail")
    assert b"From: nobody@" in got[0], got[0][:400]


if __name__ == "__main__":
    try:
        rc = tap.run()
    finally:
        inst.destroy()
    sys.exit(rc)
