#!/usr/bin/env python3
"""Status latency and server memory while hostile clients hold connections.

Usage (from bench/hostile.sh): hostile.py BIN DATA_DIR PORT
Starts `serve --demo`, then measures 200 check_generation_status requests,
each on a fresh connection, in four situations, in this order: quiet; 16
clients flooding /v1/login/ with wrong passwords; 300 slow clients (partial
heads, partial bodies, declared bodies never sent); 16 clients pipelining
requests without reading the answers. Prints p50/p99/max per situation, the
login answers per second, and the server's peak RSS after each situation
(VmHWM: the peak since start, so the figure after the flood is the flood's).
"""
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

BIN, DATA, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
BASE = f"http://127.0.0.1:{PORT}"


def post(path, body, token=None):
    req = urllib.request.Request(BASE + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"x-session-id": token} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def status_times(token, n=200):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        req = urllib.request.Request(BASE + "/v1/check_generation_status/?submission_id=1&file_type=D1",
                                     headers={"x-session-id": token})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
            r.read()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times


def report(label, times):
    p99 = times[int(len(times) * 0.99) - 1]
    print(f"{label:<40} p50 {statistics.median(times):6.2f} ms  p99 {p99:6.2f} ms  max {times[-1]:6.2f} ms",
          flush=True)


def rss_mib(pid, field="VmHWM"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024


def peak_rss_mib(pid):
    return rss_mib(pid, "VmHWM")


def main():
    server = subprocess.Popen([BIN, "serve", "--demo", "--data-dir", DATA, "--listen", f"127.0.0.1:{PORT}"],
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                urllib.request.urlopen(BASE + "/v1/session/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.01)
        token = post("/v1/login/", {"username": "submitter@broker.local",
                                    "password": "submitter-demo-pw"})[1]["session_id"]
        report("quiet", status_times(token))
        print(f"  peak RSS so far: {peak_rss_mib(server.pid):.0f} MiB")

        stop = time.monotonic() + 10
        answers = []

        def flood():
            while time.monotonic() < stop:
                answers.append(post("/v1/login/", {"username": "writer@broker.local", "password": "guess"})[0])

        samples = []

        def sample():
            while time.monotonic() < stop:
                samples.append(rss_mib(server.pid, "VmRSS"))
                time.sleep(0.05)

        threads = [threading.Thread(target=flood) for _ in range(16)] + [threading.Thread(target=sample)]
        for t in threads:
            t.start()
        time.sleep(1)
        report("16 clients flooding /v1/login/", status_times(token))
        for t in threads:
            t.join()
        print(f"  RSS during the flood: max {max(samples):.0f} MiB of {len(samples)} samples")
        codes = {c: answers.count(c) for c in sorted(set(answers))}
        print(f"  login flood: {len(answers)} answers in 10 s ({len(answers) / 10:.0f}/s), by status {codes}")
        print(f"  peak RSS so far: {peak_rss_mib(server.pid):.0f} MiB")

        slow = []
        for i in range(300):
            s = socket.create_connection(("127.0.0.1", PORT))
            if i % 3 == 0:
                s.sendall(b"POST /v1/generate_file/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 1100)
            elif i % 3 == 1:
                s.sendall(b"GET /v1/session/ HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
            else:
                s.sendall(b"GET /v1/session/ HTTP/1.1\r\nX-Slow: ")
            slow.append(s)
        report("300 slow clients holding connections", status_times(token))
        print(f"  peak RSS so far: {peak_rss_mib(server.pid):.0f} MiB")
        for s in slow:
            s.close()

        pipeliners = []
        for _ in range(16):
            s = socket.create_connection(("127.0.0.1", PORT))
            s.settimeout(0.2)
            try:
                for _ in range(400):
                    s.sendall(b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
            except OSError:
                pass
            pipeliners.append(s)
        report("16 clients pipelining, never reading", status_times(token))
        print(f"  peak RSS so far: {peak_rss_mib(server.pid):.0f} MiB")
        for s in pipeliners:
            s.close()
    finally:
        server.terminate()
        server.wait()


main()
