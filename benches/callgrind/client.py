#!/usr/bin/env python3
"""Sends N canonical disconnects on one keep-alive connection: client.py PORT TOKEN N."""
import http.client, sys
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = b'{"action":"disconnect","backend":"mqtt","target":{"client_id":"c1"}}'
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
bad = 0
for i in range(n):
    conn.request("POST", "/v1/actions", body, {"authorization": "Bearer " + token, "content-type": "application/json"})
    r = conn.getresponse(); r.read()
    if r.status != 200: bad += 1
print("sent", n, "non-200", bad)
sys.exit(1 if bad else 0)
