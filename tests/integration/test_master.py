"""test_master: the supervisor itself: status, crash-loop throttling,
reload on SIGHUP, refusal of a bad master.cf, and a clean stop."""

import os
import signal
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Instance, TAP, free_port, wait_for  # noqa: E402

crash_port = free_port()
# imapd with an invalid parameter exits at startup: a perfect crash loop.
inst = Instance(master_extra="127.0.0.1:%d inet n - n - 5 imapd"
                " -o imapd_nesting_limit=1\n" % crash_port)
tap = TAP(inst)


@tap.test
def status_before_start_says_not_running():
    out = inst.cli("status", check=False)
    assert out.returncode == 1, out
    assert "not running" in out.stdout + out.stderr


@tap.test
def start_and_status():
    inst.start()
    out = inst.cli("status")
    assert "is running" in out.stdout + out.stderr and str(inst.master_pid) in out.stdout + out.stderr, out
    again = inst.cli("start", check=False)
    assert again.returncode != 0, "second start must fail while running"


@tap.test
def crash_loop_is_throttled():
    import socket
    for _ in range(3):
        try:
            socket.create_connection(("127.0.0.1", crash_port), timeout=2).close()
        except OSError:
            pass
        time.sleep(0.2)
    inst.wait_log("bad command startup -- throttling")
    # Throttled: within the throttle time, few children are started.
    log = inst.log()
    starts = log.count("bad command startup -- throttling")
    assert 1 <= starts <= 3, starts


@tap.test
def reload_applies_new_config():
    with open(os.path.join(inst.conf, "main.cf"), "a") as f:
        f.write("smtpd_banner = $myhostname ESMTP reloaded-banner\n")
    old_smtpd = set(inst.pids_of("smtpd"))
    inst.cli("reload")
    inst.wait_log("reload -- version")
    import socket
    def greeting():
        c = socket.create_connection(("127.0.0.1", inst.smtp_port), timeout=10)
        line = c.makefile("rb").readline()
        c.close()
        return b"reloaded-banner" in line
    wait_for(greeting, timeout=20, what="new banner after reload")
    for pid in old_smtpd:
        wait_for(lambda: not os.path.exists("/proc/%d" % pid) or
                 open("/proc/%d/stat" % pid).read().split()[2] == "Z",
                 timeout=20, what="old smtpd %d gone" % pid)


@tap.test
def bad_master_cf_line_is_reported_with_file_and_line():
    path = os.path.join(inst.conf, "master.cf")
    with open(path) as f:
        good = f.read()
    with open(path, "a") as f:
        f.write("broken line here\n")
    out = inst.cli("check", check=False)
    nlines = good.count("\n") + 1
    assert out.returncode != 0, out
    assert "master.cf, line %d" % nlines in out.stdout + out.stderr, (out, nlines)
    # A reload with the broken file keeps the old configuration running.
    inst.cli("reload")
    inst.wait_log("master.cf, line %d" % nlines)
    assert inst.port_open(inst.smtp_port)
    with open(path, "w") as f:
        f.write(good)


@tap.test
def stop_leaves_nothing():
    pids = inst.all_pids()
    out = inst.cli("stop")
    inst.master_pid = None
    wait_for(lambda: not inst.all_pids(), timeout=30, what="no processes")
    assert "stopping" in out.stdout + out.stderr
    out = inst.cli("stop", check=False)
    assert out.returncode != 0
    assert pids


if __name__ == "__main__":
    try:
        rc = tap.run()
    finally:
        inst.destroy()
    sys.exit(rc)
