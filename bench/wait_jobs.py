"""Waits for a generation's upload job, then its validation job, to finish.

Usage: wait_jobs.py DB T0 UPLOAD_JOB VALIDATION_JOB
Prints the seconds from T0 (a Unix time) at which the upload job turned
`finished` (the file is ready) and at which the validation job did (the
status route answers `finished`). One read-only connection polls every
10 ms, so the wait costs the 2-core machine next to nothing (the shell loop
it replaces started two sqlite3 processes per poll).
"""
import sqlite3
import sys
import time

db, t0, upload, validation = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None, timeout=10)
query = "SELECT job_id, job_status FROM jobs WHERE job_id IN (?, ?)"
file_ready = None
while True:
    states = dict(conn.execute(query, (upload, validation)).fetchall())
    now = time.time()
    if states.get(upload) == "failed" or states.get(validation) == "failed":
        sys.exit("generation failed")
    if states.get(upload) == "finished" and file_ready is None:
        file_ready = now - t0
    if states.get(validation) == "finished" and file_ready is not None:
        print(f"{file_ready:.3f} {now - t0:.3f}")
        break
    time.sleep(0.01)
