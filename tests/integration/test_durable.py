"""test_durable: what has been reported cannot be taken back by a power
cut. smtpd's 250 means the queue file and its incoming/ name are on disk;
the delivery agent's success means the Maildir file and its new/ name
are. Each is checked on a loop-mounted ext4 image, with a journal (where
one fsync of the file also commits its new name: lib/core/fileutil.c
fsync_covers_names) and without one (the file and its directory are both
synced): right after the report the file system is shut down without
flushing its journal (EXT4_IOC_SHUTDOWN, NOLOGFLUSH: nothing more reaches
the device) and the image is copied, as a power cut would leave the disk;
the copy is mounted (a journal replays) and the message must be there,
whole. On the journaled image each step also costs exactly one journal
commit."""

import fcntl
import os
import re
import shutil
import signal
import smtplib
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, Instance, TAP, VMAIL_OWNER, wait_for  # noqa: E402

import pwd  # noqa: E402

USER = "alice@example.test"
EXT4_IOC_SHUTDOWN = 0x8004587D          # _IOR('X', 125, __u32)
EXT4_GOING_FLAGS_NOLOGFLUSH = 2
LINES = 200

mailer = Instance()     # Maildirs on the image
queuer = Instance()     # queue_directory on the image
tap = TAP(mailer)
IMAGES = tempfile.mkdtemp(prefix="postilion-images-")
state = {"mounts": [], "usable": None}
# The parts of each log from a round's start to its power cut (after a
# cut, errors are what a dead disk gives and are not checked).
checked = []


def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True)


def usable():
    """Root, mkfs.ext4 and loop mounts: the machine can run this file."""
    if state["usable"] is None:
        img = os.path.join(IMAGES, "probe.img")
        mnt = os.path.join(IMAGES, "probe")
        os.makedirs(mnt, exist_ok=True)
        ok = IS_ROOT and shutil.which("mkfs.ext4") is not None
        if ok:
            with open(img, "wb") as f:
                f.truncate(8 << 20)
            ok = run("mkfs.ext4", "-q", "-F", img).returncode == 0 and \
                run("mount", "-o", "loop", img, mnt).returncode == 0
            if ok:
                run("umount", mnt)
        state["usable"] = ok
    return state["usable"]


def mount_options(journal):
    # commit=600: the periodic commit of a journal stays out of the way.
    return "loop,commit=600" if journal else "loop"


def mount_image(path, journal):
    """A fresh ext4 image mounted on path, owned and moded as path was."""
    img = os.path.join(IMAGES, "%s-%s.img" % (os.path.basename(path),
                                               "j" if journal else "nj"))
    with open(img, "wb") as f:
        f.truncate(64 << 20)
    argv = ["mkfs.ext4", "-q", "-F"] + ([] if journal else ["-O", "^has_journal"])
    r = run(*(argv + [img]))
    assert r.returncode == 0, r.stderr
    os.makedirs(path, exist_ok=True)
    st = os.stat(path)
    r = run("mount", "-o", mount_options(journal), img, path)
    assert r.returncode == 0, r.stderr
    state["mounts"].append(path)
    os.chown(path, st.st_uid, st.st_gid)
    os.chmod(path, st.st_mode & 0o7777)
    return img


def unmount_all():
    while state["mounts"]:
        run("umount", state["mounts"].pop())


def jbd2_transactions(path):
    dev = run("findmnt", "-n", "-o", "SOURCE", "--target", path).stdout.strip()
    with open("/proc/fs/jbd2/%s-8/info" % os.path.basename(dev)) as f:
        return int(f.readline().split()[0])


def body(subject):
    return "Subject: %s\r\n\r\n%s" % (subject, "durable line\r\n" * LINES)


def whole(data, subject):
    return ("Subject: " + subject).encode() in data and \
        data.count(b"durable line") == LINES


def send(inst, subject):
    """One message; the queue ID from smtpd's 250."""
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as c:
        c.ehlo()
        c.mail("sender@example.org")
        c.rcpt(USER)
        code, msg = c.data(body(subject))
    assert code == 250, (code, msg)
    return re.search(rb"queued as (\w+)", msg).group(1).decode()


def stop(inst):
    """Stop, and wait until none of its processes (the chrooted ones
    hold the mount) is left. With its queue on a dead disk the CLI
    cannot read master's pid file: then master, and anything left, is
    killed by PID."""
    pid = inst.master_pid
    inst.stop()
    try:
        wait_for(lambda: not inst.all_pids(), timeout=5, what="stopped")
    except AssertionError:
        for p in [pid] + inst.all_pids():
            try:
                os.kill(p, signal.SIGKILL)
            except (OSError, TypeError):
                pass
        wait_for(lambda: not inst.all_pids(), what="instance killed")


def power_cut(inst, since, path, img, journal):
    """Shut the file system at path down and copy its image; returns the
    mount point of the copy (journal replayed)."""
    checked.append((inst, since, len(inst.log())))
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, EXT4_IOC_SHUTDOWN,
                    struct.pack("I", EXT4_GOING_FLAGS_NOLOGFLUSH))
    finally:
        os.close(fd)
    crashed = img + ".crash"
    shutil.copyfile(img, crashed)
    mnt = os.path.join(IMAGES, "crash-" + os.path.basename(img))
    os.makedirs(mnt, exist_ok=True)
    r = run("mount", "-o", mount_options(journal), crashed, mnt)
    assert r.returncode == 0, r.stderr
    state["mounts"].append(mnt)
    return mnt


def maildir_round(journal):
    if not usable():
        return "skip"
    img = mount_image(mailer.mail, journal)
    start = len(mailer.log())
    try:
        mailer.start()
        warm = send(mailer, "warm-up")  # the Maildir exists, the agent runs
        mailer.wait_log("%s: removed" % warm, since=start)
        time.sleep(0.2)
        before = jbd2_transactions(mailer.mail) if journal else None
        subject = "durable delivery %s journal" % ("with" if journal else "without")
        since = len(mailer.log())
        qid = send(mailer, subject)
        mailer.wait_log("%s: to=<%s>, relay=local" % (qid, USER), since=since)
        assert "status=sent" in mailer.log()[since:], mailer.log()[since:]
        if journal:
            assert jbd2_transactions(mailer.mail) - before == 1, \
                "one journal commit per delivery"
        mnt = power_cut(mailer, start, mailer.mail, img, journal)
        local, domain = USER.split("@")
        new = os.path.join(mnt, domain, local, "new")
        files = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                files.append(f.read())
        assert any(whole(m, subject) for m in files), [m[:200] for m in files]
    finally:
        stop(mailer)
        unmount_all()


def queue_round(journal):
    if not usable():
        return "skip"
    img = mount_image(queuer.queue, journal)
    start = len(queuer.log())
    qmgr = None
    try:
        queuer.start()
        # qmgr held: what smtpd committed stays in incoming/, untouched.
        qmgr = queuer.pids_of("qmgr")[0]
        os.kill(qmgr, signal.SIGSTOP)
        send(queuer, "warm-up")
        time.sleep(0.2)
        before = jbd2_transactions(queuer.queue) if journal else None
        subject = "durable acceptance %s journal" % ("with" if journal else "without")
        qid = send(queuer, subject)
        if journal:
            assert jbd2_transactions(queuer.queue) - before == 1, \
                "one journal commit per accepted message"
        mnt = power_cut(queuer, start, queuer.queue, img, journal)
        path = os.path.join(mnt, "incoming", qid)
        assert os.path.exists(path), os.listdir(os.path.join(mnt, "incoming"))
        with open(path, "rb") as f:
            data = f.read()
        # Every record there, the END record last.
        assert whole(data, subject) and data.endswith(b"E\0\0\0\0"), data[-300:]
    finally:
        if qmgr is not None:
            os.kill(qmgr, signal.SIGCONT)
        stop(queuer)
        unmount_all()


@tap.test
def setup_users():
    for inst in (mailer, queuer):
        inst.add_user(USER, "alice-pw")
    if IS_ROOT:
        pw = pwd.getpwnam(VMAIL_OWNER)
        os.makedirs(mailer.mail, exist_ok=True)
        os.chown(mailer.mail, pw.pw_uid, pw.pw_gid)


@tap.test
def a_250_survives_a_power_cut_on_a_journaled_ext4():
    return queue_round(journal=True)


@tap.test
def a_250_survives_a_power_cut_on_an_ext4_without_journal():
    return queue_round(journal=False)


@tap.test
def a_reported_delivery_survives_a_power_cut_on_a_journaled_ext4():
    return maildir_round(journal=True)


@tap.test
def a_reported_delivery_survives_a_power_cut_on_an_ext4_without_journal():
    return maildir_round(journal=False)


@tap.test
def no_warnings_or_fatals_before_the_cuts():
    for inst, since, until in checked:
        log = inst.log()[since:until]
        bad = [l for l in log.splitlines() if "fatal:" in l or "warning:" in l]
        assert not bad, bad


try:
    rc = tap.run()
finally:
    try:
        for inst in (mailer, queuer):
            inst.destroy()
    finally:
        unmount_all()
        shutil.rmtree(IMAGES, ignore_errors=True)
sys.exit(rc)
