#!/usr/bin/python3
"""Runs a command on a pseudo-terminal and answers its prompts as a person would: each
answer is typed only once its prompt has appeared. Prints the terminal's transcript
(what the person saw) and exits with the command's status.
Usage: pty_answer.py PROMPT ANSWER [PROMPT ANSWER ...] -- COMMAND [ARGS...]"""
import os
import pty
import select
import sys
import time

split = sys.argv.index("--")
pairs = sys.argv[1:split]
command = sys.argv[split + 1:]
script = list(zip(pairs[0::2], pairs[1::2]))

pid, fd = pty.fork()
if pid == 0:
    os.execv(command[0], command)

seen = b""
deadline = time.time() + 60
while True:
    if time.time() > deadline:
        os.kill(pid, 9)
        break
    ready, _, _ = select.select([fd], [], [], 0.1)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    if script and script[0][0].encode() in seen.split(b"\x00")[-1]:
        prompt, answer = script.pop(0)
        time.sleep(0.1)   # the command turns echo off after printing its prompt
        os.write(fd, answer.encode() + b"\n")
        seen += b"\x00"   # answered: look for the next prompt after this point
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.replace(b"\x00", b"").decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
