#!/usr/bin/env python3
"""`./sparrow up` end to end: the whole stack starts on the chosen ports, a child killed with
SIGKILL is restarted, and Ctrl-C (SIGINT to the process group, as a terminal sends it) stops
everything, leaving no process and no pid file behind."""
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.environ.get("SPARROW_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("SPARROW_BUILD_DIR") or os.path.join(ROOT, "build")


def bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_ports(count):
    """`count` consecutive free ports below the kernel's ephemeral range: the other tests take
    theirs with bind(0), from the ephemeral range, so they cannot take these between our check
    and the launcher's bind (the launcher uses HTTP+1..+4 for metrics and MariaDB)."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError):
        pass
    rng = random.Random()
    for _ in range(1000):
        base = rng.randrange(10000, max(10001, low - count))
        if all(bindable(p) for p in range(base, base + count)):
            return list(range(base, base + count))
    raise AssertionError("no free port range")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[1].split()[0] != "Z"


def wait_until(pred, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def main():
    cluster = "--cluster" in sys.argv[1:]
    data = tempfile.mkdtemp(prefix="sparrow-up-test-")
    mqtt, mqtt2, http = free_ports(7)[0:3]  # http .. http + 4 are the last five
    env = dict(os.environ, SPARROW_DATA_DIR=data, SPARROW_MQTT_PORT=str(mqtt),
               SPARROW_MQTT_PORT_2=str(mqtt2), SPARROW_HTTP_PORT=str(http),
               SPARROW_BUILD_DIR=BUILD)
    command = [os.path.join(ROOT, "sparrow"), "up"] + (["--cluster"] if cluster else [])
    launcher = subprocess.Popen(command, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    output = []
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            line = launcher.stdout.readline()
            if not line:
                break
            output.append(line)
            if "press Ctrl-C" in line:
                break
        assert any("press Ctrl-C" in l for l in output), "".join(output)
        names = ["mosquitto", "authsvc", "bridge", "offline"]
        if cluster:
            names += ["mariadb", "mosquitto2", "bridge2"]
        pids = {}
        for name in names:
            with open(os.path.join(data, "run", f"{name}.pid")) as f:
                pids[name] = int(f.read())
            assert alive(pids[name]), f"{name} is not running"
            assert os.path.exists(os.path.join(data, "log", f"{name}.log")), name
        assert listening(mqtt), "the broker does not listen on SPARROW_MQTT_PORT"
        if cluster:
            assert listening(mqtt2), "the second broker does not listen on SPARROW_MQTT_PORT_2"
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/healthz", timeout=5) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{http + 1}/metrics", timeout=5) as r:
            assert b"sparrow_bridge_frames_in_total" in r.read()

        # A child that dies is restarted.
        os.kill(pids["bridge"], signal.SIGKILL)
        pidfile = os.path.join(data, "run", "bridge.pid")

        def restarted():
            try:
                with open(pidfile) as f:
                    pid = int(f.read())
            except (OSError, ValueError):
                return False
            return pid != pids["bridge"] and alive(pid)
        wait_until(restarted, 20, "the bridge to be restarted")
        with open(pidfile) as f:
            pids["bridge"] = int(f.read())

        # Ctrl-C: SIGINT to the whole foreground process group.
        os.killpg(launcher.pid, signal.SIGINT)
        rest, _ = launcher.communicate(timeout=60)
        output.append(rest)
        assert launcher.returncode == 0, f"exit code {launcher.returncode}"
        for name, pid in pids.items():
            wait_until(lambda: not alive(pid), 10, f"{name} to stop")
        leftovers = os.listdir(os.path.join(data, "run"))
        assert not leftovers, f"pid files left: {leftovers}"
        assert not listening(mqtt), "the broker still listens"
        print("launcher: up, restart and Ctrl-C all behaved")
        return 0
    except Exception:
        print("".join(output), file=sys.stderr)
        raise
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
        subprocess.run(["pkill", "-KILL", "-f", data], check=False)
        subprocess.run(["rm", "-rf", data], check=False)


if __name__ == "__main__":
    sys.exit(main())
