#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A process whose memory the test grows: hog.py TRIGGER MB; once TRIGGER
exists it allocates (and touches) MB megabytes, then idles."""
import os
import sys
import time

held = []
while True:
    if not held and os.path.exists(sys.argv[1]):
        held.append(b"\x01" * (int(sys.argv[2]) * 1024 * 1024))  # written: resident
    time.sleep(0.05)
