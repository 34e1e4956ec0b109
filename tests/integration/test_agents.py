"""test_agents: qmgr keeps its connection to a delivery agent for the next
delivery. What must hold: mail is delivered once and without a deferral
however the agent leaves (max_use reached, SIGTERM while it waits, killed
with a request unread in its socket); max_use counts requests, not
connections; an unused connection is let go after a few seconds."""

import os
import re
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Instance, TAP, wait_for  # noqa: E402

MAX_USE = 3
inst = Instance(main_extra="max_use = %d\n" % MAX_USE)
tap = TAP(inst)
USER = "agent@example.test"


def send(n):
    """One message in its own session; returns its queue ID."""
    with smtplib.SMTP("127.0.0.1", inst.smtp_port, timeout=30) as s:
        s.ehlo("client.example.org")
        s.mail("sender@example.org")
        s.rcpt(USER)
        code, reply = s.data(("From: sender@example.org\r\nTo: %s\r\n"
                              "Subject: agent test %d\r\n\r\nbody %d\r\n"
                              % (USER, n, n)).encode())
    assert code == 250, (code, reply)
    return reply.decode().split()[-1]


def delivered(qid):
    inst.wait_log("%s: to=<%s>" % (qid, USER))
    return qid


def status_lines(qid):
    return [l for l in inst.log().splitlines()
            if "%s: to=<%s>" % (qid, USER) in l]


def local_agents():
    out = []
    for pid in inst.pids_of("deliver"):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"local" in argv:
            out.append(pid)
    return out


def qmgr_sockets():
    """Sockets qmgr holds: its listener and log, plus agent connections."""
    pid = inst.pids_of("qmgr")[0]
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def unread_in_socket_of(pid):
    """Bytes waiting unread in the UNIX stream sockets of pid (ss -x)."""
    out = subprocess.run(["ss", "-xpn"], capture_output=True, text=True,
                         check=True).stdout
    total = 0
    for line in out.splitlines():
        if "pid=%d," % pid in line:
            total += int(line.split()[2])
    return total


def no_deferral():
    bad = [l for l in inst.log().splitlines()
           if "status=deferred" in l or "lost connection with" in l]
    assert not bad, bad


def sent_once(qid):
    lines = status_lines(qid)
    assert len(lines) == 1, lines
    assert "status=sent" in lines[0], lines[0]
    return lines[0]


@tap.test
def setup_instance():
    inst.add_user(USER, "agent-pass")
    inst.start()
    inst.wait_log("daemon started")
    wait_for(lambda: inst.pids_of("qmgr"), what="qmgr")


@tap.test
def the_connection_is_kept_after_a_delivery_then_let_go():
    base = qmgr_sockets()
    for n in (1, 2):
        sent_once(delivered(send(n)))
    # Two deliveries in a row: one agent, one kept connection.
    assert qmgr_sockets() == base + 1, (qmgr_sockets(), base)
    start = time.time()
    wait_for(lambda: qmgr_sockets() == base, timeout=15,
             what="the idle connection closed")
    assert time.time() - start > 2, "closed at once, not kept"
    assert qmgr_sockets() == base


@tap.test
def max_use_counts_requests_on_one_connection():
    before = {}
    for l in inst.log().splitlines():
        m = re.search(r"/local\[(\d+)\]: \w+: to=<", l)
        if m:
            before[m.group(1)] = before.get(m.group(1), 0) + 1
    ids = []
    for n in range(100, 112):
        ids.append(send(n))
        delivered(ids[-1])
    per_pid = {}
    for qid in ids:
        m = re.search(r"/local\[(\d+)\]:", sent_once(qid))
        per_pid[m.group(1)] = per_pid.get(m.group(1), 0) + 1
    for pid, n in per_pid.items():
        assert n + before.get(pid, 0) <= MAX_USE, (pid, n, before)
    assert len(per_pid) >= len(ids) // MAX_USE, per_pid
    no_deferral()


@tap.test
def an_agent_stopped_while_it_waits_is_replaced_without_a_deferral():
    base_qid = send(200)
    delivered(base_qid)
    agents = local_agents()
    assert agents, "no local agent after a delivery"
    for pid in agents:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not any(p in local_agents() for p in agents),
             what="the agents gone")
    sent_once(delivered(send(201)))
    no_deferral()


@tap.test
def a_request_left_unread_by_a_killed_agent_goes_to_another():
    # Fresh agents: the one that delivers keeps its connection and has
    # uses left before max_use.
    for pid in local_agents():
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not local_agents(), what="no local agent")
    delivered(send(300))
    agents = local_agents()
    assert agents, "no local agent after a delivery"
    for pid in agents:
        os.kill(pid, signal.SIGSTOP)
    try:
        qid = send(301)
        # qmgr sends the request on the kept connection: it sits unread.
        wait_for(lambda: any(unread_in_socket_of(p) > 0 for p in agents),
                 timeout=10,
                 what="the request waiting in a stopped agent's socket")
    finally:
        for pid in agents:
            os.kill(pid, signal.SIGKILL)
    line = sent_once(delivered(qid))
    assert not any("/local[%d]" % p in line for p in agents), line
    no_deferral()


@tap.test
def no_warnings_but_the_killed_agent():
    bad = [l for l in inst.bad_log_lines()
           if "signal 9" not in l and "killed by signal" not in l]
    assert not bad, bad


if __name__ == "__main__":
    try:
        rc = tap.run()
    finally:
        inst.destroy()
    sys.exit(rc)
